"""``ActiongenHyperModel``: the search space over the attention model, and its mapping to a Config.

Hyperparameters (names as in ``results.csv``; default search space in :data:`DEFAULT_SPACE`):

==========================  ============================================================
``d_model``                 ``model.d_model``; ``model.ff_dim`` keeps the base config's
                            ``ff_dim / d_model`` ratio
``num_heads``               ``model.num_heads``; lowered to the largest divisor of
                            ``d_model`` when it does not divide it
``num_layers``              ``model.num_layers`` (per attention block)
``dropout``                 ``model.dropout``
``timing_boundaries``       ``model.timing_boundaries_ms``: ``"config"`` (keep the base
                            config's), ``"data"`` (``None``: terciles from the dataset's
                            interval quantiles) or a fixed pair ``"B0-B1"`` in ms
``efficient_attention``     ``model.efficient_attention``
``loss_weight_timing``      ``train.loss_weights["timing"]`` (event type stays 1: the scale)
``loss_weight_xy``          ``train.loss_weights["xy"]``
``loss_weight_seq_len``     ``train.loss_weights["seq_len"]``
``learning_rate``           ``train.learning_rate``
``batch_size``              ``train.batch_size`` (the training dataset is built at this
                            batch size in :meth:`ActiongenHyperModel.fit`)
==========================  ============================================================

KerasTuner's own bookkeeping values (``tuner/epochs``, ``tuner/trial_id``, ... of
Hyperband) are ignored by :func:`config_from_hparams`; any other unknown name is an error.
"""

from __future__ import annotations

import copy
import math
import time

import keras
import keras_tuner
import numpy as np

from actiongen_keras.config import Config
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.pipeline import make_dataset
from actiongen_keras.errors import ConfigError
from actiongen_keras.models import build_model
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.training.train import compile_model
from actiongen_keras.tuning.objective import OBJECTIVE, PARTS, ValidationScorer

DEFAULT_SPACE = {
    "d_model": [32, 64, 96, 128],
    "num_heads": [1, 2, 4, 8],
    "num_layers": [1, 2, 3],
    "dropout": [0.0, 0.1, 0.2, 0.3],
    "timing_boundaries": ["config", "data", "30-100", "50-200", "200-600"],
    "efficient_attention": [False, True],
    "loss_weight_timing": [0.5, 1.0, 2.0],
    "loss_weight_xy": [0.5, 1.0, 2.0],
    "loss_weight_seq_len": [0.25, 0.5, 1.0],
    "learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
    "batch_size": [32, 64, 128],
}
HP_NAMES = tuple(DEFAULT_SPACE)
LOSS_WEIGHT_HPS = {"loss_weight_timing": "timing", "loss_weight_xy": "xy", "loss_weight_seq_len": "seq_len"}


def largest_divisor_at_most(n, k):
    """The largest divisor of ``n`` that is ``<= k`` (at least 1)."""
    n, k = int(n), max(1, int(k))
    return max(d for d in range(1, min(n, k) + 1) if n % d == 0)


def _boundaries(value, base):
    if isinstance(value, (list, tuple)):
        return tuple(float(x) for x in value)
    if value is None or value == "data":
        return None
    if value == "config":
        return base
    try:
        b0, b1 = (float(x) for x in str(value).split("-"))
    except ValueError:
        raise ConfigError(f"timing_boundaries must be 'config', 'data' or 'B0-B1' (ms), got {value!r}") from None
    return (b0, b1)


def base_hparams(config):
    """The hyperparameter values that reproduce ``config`` (the search's defaults)."""
    lw = config.train.loss_weights
    return {
        "d_model": config.model.d_model,
        "num_heads": config.model.num_heads,
        "num_layers": config.model.num_layers,
        "dropout": config.model.dropout,
        "timing_boundaries": "config",
        "efficient_attention": config.model.efficient_attention,
        "loss_weight_timing": float(lw.get("timing", 1.0)),
        "loss_weight_xy": float(lw.get("xy", 1.0)),
        "loss_weight_seq_len": float(lw.get("seq_len", 1.0)),
        "learning_rate": config.train.learning_rate,
        "batch_size": config.train.batch_size,
    }


