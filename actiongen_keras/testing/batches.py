"""Random batches shaped per ``features.py`` (tests, benchmarks, smoke runs)."""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.models.dataset_meta import DatasetMeta


def random_batch(dataset_meta, batch_size, seed=0):
    """``(inputs, targets, sample_weights)`` dicts of NumPy arrays, consistent per window.

    History: a random number of right-aligned events (the rest padding); state: random
    ticks absent; targets: ``seq_len`` events then EOS, weights per the features.py table.
    """
    meta = DatasetMeta.from_dict(dataset_meta)
    rng = np.random.default_rng(seed)
    B, H, A, K = batch_size, meta.max_history_events, meta.max_actions, meta.history_ticks
    A1 = A + 1
    S, C = meta.num_state_numeric, meta.num_state_categorical
    real_types = np.array([F.MOVE, F.PRESS, F.RELEASE, F.SCROLL, F.KEY_DOWN, F.KEY_UP])

    def events(n, length):
        typ = rng.choice(real_types, size=(n, length), p=[0.6, 0.1, 0.1, 0.05, 0.075, 0.075]).astype("int32")
        btn = np.where(np.isin(typ, [F.PRESS, F.RELEASE]), rng.integers(1, F.NUM_BUTTONS, (n, length)), 0).astype("int32")
        key = np.where(np.isin(typ, [F.KEY_DOWN, F.KEY_UP]), rng.integers(1, meta.num_keys, (n, length)), 0).astype("int32")
        scr = np.where((typ == F.SCROLL)[..., None], rng.integers(0, F.NUM_SCROLL_CLASSES, (n, length, 2)), F.SCROLL_ZERO).astype("int32")
        dt = rng.exponential(60.0, (n, length)).astype("float32")
        xy = rng.random((n, length, 2)).astype("float32")
        return typ, btn, key, scr, dt, xy

    n_hist = rng.integers(0, H + 1, B)
    typ, btn, key, scr, dt, xy = events(B, H)
    pad = np.arange(H)[None, :] < (H - n_hist)[:, None]
    typ[pad], btn[pad], key[pad], dt[pad] = 0, 0, 0, 0.0
    scr[pad] = 0
    xy[pad] = 0.0
    t_before = np.where(pad, 0.0, np.flip(np.cumsum(np.flip(dt, 1), 1), 1)).astype("float32")

    seq_len = rng.integers(0, A + 1, B).astype("int32")
    ttyp, tbtn, tkey, tscr, tdt, txy = events(B, A1)
    valid_t = np.arange(A1)[None, :] < seq_len[:, None]
    ttyp = np.where(valid_t, ttyp, 0).astype("int32")
    ttyp[np.arange(B), seq_len] = F.EOS
    t_after = np.cumsum(tdt, 1).astype("float32")
    last_xy = np.where(n_hist[:, None] > 0, xy[:, -1], 0.5).astype("float32")

    def shift(a, first):
        out = np.concatenate([np.broadcast_to(first, a[:, :1].shape), a[:, :-1]], axis=1)
        return out.astype(a.dtype)

    dec_type = shift(np.where(ttyp == F.EOS, 0, ttyp), F.BOS)
    inputs = {
        "state_numeric": rng.normal(size=(B, K, S)).astype("float32"),
        "state_categorical": np.stack([rng.integers(0, v, (B, K)) for v in meta.state_categorical_vocab_sizes], -1).astype("int32")
        if C
        else np.zeros((B, K, 0), "int32"),
        "state_mask": (rng.random((B, K)) > 0.3).astype("float32"),
        "hist_type": typ,
        "hist_button": btn,
        "hist_key": key,
        "hist_scroll": scr,
        "hist_dt": dt,
        "hist_t_before": t_before,
        "hist_xy": xy,
        "dec_type": dec_type,
        "dec_button": shift(tbtn, 0),
        "dec_key": shift(tkey, 0),
        "dec_scroll": shift(tscr, F.SCROLL_ZERO),
        "dec_dt": shift(tdt, 0.0),
        "dec_t_after": shift(t_after, 0.0),
        "dec_xy": np.concatenate([last_xy[:, None], txy[:, :-1]], 1).astype("float32"),
        "screen": np.tile(np.array([[1920.0, 1080.0]], "float32"), (B, 1)),
        "anchor_xy": rng.random((B, meta.num_anchors, 2)).astype("float32"),
        "anchor_dt": rng.normal(200.0, 300.0, (B, meta.num_anchors)).astype("float32"),
        "anchor_mask": (rng.random((B, meta.num_anchors)) > 0.4).astype("float32"),
    }
    inputs["anchor_xy"] *= inputs["anchor_mask"][..., None]
    inputs["anchor_dt"] *= inputs["anchor_mask"]
    inputs["state_numeric"] *= inputs["state_mask"][..., None]
    pressed = valid_t & np.isin(ttyp, [F.PRESS, F.KEY_DOWN])
    dwell = np.where(pressed, rng.exponential(120.0, (B, A1)), 0.0).astype("float32")
    targets = {"event_type": ttyp, "timing": tdt, "xy": txy, "button": tbtn, "key": tkey, "scroll": tscr, "dwell": dwell,
               "seq_len": seq_len}
    le = np.arange(A1)[None, :] <= seq_len[:, None]
    weights = {
        "event_type": le.astype("float32"),
        "timing": valid_t.astype("float32"),
        "xy": valid_t.astype("float32"),
        "button": (valid_t & np.isin(ttyp, [F.PRESS, F.RELEASE])).astype("float32"),
        "key": (valid_t & np.isin(ttyp, [F.KEY_DOWN, F.KEY_UP])).astype("float32"),
        "scroll": (valid_t & (ttyp == F.SCROLL)).astype("float32"),
        "dwell": pressed.astype("float32"),
        "seq_len": np.ones(B, "float32"),
    }
    return inputs, targets, weights
