"""Statistics fitted on the training split, stored with the dataset.

``DATA_DIR/preprocessing.json`` (format ``actiongen-preprocessing/1``) holds everything
that turns a session into the model's tensors and everything the model derives from
data:

* ``data_config``: the :class:`~actiongen_keras.config.DataConfig` the windows were cut with;
* ``state_numeric``: ``[{name, kind ("numeric"|"bool"), mean, std}]`` in feature order: the
  union of the numeric and bool state columns of the training sessions, in order of first
  appearance (sessions sorted by path). Bool columns keep mean 0, std 1 (0/1 as is). A
  session without some column gets 0 there (the standardised mean);
* ``state_categorical``: ``[{name, vocab: [values]}]``; value ``vocab[i]`` has id ``i + 2``
  (0 absent, 1 unknown);
* ``key_vocab``: key names of training key events, most frequent first (ids from 2);
* ``interval_quantiles_ms``: p10/p25/p50/p75/p90 of the positive inter-event intervals of
  the training events (after move thinning), plus ``zero_interval_fraction`` (events at
  the same millisecond as their predecessor): the timing-scale boundaries come from these;
* ``target_type_counts``: how often each event type (and EOS) is a weighted target in the
  training windows, for the majority baseline and class weights;
* ``train``: how many sessions/windows/events/snapshots the statistics saw;
* ``anchors``: ``[{name, x, y, dt_ms}]``, the on-screen points the training sessions'
  state columns declare (``"anchor"``/``"role"`` keys, see ``features.py``), by column
  name, in order of first appearance, at most ``data_config.max_anchors``.

Columns that appear only in validation/test sessions are not features (no statistics
could be fitted without looking at them); they are listed in ``ignored_state_columns``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np

from actiongen_keras.config import DataConfig
from actiongen_keras.data import features as F
from actiongen_keras.data.jsonfile import load_json, save_json
from actiongen_keras.data.vocab import Vocabulary
from actiongen_keras.data.windows import check_session, target_type_counts, tokenize_session, window_times
from actiongen_keras.errors import DataError, FormatError

PREPROCESSING_FORMAT = "actiongen-preprocessing/1"
PREPROCESSING_FILE = "preprocessing.json"
QUANTILES = (10, 25, 50, 75, 90)


@dataclasses.dataclass
class Preprocessing:
    data_config: DataConfig = dataclasses.field(default_factory=DataConfig)
    numeric_columns: list = dataclasses.field(default_factory=list)  # [{name, kind, mean, std}]
    categorical_columns: list = dataclasses.field(default_factory=list)  # [{name, vocab}]
    key_vocab: Vocabulary = dataclasses.field(default_factory=Vocabulary)
    interval_quantiles_ms: dict = dataclasses.field(default_factory=dict)
    zero_interval_fraction: float = 0.0
    target_type_counts: dict = dataclasses.field(default_factory=dict)
    train: dict = dataclasses.field(default_factory=dict)
    builder_config: str | None = None
    sources: list | None = None
    ignored_state_columns: list = dataclasses.field(default_factory=list)
    anchors: list = dataclasses.field(default_factory=list)  # [{name, x, y, dt_ms}] (column names)

    def __post_init__(self):
        self._cat_vocabs = [Vocabulary(c["vocab"]) for c in self.categorical_columns]

    # ---- sizes the model needs
    @property
    def num_numeric(self):
        return len(self.numeric_columns)

    @property
    def num_categorical(self):
        return len(self.categorical_columns)

    @property
    def key_vocab_size(self):
        return self.key_vocab.size

    @property
    def categorical_vocab_sizes(self):
        return [v.size for v in self._cat_vocabs]

    @property
    def num_anchors(self):
        """``P`` of the anchor inputs: the declared anchors, at least 1 (then always masked)."""
        return max(1, len(self.anchors))

    def anchor_columns(self):
        """``[[x, y, dt_ms], ...]`` indices into ``numeric_columns`` (-1: no ``dt_ms`` column)."""
        index = {c["name"]: i for i, c in enumerate(self.numeric_columns)}
        return [[index[a["x"]], index[a["y"]], index.get(a.get("dt_ms") or "", -1)] for a in self.anchors]

    def input_signature(self):
        c = self.data_config
        return F.input_signature(
            c.max_history_events, c.max_actions, c.history_ticks, self.num_numeric, self.num_categorical, self.num_anchors
        )

    def target_signature(self):
        return F.target_signature(self.data_config.max_actions)

    # ---- encoding
    def encode_state(self, session):
        """``(numeric float32 (m, S), categorical int32 (m, C))`` for the session's snapshots."""
        st = session.state
        m = len(st)
        kinds = {c["name"]: c["kind"] for c in (session.state_columns or [])}
        num = np.zeros((m, self.num_numeric), dtype=np.float32)
        for i, c in enumerate(self.numeric_columns):
            if c["name"] not in kinds:
                continue
            v = np.asarray(st.columns[c["name"]], dtype=np.float64)
            z = (v - c["mean"]) / c["std"]
            num[:, i] = np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -F.STATE_Z_CLIP, F.STATE_Z_CLIP)
        cat = np.zeros((m, self.num_categorical), dtype=np.int32)
        for i, (c, vocab) in enumerate(zip(self.categorical_columns, self._cat_vocabs)):
            if c["name"] in kinds:
                cat[:, i] = vocab.lookup(st.columns[c["name"]])
        return num, cat

    def encode_anchors(self, session):
        """``(values float32 (m, P, 3), present bool (m, P))`` per snapshot: ``x / width``,
        ``y / height`` and ``dt_ms`` (NaN where the anchor has no time) of each anchor;
        present where the session has the anchor's columns and ``x``, ``y`` are finite."""
        st = session.state
        m, P = len(st), self.num_anchors
        vals = np.zeros((m, P, 3), dtype=np.float32)
        present = np.zeros((m, P), dtype=bool)
        names = {c["name"] for c in (session.state_columns or [])}
        w, h = float(session.screen[0]), float(session.screen[1])
        for p, a in enumerate(self.anchors):
            if a["x"] not in names or a["y"] not in names:
                continue
            x = np.asarray(st.columns[a["x"]], dtype=np.float64) / w
            y = np.asarray(st.columns[a["y"]], dtype=np.float64) / h
            dt = np.asarray(st.columns[a["dt_ms"]], dtype=np.float64) if a.get("dt_ms") in names else np.full(m, np.nan)
            present[:, p] = np.isfinite(x) & np.isfinite(y)
            vals[:, p, 0] = np.clip(np.where(present[:, p], x, 0.0), -F.ANCHOR_XY_CLIP, F.ANCHOR_XY_CLIP)
            vals[:, p, 1] = np.clip(np.where(present[:, p], y, 0.0), -F.ANCHOR_XY_CLIP, F.ANCHOR_XY_CLIP)
            vals[:, p, 2] = np.clip(np.where(present[:, p] & np.isfinite(dt), dt, np.nan), -F.ANCHOR_DT_CLIP_MS, F.ANCHOR_DT_CLIP_MS)
        return vals, present

    # ---- (de)serialisation
    def to_dict(self):
        return {
            "format": PREPROCESSING_FORMAT,
            "builder_config": self.builder_config,
            "sources": self.sources,
            "data_config": dataclasses.asdict(self.data_config),
            "state_numeric": self.numeric_columns,
            "state_categorical": self.categorical_columns,
            "ignored_state_columns": self.ignored_state_columns,
            "key_vocab": self.key_vocab.to_list(),
            "interval_quantiles_ms": self.interval_quantiles_ms,
            "zero_interval_fraction": self.zero_interval_fraction,
            "target_type_counts": self.target_type_counts,
            "train": self.train,
            "anchors": self.anchors,
        }

    @classmethod
    def from_dict(cls, d, path="preprocessing.json"):
        if not isinstance(d, dict) or d.get("format") != PREPROCESSING_FORMAT:
            raise FormatError(path, f"format must be '{PREPROCESSING_FORMAT}'", field="format")
        try:
            known = {f.name for f in dataclasses.fields(DataConfig)}
            dc = DataConfig(**{k: v for k, v in d["data_config"].items() if k in known})
            return cls(
                data_config=dc,
                numeric_columns=list(d["state_numeric"]),
                categorical_columns=list(d["state_categorical"]),
                key_vocab=Vocabulary(d["key_vocab"]),
                interval_quantiles_ms=dict(d.get("interval_quantiles_ms", {})),
                zero_interval_fraction=float(d.get("zero_interval_fraction", 0.0)),
                target_type_counts=dict(d.get("target_type_counts", {})),
                train=dict(d.get("train", {})),
                builder_config=d.get("builder_config"),
                sources=d.get("sources"),
                ignored_state_columns=list(d.get("ignored_state_columns", [])),
                anchors=[dict(a) for a in d.get("anchors", [])],
            )
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(path, f"malformed preprocessing file ({e.__class__.__name__}: {e})") from None

    def save(self, path):
        return save_json(self.to_dict(), path, PREPROCESSING_FILE)

    def __eq__(self, other):
        return isinstance(other, Preprocessing) and self.to_dict() == other.to_dict()