def config_from_hparams(base_config, hp_values):
    """A new :class:`Config`: ``base_config`` with the hyperparameter values applied.

    ``hp_values`` is a dict (or ``keras_tuner.HyperParameters``). Names missing from it
    keep the base config's value. The result always has ``d_model % num_heads == 0``.
    """
    if isinstance(hp_values, keras_tuner.HyperParameters):
        hp_values = hp_values.values
    unknown = sorted(k for k in hp_values if not str(k).startswith("tuner/") and k not in HP_NAMES)
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s): {unknown} (known: {list(HP_NAMES)})")
    c = copy.deepcopy(base_config)
    m, t = c.model, c.train
    v = dict(hp_values)
    if "d_model" in v:
        m.d_model = int(v["d_model"])
        ratio = base_config.model.ff_dim / base_config.model.d_model
        m.ff_dim = max(1, round(ratio * m.d_model))
    if "num_heads" in v:
        m.num_heads = int(v["num_heads"])
    m.num_heads = largest_divisor_at_most(m.d_model, m.num_heads)
    if "num_layers" in v:
        m.num_layers = int(v["num_layers"])
    if "dropout" in v:
        m.dropout = float(v["dropout"])
    if "timing_boundaries" in v:
        m.timing_boundaries_ms = _boundaries(v["timing_boundaries"], base_config.model.timing_boundaries_ms)
    if "efficient_attention" in v:
        m.efficient_attention = bool(v["efficient_attention"])
    weights = dict(t.loss_weights)
    for name, head in LOSS_WEIGHT_HPS.items():
        if name in v:
            weights[head] = float(v[name])
    t.loss_weights = weights
    if "learning_rate" in v:
        t.learning_rate = float(v["learning_rate"])
    if "batch_size" in v:
        t.batch_size = int(v["batch_size"])
    return c


def resolve_space(space=None):
    """``DEFAULT_SPACE`` updated with ``space`` (a dict of the same form; unknown names are errors)."""
    space = dict(space or {})
    unknown = sorted(set(space) - set(HP_NAMES))
    if unknown:
        raise ConfigError(f"unknown hyperparameter(s) in the search space: {unknown} (known: {list(HP_NAMES)})")
    out = dict(DEFAULT_SPACE)
    out.update(space)
    for name, spec in out.items():
        if isinstance(spec, (list, tuple)):
            if not spec:
                raise ConfigError(f"search space '{name}': empty list")
            nums = [x for x in spec if isinstance(x, (int, float)) and not isinstance(x, bool)]
            if len(nums) == len(spec) and any(isinstance(x, float) for x in nums):
                out[name] = [float(x) for x in spec]  # KerasTuner's Choice wants one type
            else:
                out[name] = list(spec)
        elif not (isinstance(spec, dict) and {"min", "max"} <= set(spec)):
            raise ConfigError(f"search space '{name}': a list of values or {{'min', 'max'[, 'sampling']}}, got {spec!r}")
    return out


def declare_hparams(hp, space, defaults):
    """Declare every hyperparameter of ``space`` on ``hp``; returns ``hp.values``."""
    for name in HP_NAMES:
        spec = space[name]
        default = defaults.get(name)
        if isinstance(spec, (list, tuple)):
            values = list(spec)
            if len(values) == 1:
                hp.Fixed(name, values[0])
            elif sorted(values, key=repr) == [False, True] and all(isinstance(x, bool) for x in values):
                hp.Boolean(name, default=bool(default) if isinstance(default, bool) else False)
            else:
                hp.Choice(name, values, default=default if default in values else None)
        else:
            lo, hi = spec["min"], spec["max"]
            ok = default is not None and lo <= default <= hi
            if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
                hp.Int(name, lo, hi, step=spec.get("step"), sampling=spec.get("sampling", "linear"), default=default if ok else None)
            else:
                hp.Float(name, float(lo), float(hi), step=spec.get("step"), sampling=spec.get("sampling", "linear"),
                         default=float(default) if ok else None)
    return hp.values


class SkillCallback(keras.callbacks.Callback):
    """Scores the model on the validation split after each epoch and puts ``val_skill`` in the logs.

    Must come before KerasTuner's own callbacks (they read the objective from the same
    ``logs`` dict). Keeps every epoch's parts in ``self.per_epoch``.
    """

    def __init__(self, scorer, config, meta):
        super().__init__()
        self.scorer, self.config, self.meta = scorer, config, meta
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        scores = self.scorer.score(self.model, self.config, self.meta)
        self.per_epoch.append((int(epoch), scores))
        if logs is not None:
            logs[OBJECTIVE] = scores[OBJECTIVE]

    def best(self):
        """``(epoch, scores)`` of the best epoch by ``val_skill`` (NaN counts as worst)."""
        if not self.per_epoch:
            return None, None
        key = lambda es: -math.inf if not np.isfinite(es[1][OBJECTIVE]) else es[1][OBJECTIVE]
        return max(self.per_epoch, key=key)


