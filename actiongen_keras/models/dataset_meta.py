"""``dataset_meta``: the sizes the model takes from the dataset folder.

A plain dict (JSON-friendly; :meth:`DatasetMeta.from_preprocessing` makes it from a built dataset)::

    {
      "num_state_numeric": 12,                    # S, numeric state features per tick
      "state_categorical_vocab_sizes": [5, 40],   # one vocab size per categorical feature
                                                  # (C = len; ids 0 = absent, 1 = unknown)
      "num_keys": 90,                             # key vocab size incl. 0 none and 1 unknown
      "timing_quantiles_ms": {"p10": 8, "p50": 40, "p90": 350},   # optional: inter-event
                                                  # interval quantiles (ms) of the training
                                                  # split; used when the config's
                                                  # timing_boundaries_ms is None
      "max_history_events": 128,                  # H
      "max_actions": 48,                          # A (sequences have A + 1 steps)
      "history_ticks": 10,                        # K
      "tick_ms": 600.0,                           # optional, default 600
      "num_state_categorical": 2,                 # optional, must equal the list's length
      "num_anchors": 8                            # optional, default 1: P of the anchor inputs
    }

Unknown keys are an error naming the key (a typo never passes silently).
"""

from __future__ import annotations

import dataclasses

from actiongen_keras.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DatasetMeta:
    num_state_numeric: int
    state_categorical_vocab_sizes: tuple
    num_keys: int
    max_history_events: int
    max_actions: int
    history_ticks: int
    timing_quantiles_ms: dict | None = None
    tick_ms: float = 600.0
    num_anchors: int = 1

    @property
    def num_state_categorical(self):
        return len(self.state_categorical_vocab_sizes)

    @classmethod
    def from_dict(cls, d):
        if isinstance(d, DatasetMeta):
            return d
        if not isinstance(d, dict):
            raise ConfigError(f"dataset_meta must be a dict, got {type(d).__name__}")
        d = dict(d)
        n_cat = d.pop("num_state_categorical", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"dataset_meta: unknown key(s) {sorted(unknown)}")
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [k for k in required if k not in d]
        if missing:
            raise ConfigError(f"dataset_meta: missing key(s) {missing}")
        vocab = d["state_categorical_vocab_sizes"]
        if not isinstance(vocab, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 2 for v in vocab):
            raise ConfigError(f"dataset_meta: state_categorical_vocab_sizes must be a list of ints >= 2, got {vocab!r}")
        d["state_categorical_vocab_sizes"] = tuple(int(v) for v in vocab)
        if n_cat is not None and n_cat != len(vocab):
            raise ConfigError(f"dataset_meta: num_state_categorical={n_cat} but {len(vocab)} vocab sizes")
        for k, lo in (
            ("num_state_numeric", 0), ("num_keys", 2), ("max_history_events", 1), ("max_actions", 1), ("history_ticks", 1), ("num_anchors", 1)
        ):
            if k not in d:
                continue
            v = d[k]
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ConfigError(f"dataset_meta: {k} must be an int >= {lo}, got {v!r}")
        q = d.get("timing_quantiles_ms")
        if q is not None:
            if not isinstance(q, dict) or not q or not all(isinstance(v, (int, float)) and v >= 0 for v in q.values()):
                raise ConfigError(f"dataset_meta: timing_quantiles_ms must be a non-empty dict of ms values, got {q!r}")
            d["timing_quantiles_ms"] = {str(k): float(v) for k, v in q.items()}
        if "tick_ms" in d:
            d["tick_ms"] = float(d["tick_ms"])
        return cls(**d)

    @classmethod
    def from_preprocessing(cls, prep):
        """The sizes ``build_model`` needs, from a dataset's fitted preprocessing
        (:class:`~actiongen_keras.data.normalize.Preprocessing`, ``DATA_DIR/preprocessing.json``)."""
        c = prep.data_config
        q = {f"p{int(str(k).lstrip('p'))}": float(v) for k, v in (prep.interval_quantiles_ms or {}).items()}
        return cls.from_dict({
            "num_state_numeric": prep.num_numeric,
            "state_categorical_vocab_sizes": list(prep.categorical_vocab_sizes),
            "num_keys": prep.key_vocab_size,
            "timing_quantiles_ms": q or None,
            "max_history_events": c.max_history_events,
            "max_actions": c.max_actions,
            "history_ticks": c.history_ticks,
            "tick_ms": c.tick_ms,
            "num_anchors": prep.num_anchors,
        })

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["state_categorical_vocab_sizes"] = list(self.state_categorical_vocab_sizes)
        return d