def load_preprocessing(data_dir):
    """The :class:`Preprocessing` stored with a dataset (``DATA_DIR/preprocessing.json``).

    ``data_dir`` may also be the JSON file itself, or a TFDS version folder
    (``DATA_DIR/actiongen_sessions/<config>/<version>``) which holds a copy.
    """
    d, p = load_json(data_dir, PREPROCESSING_FILE)
    return Preprocessing.from_dict(d, p)


def _in_range(t, rng):
    if rng is None:
        return np.ones(len(t), dtype=bool)
    return (t >= rng[0]) & (t < rng[1])


def fit_preprocessing(train_parts, config=None, builder_config=None, sources=None, all_sessions=()):
    """Fit the statistics on the training split only.

    Args:
        train_parts: list of ``(session, time_range)``; ``time_range`` is ``None`` (whole
            session, person-disjoint splits) or ``(r0, r1)`` (a block split's train block).
            Only events/snapshots inside the range are used, and only windows that lie in it.
        config: the DataConfig.
        all_sessions: every session of the build (only to list state columns that exist
            outside train and so are ignored).

    Raises:
        DataError: no training sessions, or a state column with two kinds.
    """
    config = config or DataConfig()
    if not train_parts:
        raise DataError("the training split has no sessions: cannot fit statistics")
    kinds, order = {}, []
    num_vals, cat_counts = {}, {}
    key_counts = Counter()
    intervals = []
    type_counts = np.zeros(F.NUM_EVENT_TYPES, dtype=np.int64)
    n_windows = n_events = n_snapshots = n_dropped = 0
    sessions_seen = set()
    for session, rng in train_parts:
        sessions_seen.add(session.session_id)
        for c in session.state_columns or []:
            if c["name"] in kinds and kinds[c["name"]] != c["kind"]:
                raise DataError(
                    f"state column '{c['name']}' is {kinds[c['name']]} in one session and {c['kind']} in "
                    f"{session.session_id}: a feature needs one kind"
                )
            if c["name"] not in kinds:
                kinds[c["name"]] = c["kind"]
                order.append(c["name"])
        if session.state is not None and len(session.state):
            sel = _in_range(np.asarray(session.state.t_ms), rng)
            n_snapshots += int(sel.sum())
            for c in session.state_columns or []:
                v = np.asarray(session.state.columns[c["name"]])[sel]
                if c["kind"] == "categorical":
                    cat_counts.setdefault(c["name"], Counter()).update(str(x) for x in v)
                else:
                    num_vals.setdefault(c["name"], []).append(np.asarray(v, dtype=np.float64))
        reason = check_session(session, config)
        if reason is not None and not reason.startswith("shorter"):
            continue  # unusable sessions are skipped (and reported) by the builder
        tok = tokenize_session(session, None, config)
        n_dropped += tok.dropped_moves
        sel = _in_range(tok.t, rng)
        n_events += int(sel.sum())
        ev = session.events
        is_key = np.isin(np.asarray(ev.type, dtype=object).astype(str), ("key_down", "key_up")) & _in_range(ev.t_ms, rng)
        key_counts.update(str(k) for k in np.asarray(ev.key, dtype=object)[is_key])
        if len(tok.t) > 1:
            iv = np.diff(tok.t)
            both = sel[1:] & sel[:-1]
            intervals.append(iv[both])
        T = window_times(tok.t_start, tok.t_end, config, rng, tok.t)
        n_windows += len(T)
        if len(T):
            type_counts += target_type_counts(tok, T, config)
    numeric = []
    categorical = []
    for name in order:
        kind = kinds[name]
        if kind == "categorical":
            vocab = Vocabulary.fit(cat_counts.get(name, Counter()))
            categorical.append({"name": name, "vocab": vocab.to_list()})
        elif kind == "bool":
            numeric.append({"name": name, "kind": "bool", "mean": 0.0, "std": 1.0})
        else:
            v = np.concatenate(num_vals.get(name, [np.zeros(0)]))
            v = v[np.isfinite(v)]
            mean = float(v.mean()) if len(v) else 0.0
            std = float(v.std()) if len(v) > 1 else 1.0
            if not np.isfinite(std) or std < 1e-8:
                std = 1.0
            numeric.append({"name": name, "kind": "numeric", "mean": mean, "std": std})
    ignored = sorted({c["name"] for s in all_sessions for c in (s.state_columns or []) if c["name"] not in kinds})
    anchors = declared_anchors([s for s, _ in train_parts], {c["name"] for c in numeric}, config.max_anchors)
    iv = np.concatenate(intervals) if intervals else np.zeros(0)
    pos = iv[iv > 0]
    quant = {f"p{q}": float(np.percentile(pos, q)) for q in QUANTILES} if len(pos) else {f"p{q}": None for q in QUANTILES}
    return Preprocessing(
        data_config=config,
        numeric_columns=numeric,
        categorical_columns=categorical,
        key_vocab=Vocabulary.fit(key_counts),
        interval_quantiles_ms=quant,
        zero_interval_fraction=float((iv == 0).mean()) if len(iv) else 0.0,
        target_type_counts={F.EVENT_TYPES[i]: int(type_counts[i]) for i in range(1, F.NUM_EVENT_CLASSES)},
        train={
            "sessions": len(sessions_seen),
            "windows": int(n_windows),
            "events": int(n_events),
            "snapshots": int(n_snapshots),
            "dropped_moves": int(n_dropped),
        },
        builder_config=builder_config,
        sources=list(sources) if sources else None,
        ignored_state_columns=ignored,
        anchors=anchors,
    )


def declared_anchors(sessions, numeric_names, max_anchors):
    """``[{name, x, y, dt_ms}]``: the anchors the sessions' state columns declare, in order of
    first appearance, those with numeric ``x`` and ``y`` columns, at most ``max_anchors``."""
    found = {}
    for session in sessions:
        for c in session.state_columns or []:
            if c.get("anchor") and c.get("role") in F.ANCHOR_ROLES and c["name"] in numeric_names:
                found.setdefault(str(c["anchor"]), {})[c["role"]] = c["name"]
    out = [{"name": n, "x": r["x"], "y": r["y"], "dt_ms": r.get("dt_ms")} for n, r in found.items() if "x" in r and "y" in r]
    return out[: max(int(max_anchors), 0)]