def train_and_score(model, config, meta, data_dir, scorer, epochs, initial_epoch=0, train_split="train",
                    callbacks=(), verbose=0, started=None):
    """``model.fit`` on ``train_split`` at ``config.train.batch_size``; ``val_skill`` every epoch.

    Returns a flat dict of floats: ``val_skill`` (best epoch), ``val_<part>`` and
    ``ratio_<part>`` at that epoch, ``best_epoch``, ``epochs_run``, ``trial_seconds``
    (from ``started``, default now) and ``parameters``.
    """
    started = time.perf_counter() if started is None else started
    t = config.train
    if t.self_feed:
        raise ConfigError("train.self_feed is not supported by the tuner (its trials train teacher-forced): set it to 0")
    train_ds = make_dataset(data_dir, train_split, t.batch_size, shuffle=True, seed=t.seed)
    skill = SkillCallback(scorer, config, meta)
    model.fit(
        train_ds,
        epochs=int(epochs),
        initial_epoch=int(initial_epoch),
        callbacks=[skill, keras.callbacks.TerminateOnNaN(), *callbacks],
        shuffle=False,  # the pipeline shuffles
        verbose=verbose,
    )
    epoch, scores = skill.best()
    if scores is None:
        raise keras_tuner.errors.FailedTrialError("no epoch finished: nothing to score")
    out = {k: float(v) for k, v in scores.items()}
    for part in PARTS:  # parts without a usable reference have no ratio; keep the columns
        out.setdefault(f"ratio_{part}", float("nan"))
    out.update(
        best_epoch=float(epoch),
        epochs_run=float(len(skill.per_epoch)),
        trial_seconds=float(time.perf_counter() - started),
        parameters=float(model.count_params()),
    )
    return out


class ActiongenHyperModel(keras_tuner.HyperModel):
    """Search space over the attention model of ``build_model``, trained on a built dataset.

    Args:
        data_dir: ``DATA_DIR`` from ``actiongen dataset build``.
        base_config: the :class:`Config` the hyperparameters are applied to (default
            ``Config()``); its ``data`` section is replaced by the dataset's.
        space: overrides of :data:`DEFAULT_SPACE` (``{name: [values]}`` or
            ``{name: {"min", "max", "sampling"}}``; one value = fixed).
        train_split: TFDS split to train on (``"train[:50%]"`` for a faster search).
        scorer: a :class:`ValidationScorer` (default: the validation split).
        run_eagerly: train without graph tracing (faster only for tiny datasets, as in
            the tests: tracing the model's train step costs tens of seconds per trial).

    ``build(hp)`` returns a compiled model; ``fit(hp, model, epochs=..., callbacks=...)``
    trains it on ``train_split`` at the trial's batch size and returns the metrics dict
    of :func:`train_and_score` (objective ``val_skill``, to maximise).
    """

    def __init__(self, data_dir, base_config=None, space=None, train_split="train", scorer=None, run_eagerly=False, name=None):
        super().__init__(name=name, tunable=True)
        self.data_dir = str(data_dir)
        prep = load_preprocessing(self.data_dir)
        base = copy.deepcopy(base_config) if base_config is not None else Config()
        if not isinstance(base, Config):
            raise ConfigError("base_config must be a Config")
        base.data = prep.data_config
        self.base_config = base
        self.meta = DatasetMeta.from_preprocessing(prep)
        self.space = resolve_space(space)
        self.defaults = base_hparams(base)
        self.train_split = train_split
        self.scorer = scorer or ValidationScorer(self.data_dir)
        self.run_eagerly = bool(run_eagerly)
        self._started = None

    def declare(self, hp):
        return declare_hparams(hp, self.space, self.defaults)

    def config_for(self, hp):
        return config_from_hparams(self.base_config, hp)

    def build(self, hp):
        self._started = time.perf_counter()
        self.declare(hp)
        config = self.config_for(hp)
        keras.utils.set_random_seed(config.train.seed)
        model = build_model(config, self.meta)
        compile_model(model, config, self.meta)
        model.run_eagerly = self.run_eagerly
        return model

    def fit(self, hp, model, *args, epochs=1, initial_epoch=0, callbacks=(), verbose=0, **kwargs):
        config = self.config_for(hp)
        return train_and_score(model, config, self.meta, self.data_dir, self.scorer, epochs, initial_epoch,
                               self.train_split, callbacks=list(callbacks or ()), verbose=verbose, started=self._started)
