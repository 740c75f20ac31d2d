"""One configuration tree (data, model, training, generation), round-tripping through JSON.

``Config.from_json(Config().to_json()) == Config()``. Unknown keys are an error that
names the key, so a typo in a config file never passes silently, and every number is
checked against :data:`RANGES` (a NaN or negative learning rate would otherwise train to
garbage and exit 0).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from actiongen_keras.errors import ConfigError

# (low, high, low_inclusive): the allowed range of each number; None = unbounded on that side.
# Every float must also be finite. Numbers not listed only need to be finite.
RANGES = {
    "data.tick_ms": (0, None, False),
    "data.history_ticks": (1, None, True),
    "data.target_ms": (0, None, False),
    "data.max_history_events": (1, None, True),
    "data.max_actions": (1, None, True),
    "data.min_move_interval_ms": (0, None, True),
    "data.stride_ticks": (1, None, True),
    "data.max_anchors": (0, None, True),
    "data.max_idle_ms": (0, None, True),
    "model.d_model": (1, None, True),
    "model.num_heads": (1, None, True),
    "model.num_layers": (1, None, True),
    "model.ff_dim": (1, None, True),
    "model.dropout": (0, 1, True),  # [0, 1)
    "model.num_xy_mixtures": (1, None, True),
    "model.num_timing_components": (1, None, True),
    "model.key_embedding_dim": (1, None, True),
    "model.xy_input_noise": (0, None, True),
    "model.xy_offset_scale": (0, None, False),
    "model.xy_sigma_floor": (0, None, False),
    "model.xy_dequantize_px": (0, None, True),
    "train.epochs": (1, None, True),
    "train.batch_size": (1, None, True),
    "train.learning_rate": (0, None, False),
    "train.clipnorm": (0, None, False),
    "train.early_stopping_patience": (0, None, True),
    "train.loss_weights.*": (0, None, True),
    "train.self_feed": (0, 1, True),  # [0, 1)
    "train.intra_op_threads": (0, None, True),
    "train.self_feed_recovery": (0, 1, True),  # [0, 1]
    "generation.temperature": (0, None, True),
    "generation.top_k": (0, None, True),
    "generation.top_p": (0, 1, False),  # (0, 1]: checked below
    "generation.xy_noise_corr": (0, 1, True),  # [0, 1)
    "generation.xy_top_p": (0, 1, False),  # (0, 1]: checked below
    "generation.best_of": (1, None, True),
    "splits.min_subjects": (2, None, True),
}
_HIGH_INCLUSIVE = {"train.self_feed_recovery", "generation.top_p", "generation.xy_top_p"}


def check_number(name, value, rng=None):
    """Raise ConfigError unless ``value`` is a finite number inside ``rng`` (``RANGES`` format)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if rng is None:
        return value
    low, high, low_inclusive = rng
    high_inclusive = name in _HIGH_INCLUSIVE
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise ConfigError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise ConfigError(f"{name} must be {'<=' if high_inclusive else '<'} {high}, got {value!r}")
    return value


@dataclasses.dataclass
class DataConfig:
    """How sessions become windows (see ``actiongen_keras.data.features`` for the tensors)."""

    tick_ms: float = 600.0
    history_ticks: int = 10  # 10 ticks x 600 ms = 6 s of context
    target_ms: float = 600.0  # predict the next 600 ms
    max_history_events: int = 128  # the most recent events of the 6 s are kept
    max_actions: int = 48  # target events per window before the end-of-sequence token
    min_move_interval_ms: float = 0.0  # thin dense move streams (0 = keep all); drops are reported
    stride_ticks: int = 1  # one window per tick boundary
    max_anchors: int = 8  # declared on-screen state points per window (features.py, "Anchors")
    # drop windows whose last event before T is more than this long ago (0 = keep all): a break longer
    # than the history has nothing to condition on, and taught as it is it makes silence absorbing in
    # closed loop (README, "Click targets on SapiMouse")
    max_idle_ms: float = 0.0


