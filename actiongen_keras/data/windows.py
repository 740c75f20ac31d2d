"""Sessions -> fixed-size training windows (the tensors of :mod:`actiongen_keras.data.features`).

A window is anchored at a tick boundary ``T``. The grid of boundaries of a session is
``T_k = t0 + history_ms + k * stride_ticks * tick_ms`` (``t0`` = the session's first
event, ``history_ms = history_ticks * tick_ms``), kept while ``T + target_ms <= t_end``
(``t_end`` = the last event). A time range ``(r0, r1)`` (block splits) keeps only
windows whose whole span ``[T - history_ms, T + target_ms)`` lies inside it; the grid
itself stays the session's.

* history: the events with ``T - history_ms <= t < T``, the most recent
  ``max_history_events`` of them, right-aligned (padding, id 0, on the left);
* targets: the events with ``T <= t < T + target_ms``, the first ``max_actions``
  of them, then EOS at index ``seq_len``. If the span holds more than
  ``max_actions`` events the sequence is truncated and the EOS at ``max_actions`` gets
  weight 0 (it would teach the model to stop where the person did not);
* state: for each tick ``T - (K-1-k) * tick_ms`` (k = 0..K-1, the last one is ``T``)
  the last snapshot at or before it; numeric columns standardised with the training
  mean/std, bool columns as 0/1, categorical columns through their vocabularies,
  NaN/absent -> 0; ``state_mask`` is 1 only for ticks that have a snapshot;
* anchors: the declared anchors of the snapshot at the last tick (``T``), ``anchor_dt``
  minus the snapshot's age ``T - t_snapshot`` (so it counts from ``T``; 0 for an anchor
  without a time).

Positions: ``x / width``, ``y / height``, clipped into [0, 1]. An event marked
``offscreen`` (or outside the screen before clipping, or NaN) keeps the clipped value
as an input but its ``xy`` target gets weight 0.

Everything is vectorised: one ``searchsorted`` per session for all windows, then
fancy-indexed gathers, no per-window Python loop over events.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from actiongen_keras.config import DataConfig
from actiongen_keras.data import features as F
from actiongen_keras.errors import DataError

_TYPE_ID = {name: F.EVENT_TYPE_ID[name] for name in ("move", "press", "release", "scroll", "key_down", "key_up")}


def history_ms(config):
    return float(config.history_ticks) * float(config.tick_ms)


# --------------------------------------------------------------------------- thinning


def thin_moves(events, min_interval_ms):
    """Drop moves closer than ``min_interval_ms`` to the previous *kept* move.

    Presses, releases, scrolls and keys are never dropped. Greedy from the first move
    (the first move is always kept). Returns ``(events, dropped)``.
    """
    if not min_interval_ms or min_interval_ms <= 0 or len(events) == 0:
        return events, 0
    is_move = np.asarray(events.type == "move")
    move_idx = np.flatnonzero(is_move)
    if len(move_idx) < 2:
        return events, 0
    mt = events.t_ms[move_idx]
    keep_moves = []
    i, n = 0, len(mt)
    # One jump per kept move (searchsorted), not one step per event.
    while i < n:
        keep_moves.append(i)
        i = int(np.searchsorted(mt, mt[i] + min_interval_ms, side="left"))
    keep = ~is_move
    keep[move_idx[np.asarray(keep_moves, dtype=np.int64)]] = True
    dropped = int(len(events) - keep.sum())
    if dropped == 0:
        return events, 0
    return events.take(keep), dropped


# --------------------------------------------------------------------------- tokens


@dataclasses.dataclass
class SessionTokens:
    """One session as per-event token arrays (after thinning) plus encoded state."""

    session_id: str
    source: str
    subject: str
    screen: tuple
    t_start: float  # first event before thinning (grid origin)
    t_end: float  # last event before thinning
    t: np.ndarray  # float64 (n,)
    type: np.ndarray  # int32
    button: np.ndarray  # int32
    key: np.ndarray  # int32
    scroll: np.ndarray  # int32 (n, 2)
    dt: np.ndarray  # float32 ms since previous (kept) event, first = 0
    xy: np.ndarray  # float32 (n, 2) clipped into [0, 1]
    xy_ok: np.ndarray  # bool: on screen
    dwell: np.ndarray | None = None  # float32 ms from a press / key_down to its release, NaN otherwise (press_dwell)
    state_t: np.ndarray | None = None  # float64 (m,)
    state_numeric: np.ndarray | None = None  # float32 (m, S)
    state_categorical: np.ndarray | None = None  # int32 (m, C)
    state_anchors: np.ndarray | None = None  # float32 (m, P, 3): x, y (screen units), dt_ms
    state_anchor_present: np.ndarray | None = None  # bool (m, P)
    dropped_moves: int = 0


def press_dwell(typ, t, ids):
    """How long each press / key_down is held: ``float32 [n]``, ms from the event to the next
    release / key_up of the same ``ids`` (button ids, or key names), NaN for other events and
    for presses whose release the session does not hold (the dwell head's target)."""
    out = np.full(len(t), np.nan, dtype=np.float32)
    open_at = {}
    for i, (ty, who) in enumerate(zip(typ.tolist(), ids)):
        if ty in (F.PRESS, F.KEY_DOWN):
            open_at[(ty, who)] = i
        elif ty in (F.RELEASE, F.KEY_UP):
            j = open_at.pop((F.PRESS if ty == F.RELEASE else F.KEY_DOWN, who), None)
            if j is not None:
                out[j] = t[i] - t[j]
    return out


def _map_strings(values, table, default=0):
    values = np.asarray(values, dtype=object)
    if values.size == 0:
        return np.zeros(0, dtype=np.int32)
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    ids = np.array([table.get(u, default) for u in uniq], dtype=np.int32)
    return ids[inv]


def has_human_cursor(session):
    """False where the recording has no human cursor: ``cursor_recorded: false`` (typing
    data) or ``human_channels`` without ``cursor`` (osu! autopilot, osu!mania)."""
    channels = session.extra.get("human_channels")
    return session.extra.get("cursor_recorded", True) is not False and (channels is None or "cursor" in channels)


def check_session(session, config=None):
    """The reason a session cannot give windows, or ``None``.

    Reasons: a zero-size (or missing) screen; ``game`` set but no state snapshots (a
    game source without state: the model would learn from a blank game); keys that a
    bot pressed (``human_channels`` without ``keys``); shorter than one window
    (``history_ms + target_ms``). Sessions without a human cursor still give windows,
    with xy weight 0 (:func:`has_human_cursor`).
    """
    config = config or DataConfig()
    w, h = (tuple(session.screen) + (0, 0))[:2]
    if not (w and h) or w <= 0 or h <= 0:
        return f"zero-size screen {w}x{h}"
    if session.game and (session.state is None or len(session.state) == 0):
        return f"game '{session.game}' session without state snapshots"
    if len(session.events) == 0:
        return "no events"
    channels = session.extra.get("human_channels")
    if channels is not None and "keys" not in channels:
        # osu! relax: the game pressed the keys and they were left out; training on it
        # would teach the model that players never press.
        return f"the keys are not human (human_channels={channels})"
    need = history_ms(config) + float(config.target_ms)
    if session.duration_ms < need:
        return f"shorter than one window ({session.duration_ms / 1000:.1f} s < {need / 1000:.1f} s)"
    return None


def tokenize_session(session, preprocessing=None, config=None):
    """Encode one session's events (and state) as token arrays.

    ``preprocessing`` (:class:`~actiongen_keras.data.normalize.Preprocessing`) supplies
    the key vocabulary and state encoding; without it keys are "unknown" (1) and there
    is no state (used while fitting).
    """
    config = config or (preprocessing.data_config if preprocessing is not None else DataConfig())
    reason = check_session(session, config)
    if reason is not None and not reason.startswith("shorter"):
        raise DataError(f"session {session.session_id}: {reason}")
    ev0 = session.events
    t_start = float(ev0.t_ms[0]) if len(ev0) else 0.0
    t_end = float(ev0.t_ms[-1]) if len(ev0) else 0.0
    ev, dropped = thin_moves(ev0, config.min_move_interval_ms)
    t = np.asarray(ev.t_ms, dtype=np.float64)
    typ = _map_strings(ev.type, _TYPE_ID, default=F.PAD)
    if len(typ) and (typ == F.PAD).any():
        bad = sorted(set(np.asarray(ev.type)[typ == F.PAD].astype(str)))
        raise DataError(f"session {session.session_id}: unknown event type(s) {bad}")
    button = _map_strings(ev.button, F.BUTTON_ID, default=0)
    if preprocessing is not None:
        key = preprocessing.key_vocab.lookup(ev.key)
    else:
        key = np.where(np.asarray(ev.key, dtype=object).astype(str) == "", F.KEY_NONE, F.KEY_UNKNOWN).astype(np.int32)
    is_key = (typ == F.KEY_DOWN) | (typ == F.KEY_UP)
    key = np.where(is_key, key, F.KEY_NONE).astype(np.int32)
    button = np.where((typ == F.PRESS) | (typ == F.RELEASE), button, 0).astype(np.int32)
    scroll = np.stack([F.scroll_class(ev.scroll_dx), F.scroll_class(ev.scroll_dy)], axis=-1).astype(np.int32).reshape(-1, 2)
    scroll[typ != F.SCROLL] = F.SCROLL_ZERO
    dt = np.zeros(len(t), dtype=np.float32)
    if len(t) > 1:
        dt[1:] = np.diff(t)
    w, h = float(session.screen[0]), float(session.screen[1])
    xr = np.asarray(ev.x, dtype=np.float64) / w
    yr = np.asarray(ev.y, dtype=np.float64) / h
    ok = np.isfinite(xr) & np.isfinite(yr) & (xr >= 0) & (xr <= 1) & (yr >= 0) & (yr <= 1) & ~np.asarray(ev.offscreen, dtype=bool)
    ok &= has_human_cursor(session)  # keyboard-only recordings: positions are placeholders
    xy = np.stack([np.clip(np.nan_to_num(xr), 0, 1), np.clip(np.nan_to_num(yr), 0, 1)], axis=-1).astype(np.float32).reshape(-1, 2)
    names = np.where(is_key, np.asarray(ev.key, dtype=object).astype(str), button.astype(str))
    tok = SessionTokens(
        session_id=session.session_id, source=session.source, subject=session.subject, screen=(w, h),
        t_start=t_start, t_end=t_end, t=t, type=typ, button=button, key=key, scroll=scroll, dt=dt, xy=xy, xy_ok=ok,
        dwell=press_dwell(typ, t, names.tolist()), dropped_moves=dropped,
    )
    if preprocessing is not None and session.state is not None and len(session.state):
        tok.state_t = np.asarray(session.state.t_ms, dtype=np.float64)
        tok.state_numeric, tok.state_categorical = preprocessing.encode_state(session)
        tok.state_anchors, tok.state_anchor_present = preprocessing.encode_anchors(session)
    return tok


# --------------------------------------------------------------------------- windows


def window_times(t_start, t_end, config, time_range=None, event_t=None):
    """Boundaries ``T`` (float64) of a session's windows, optionally inside ``time_range``;
    with ``config.max_idle_ms`` > 0, those whose last event before ``T`` (``event_t``, sorted,
    required then) is more than that long ago are left out."""
    hist = history_ms(config)
    step = float(config.stride_ticks) * float(config.tick_ms)
    if step <= 0:
        raise DataError(f"stride_ticks * tick_ms must be positive, got {step}")
    first = t_start + hist
    last = t_end - float(config.target_ms)
    if last < first:
        return np.zeros(0, dtype=np.float64)
    n = int(np.floor((last - first) / step + 1e-9)) + 1
    T = first + step * np.arange(n, dtype=np.float64)
    T = T[T + float(config.target_ms) <= t_end + 1e-6]
    if time_range is not None:
        r0, r1 = time_range
        T = T[(T - hist >= r0 - 1e-6) & (T + float(config.target_ms) <= r1 + 1e-6)]
    idle = float(getattr(config, "max_idle_ms", 0.0) or 0.0)
    if idle > 0 and len(T):
        if event_t is None:
            raise DataError("max_idle_ms needs the event times")
        event_t = np.asarray(event_t, dtype=np.float64)
        k = np.searchsorted(event_t, T, side="left") - 1
        last = np.where(k >= 0, event_t[np.maximum(k, 0)], -np.inf)
        T = T[T - last <= idle]
    return T


def _gather(arr, idx, valid, fill=0):
    if len(arr) == 0:
        shape = idx.shape + arr.shape[1:]
        return np.full(shape, fill, dtype=arr.dtype)
    out = arr[np.clip(idx, 0, len(arr) - 1)]
    m = valid.reshape(valid.shape + (1,) * (out.ndim - valid.ndim))
    return np.where(m, out, np.asarray(fill, dtype=arr.dtype))


def make_windows(tokens, T, config, num_numeric=0, num_categorical=0, num_anchors=1):
    """All windows of one session at boundaries ``T``: ``(inputs, targets, weights)`` dicts.

    Arrays have a leading window dimension ``W = len(T)``; dtypes and shapes follow
    :mod:`actiongen_keras.data.features`.
    """
    H, A, K = int(config.max_history_events), int(config.max_actions), int(config.history_ticks)
    A1 = A + 1
    T = np.asarray(T, dtype=np.float64)
    W = len(T)
    t = tokens.t
    hist = history_ms(config)
    # ---- history [T - hist, T): most recent H, right-aligned
    hi = np.searchsorted(t, T, side="left")
    lo = np.searchsorted(t, T - hist, side="left")
    cnt = np.minimum(hi - lo, H)
    ar_h = np.arange(H)
    h_idx = hi[:, None] - H + ar_h[None, :]
    h_ok = ar_h[None, :] >= (H - cnt)[:, None]
    # ---- targets [T, T + target): first A, then EOS
    a = hi  # first event at or after T (same as searchsorted(t, T, "left"))
    b = np.searchsorted(t, T + float(config.target_ms), side="left")
    total = b - a
    n = np.minimum(total, A).astype(np.int32)
    ar_a = np.arange(A1)
    t_idx = a[:, None] + ar_a[None, :]
    t_ok = ar_a[None, :] < n[:, None]
    is_eos = ar_a[None, :] == n[:, None]
    truncated = total > A

    f32 = np.float32
    inputs = {}
    inputs["hist_type"] = _gather(tokens.type, h_idx, h_ok)
    inputs["hist_button"] = _gather(tokens.button, h_idx, h_ok)
    inputs["hist_key"] = _gather(tokens.key, h_idx, h_ok)
    inputs["hist_scroll"] = _gather(tokens.scroll, h_idx, h_ok)
    inputs["hist_dt"] = _gather(tokens.dt, h_idx, h_ok)
    inputs["hist_t_before"] = np.where(h_ok, T[:, None] - _gather(t, h_idx, h_ok), 0.0).astype(f32)
    inputs["hist_xy"] = _gather(tokens.xy, h_idx, h_ok)

    tgt_type = _gather(tokens.type, t_idx, t_ok)
    tgt_type = np.where(is_eos, F.EOS, tgt_type).astype(np.int32)
    tgt_button = _gather(tokens.button, t_idx, t_ok)
    tgt_key = _gather(tokens.key, t_idx, t_ok)
    tgt_scroll = _gather(tokens.scroll, t_idx, t_ok, fill=F.SCROLL_ZERO)
    tgt_dt = _gather(tokens.dt, t_idx, t_ok)
    tgt_after = np.where(t_ok, _gather(t, t_idx, t_ok) - T[:, None], 0.0).astype(f32)
    tgt_xy = _gather(tokens.xy, t_idx, t_ok)
    tgt_xy_ok = _gather(tokens.xy_ok, t_idx, t_ok, fill=False)
    dwell = tokens.dwell if tokens.dwell is not None else np.full(len(t), np.nan, np.float32)
    tgt_dwell = _gather(dwell, t_idx, t_ok, fill=np.nan)
    dwell_ok = t_ok & np.isfinite(tgt_dwell)

    # ---- decoder teacher forcing: step 0 = BOS at the last cursor position, step i = target i-1
    last = np.clip(hi - 1, 0, max(len(t) - 1, 0))
    bos_xy = tokens.xy[last] if len(t) else np.zeros((W, 2), f32)
    d_ok = np.concatenate([np.ones((W, 1), bool), t_ok[:, :A]], axis=1)

    def shift(x, bos):
        bos = np.broadcast_to(np.asarray(bos, dtype=x.dtype), (W, 1) + x.shape[2:])
        return np.concatenate([bos, x[:, :A]], axis=1)

    inputs["dec_type"] = shift(np.where(t_ok, tgt_type, F.PAD).astype(np.int32), F.BOS)
    inputs["dec_button"] = shift(tgt_button, 0)
    inputs["dec_key"] = shift(tgt_key, F.KEY_NONE)
    dec_scroll = shift(np.where(t_ok[..., None], tgt_scroll, 0).astype(np.int32), F.SCROLL_ZERO)
    inputs["dec_scroll"] = dec_scroll
    inputs["dec_dt"] = shift(tgt_dt, 0.0)
    inputs["dec_t_after"] = shift(tgt_after, 0.0)
    inputs["dec_xy"] = np.concatenate([bos_xy.reshape(W, 1, 2).astype(f32), tgt_xy[:, :A]], axis=1)
    # Padding steps of the decoder input are all zero.
    for name in ("dec_button", "dec_key", "dec_dt", "dec_t_after"):
        inputs[name] = np.where(d_ok, inputs[name], 0).astype(inputs[name].dtype)
    inputs["dec_xy"] = np.where(d_ok[..., None], inputs["dec_xy"], 0).astype(f32)
    inputs["dec_scroll"] = np.where(d_ok[..., None], inputs["dec_scroll"], 0).astype(np.int32)

    # ---- state at the K ticks T - (K-1-k) * tick; anchors of the last one (T), times from T
    S, C, P = int(num_numeric), int(num_categorical), int(num_anchors)
    inputs["state_numeric"] = np.zeros((W, K, S), f32)
    inputs["state_categorical"] = np.zeros((W, K, C), np.int32)
    inputs["state_mask"] = np.zeros((W, K), f32)
    inputs["anchor_xy"] = np.zeros((W, P, 2), f32)
    inputs["anchor_dt"] = np.zeros((W, P), f32)
    inputs["anchor_mask"] = np.zeros((W, P), f32)
    if tokens.state_t is not None and len(tokens.state_t):
        ticks = T[:, None] - (K - 1 - np.arange(K))[None, :] * float(config.tick_ms)
        j = np.searchsorted(tokens.state_t, ticks + 1e-6, side="right") - 1
        s_ok = j >= 0
        inputs["state_numeric"] = _gather(tokens.state_numeric.astype(f32), j, s_ok).reshape(W, K, S)
        inputs["state_categorical"] = _gather(tokens.state_categorical.astype(np.int32), j, s_ok).reshape(W, K, C)
        inputs["state_mask"] = s_ok.astype(f32)
        if tokens.state_anchors is not None and W:
            jT = np.clip(j[:, -1], 0, None)
            present = tokens.state_anchor_present[jT] & s_ok[:, -1:]
            vals = tokens.state_anchors[jT]
            age = (T - tokens.state_t[jT])[:, None]
            timed = present & np.isfinite(vals[..., 2])  # an anchor without a time: 0
            inputs["anchor_xy"] = np.where(present[..., None], vals[..., :2], 0.0).astype(f32)
            inputs["anchor_dt"] = np.where(timed, np.nan_to_num(vals[..., 2]) - age, 0.0).astype(f32)
            inputs["anchor_mask"] = present.astype(f32)
    inputs["screen"] = np.broadcast_to(np.asarray(tokens.screen, dtype=f32), (W, 2)).copy()

    targets = {
        "event_type": tgt_type,
        "timing": np.where(t_ok, tgt_dt, 0).astype(f32),
        "xy": np.where(t_ok[..., None], tgt_xy, 0).astype(f32),
        "button": tgt_button,
        "key": tgt_key,
        "scroll": np.where(t_ok[..., None], tgt_scroll, F.SCROLL_ZERO).astype(np.int32),
        "dwell": np.where(dwell_ok, tgt_dwell, 0).astype(f32),
        "seq_len": n,
    }
    ev_w = (t_ok | (is_eos & ~truncated[:, None])).astype(f32)
    weights = {
        "event_type": ev_w,
        "timing": t_ok.astype(f32),
        "xy": (t_ok & tgt_xy_ok).astype(f32),
        "button": (t_ok & ((tgt_type == F.PRESS) | (tgt_type == F.RELEASE))).astype(f32),
        "key": (t_ok & ((tgt_type == F.KEY_DOWN) | (tgt_type == F.KEY_UP))).astype(f32),
        "scroll": (t_ok & (tgt_type == F.SCROLL)).astype(f32),
        "dwell": dwell_ok.astype(f32),
        "seq_len": np.ones(W, f32),
    }
    inputs = {k: np.ascontiguousarray(inputs[k]) for k in F.INPUT_NAMES}
    return inputs, targets, weights


def empty_windows(config, num_numeric=0, num_categorical=0, num_anchors=1):
    """Zero windows with the right trailing shapes and dtypes."""
    tok = SessionTokens(
        session_id="", source="", subject="", screen=(1.0, 1.0), t_start=0.0, t_end=0.0,
        t=np.zeros(0), type=np.zeros(0, np.int32), button=np.zeros(0, np.int32), key=np.zeros(0, np.int32),
        scroll=np.zeros((0, 2), np.int32), dt=np.zeros(0, np.float32), xy=np.zeros((0, 2), np.float32), xy_ok=np.zeros(0, bool),
    )
    return make_windows(tok, np.zeros(0), config, num_numeric, num_categorical, num_anchors)


def concat_windows(parts, config, num_numeric=0, num_categorical=0, num_anchors=1):
    """Concatenate a list of ``(inputs, targets, weights)`` along the window axis."""
    parts = [p for p in parts if len(p[2]["seq_len"])]
    if not parts:
        return empty_windows(config, num_numeric, num_categorical, num_anchors)
    return tuple({k: np.concatenate([p[i][k] for p in parts]) for k in parts[0][i]} for i in range(3))


def encoded_sizes(preprocessing):
    """``(num_numeric, num_categorical, num_anchors)``: the trailing sizes of the state inputs."""
    return preprocessing.num_numeric, preprocessing.num_categorical, preprocessing.num_anchors


def session_windows(session, preprocessing, config=None, time_range=None):
    """``(inputs, targets, weights, T)`` of one session (``T`` = window boundaries, ms)."""
    config = config or preprocessing.data_config
    tok = tokenize_session(session, preprocessing, config)
    T = window_times(tok.t_start, tok.t_end, config, time_range, tok.t)
    ins, tgs, wts = make_windows(tok, T, config, *encoded_sizes(preprocessing))
    return ins, tgs, wts, T


def windows_from_sessions(sessions, preprocessing, config=None, time_ranges=None, with_meta=False):
    """The NumPy path: windows of in-memory sessions as dicts of stacked arrays.

    Args:
        sessions: iterable of :class:`~actiongen_keras.recordings.session.Session`.
        preprocessing: fitted :class:`~actiongen_keras.data.normalize.Preprocessing`.
        config: a ``DataConfig`` (default: the one stored in ``preprocessing``).
        time_ranges: optional ``{session_id: (r0, r1)}`` or ``{session_id: [(r0, r1), ...]}``
            restricting each session's windows (block splits); sessions not named are whole.
        with_meta: also return ``{"session_id": str array, "t_ms": float64 array}``.

    Returns:
        ``(inputs, targets, weights)`` (plus ``meta`` when asked). Sessions that cannot
        give windows (too short) contribute none; other unusable sessions raise DataError.
    """
    config = config or preprocessing.data_config
    parts, sids, times = [], [], []
    for s in sessions:
        ranges = [None]
        if time_ranges and s.session_id in time_ranges:
            r = time_ranges[s.session_id]
            ranges = list(r) if r and isinstance(r[0], (list, tuple)) else [r]
        tok = tokenize_session(s, preprocessing, config)
        for rng in ranges:
            T = window_times(tok.t_start, tok.t_end, config, rng, tok.t)
            if len(T) == 0:
                continue
            parts.append(make_windows(tok, T, config, *encoded_sizes(preprocessing)))
            sids.append(np.full(len(T), s.session_id, dtype=object))
            times.append(T)
    out = concat_windows(parts, config, *encoded_sizes(preprocessing))
    if with_meta:
        meta = {
            "session_id": np.concatenate(sids) if sids else np.zeros(0, dtype=object),
            "t_ms": np.concatenate(times) if times else np.zeros(0, dtype=np.float64),
        }
        return out + (meta,)
    return out


def target_type_counts(tokens, T, config):
    """Counts of each EVENT_TYPES class among the weighted targets of windows ``T``.

    Uses per-type cumulative sums, so it is O(events + windows).
    """
    A = int(config.max_actions)
    t = tokens.t
    a = np.searchsorted(t, T, side="left")
    b = np.searchsorted(t, T + float(config.target_ms), side="left")
    n = np.minimum(b - a, A)
    counts = np.zeros(F.NUM_EVENT_TYPES, dtype=np.int64)
    for cls in range(1, F.EOS):
        cs = np.concatenate([[0], np.cumsum(tokens.type == cls)])
        counts[cls] = int((cs[a + n] - cs[a]).sum())
    counts[F.EOS] = int(((b - a) <= A).sum())
    return counts