@dataclasses.dataclass
class ModelConfig:
    """Architecture sizes. Vocabulary/feature sizes come from the dataset (``dataset_meta``)."""

    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 1  # per attention block
    ff_dim: int = 128
    dropout: float = 0.1
    efficient_attention: bool = False  # linear-in-history attention for long, dense histories
    num_xy_mixtures: int = 4
    num_timing_components: int = 3  # mixture components per timing scale
    timing_boundaries_ms: tuple = (100.0, 300.0)  # fast < b0 <= medium < b1 <= slow; None = from data
    key_embedding_dim: int = 16
    xy_input_noise: float = 0.0  # training only: Gaussian noise (screen units) on input positions (hist_xy, dec_xy)
    xy_head: str = "velocity"  # "velocity": means continue the cursor's last step; "absolute": the earlier head (ablation)
    xy_frame: str = "screen"  # the xy spreads: "screen" (x, y), "motion" (along, across the last step), "polar" (step length and turn) or "polar_factored" (length and turn from mixtures of their own)
    xy_offset_scale: float = 0.01  # screen units per raw unit of the xy means' offsets (layers/context_aware_generator.py)
    xy_sigma_floor: float = 5e-5  # screen units (0.07-0.1 px on 1339-1920 px screens): the smallest xy spread
    xy_dequantize_px: float = 1.0  # training only: targets spread over this many recorder pixels (layers/pixel_dequantization.py); 0 = off
    # each anchor's own say in the event type (layers/state_anchor_query.py, event_bias): a logit bias
    # per event class read from each anchor's pair embedding, so a press hears its target's distance
    anchor_event_bias: bool = False
    # the cursor's last step (its length, whether it stood still, its direction) fed to the attribute
    # heads (layers/context_aware_generator.py, step_features): the event embedding cannot resolve it
    # (README, "Step context and a turn of its own"). Off by default: on osu! it aims worse after
    # more than one epoch (README, "The step context as a default")
    step_context: bool = False


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    clipnorm: float = 1.0
    seed: int = 1234
    early_stopping_patience: int = 3
    progressive: bool = False
    jit_compile: str | bool = "auto"
    # Keras's run_eagerly: every step runs as Python, no graph is traced. Slower per step, but
    # tracing the graph costs more than a few steps on a tiny dataset (the tests use it); also
    # for debugging a layer with print / pdb.
    run_eagerly: bool = False
    # TensorFlow threads per op (training/threads.py): 1 runs the step's many small ops side by side
    # instead of splitting each over the cores (1.21x on 2 cores, README Speed); 0 = TensorFlow's choice.
    intra_op_threads: int = 1
    # Probability that a move's decoder position is the model's own draw (parallel scheduled
    # sampling, training/self_feed.py); 0 = teacher forcing only.
    self_feed: float = 0.0
    # Self-feeding: the share of a drawn position's deviation that the targets take back per step
    # (training/self_feed.py); 1 = the next target is the real position (a one-step return).
    self_feed_recovery: float = 1.0
    loss_weights: dict = dataclasses.field(
        default_factory=lambda: {"event_type": 1.0, "timing": 1.0, "xy": 1.0, "button": 0.5, "key": 0.5, "scroll": 0.5, "dwell": 0.5,
                                 "seq_len": 0.5}
    )


@dataclasses.dataclass
class GenerationConfig:
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    xy_noise_corr: float = 0.0  # correlation of consecutive moves' position noise (generation/sampler.py)
    xy_top_p: float = 1.0  # nucleus over each move's position-mixture component (generation/sampler.py)
    # windows drawn per window, the one nearest to its anchors kept (generation/best_of.py): 4 against 1 trebled the pace
    # of SapiMouse task rollouts and raised osu! hits on unseen maps 1.3-1.7x, the detector no worse (README, Generation);
    # rollout() and act() in Python take best_of=, default 1 (one draw)
    best_of: int = 4
    seed: int | None = None


COMPILED_SAMPLING = ("top_k", "top_p", "xy_noise_corr", "xy_top_p")
"""The ``generation`` options compiled into a sampling loop (an export's ``generate`` signature);
``temperature`` and ``seed`` are the loop's inputs."""

SPLIT_MODES = ("auto", "subject", "map", "blocks")


def check_fractions(fractions, name="splits.fractions"):
    """``(train, validation, test)`` as floats, or ConfigError: three finite numbers >= 0 that
    sum to 1, with train and test above 0 (a model needs training data and a test split)."""
    shown = ",".join(str(f) for f in fractions) if isinstance(fractions, (list, tuple)) else repr(fractions)
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be three numbers (train, validation, test), got {shown}") from None
    if len(values) != 3 or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ConfigError(f"{name} must be three finite numbers >= 0 (train, validation, test), got {shown}")
    if abs(sum(values) - 1) > 1e-6:
        raise ConfigError(f"{name} must sum to 1, got {shown} (sum {sum(values):g})")
    if values[0] == 0 or values[2] == 0:
        raise ConfigError(f"{name}: train and test must be > 0, got {shown}")
    return values


@dataclasses.dataclass
class SplitConfig:
    """How ``actiongen dataset build`` splits sessions (``actiongen_keras/data/splits.py``).

    The default test share of 0.2 gives SapiMouse's 72 people 15 test people: the detector's
    human floor needs 8 (``evaluation/detector.py``) and a floor on 4 would say nothing.
    """

    fractions: tuple = (0.7, 0.1, 0.2)  # train, validation, test
    mode: str = "auto"  # auto | subject | map | blocks (splits.py says what each does)
    min_subjects: int = 10  # fewer people than this: no person-disjoint split of a source


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    splits: SplitConfig = dataclasses.field(default_factory=SplitConfig)

    def to_dict(self):
        return dataclasses.asdict(self)

    def check(self):
        """Raise ConfigError naming the first value out of :data:`RANGES` (or not finite); returns self."""
        for section, values in self.to_dict().items():
            for key, v in values.items():
                name = f"{section}.{key}"
                if isinstance(v, dict):
                    for k2, v2 in v.items():
                        check_number(f"{name}.{k2}", v2, RANGES.get(f"{name}.*"))
                elif isinstance(v, (list, tuple)):
                    for i, v2 in enumerate(v):
                        check_number(f"{name}[{i}]", v2)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    check_number(name, v, RANGES.get(name))
        check_fractions(self.splits.fractions)
        if self.splits.mode not in SPLIT_MODES:
            raise ConfigError(f"splits.mode must be one of {', '.join(SPLIT_MODES)}, got {self.splits.mode!r}")
        return self

    def to_json(self, path=None):
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
        parts = {}
        for f in dataclasses.fields(cls):
            sub = d.get(f.name, {})
            parts[f.name] = _build(f.default_factory, sub, f.name)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config section(s): {sorted(unknown)}")
        return cls(**parts).check()

    @classmethod
    def from_json(cls, text_or_path):
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.exists():
                raise ConfigError(f"{path}: no such config file")
            text = path.read_text()
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"config is not valid JSON (line {e.lineno}: {e.msg})") from None


def _build(factory, values, section):
    default = factory()
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{section}' must be an object")
    names = {f.name: f for f in dataclasses.fields(default)}
    unknown = set(values) - set(names)
    if unknown:
        raise ConfigError(f"unknown key(s) in config section '{section}': {sorted(unknown)}")
    kwargs = {}
    for k, v in values.items():
        current = getattr(default, k)
        if isinstance(current, tuple) and isinstance(v, list):
            v = tuple(v)
        if isinstance(current, bool) != isinstance(v, bool) and current is not None and not isinstance(current, (str,)):
            raise ConfigError(f"{section}.{k} must be {type(current).__name__}, got {v!r}")
        if isinstance(current, (int, float)) and not isinstance(current, bool):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ConfigError(f"{section}.{k} must be a number, got {v!r}")
            if isinstance(current, int) and isinstance(v, float) and not (math.isfinite(v) and v == int(v)):
                raise ConfigError(f"{section}.{k} must be a whole number, got {v!r}")
            v = type(current)(v)
        kwargs[k] = v
    return dataclasses.replace(default, **kwargs)
