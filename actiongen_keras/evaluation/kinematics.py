"""Kinematic features of recorded or generated input: the quantities bot detectors look at.

Everything works on :class:`~actiongen_keras.recordings.session.Events` (NumPy columns),
so a recorded session and a generated one are measured by the same code.

Units: time in ms, positions in screen pixels, speed in px/s, acceleration in px/s^2,
jerk in px/s^3, curvature in rad/px (angle change per pixel of path).

* The **cursor track** is the ``move`` events whose position is not marked off-screen,
  one sample per distinct time (of several moves at the same ms the last is kept). It is
  cut into **strokes** where two samples are more than ``pause_ms`` apart or an off-screen
  move lies between them; speed, acceleration, jerk and curvature are computed within strokes
  only (never across a pause or an off-screen stretch).
* **Dwell**: press-to-release of the same button, key_down-to-key_up of the same key
  (unmatched ones are ignored here; :mod:`~actiongen_keras.evaluation.coherence` counts them).
* **Path efficiency** (straightness) of a movement: straight distance between its ends /
  path length, for click-to-click movements and for strokes; movements shorter than
  ``min_path_px`` of path have none.
* :func:`segment_features`: one feature vector per fixed-length segment
  (:data:`SEGMENT_MS`), see :data:`FEATURE_NAMES`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from actiongen_keras.generation.clock import still_moves

PAUSE_MS = 150.0
SEGMENT_MS = 3000.0
MIN_PATH_PX = 5.0
MIN_STEP_PX = 0.5  # steps shorter than this give no direction (curvature undefined)
EDGE_MARGIN = 0.01  # edge_share: within 1% of the screen's width/height from an edge
CLICK_TYPES = ("press", "key_down")
RELEASE_TYPES = ("release", "key_up")


@dataclasses.dataclass
class Track:
    """On-screen cursor samples: ``t`` (ms), ``x``, ``y`` and ``stroke`` (id per sample)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    stroke: np.ndarray

    def __len__(self):
        return len(self.t)


@dataclasses.dataclass
class Kinematics:
    """Derivatives of a :class:`Track`, each with the time it belongs to.

    ``step_*``: one per pair of consecutive samples of a stroke (time = the later sample);
    ``accel``: per pair of consecutive steps; ``jerk``: per pair of consecutive accels;
    ``curv``/``angle``: per interior sample with both neighbouring steps ``>= MIN_STEP_PX``
    (``angle`` is the signed turn in rad, ``curv`` = |turn| / mean length of the two steps).
    """

    step_t: np.ndarray
    step_dt: np.ndarray
    step_len: np.ndarray
    speed: np.ndarray
    accel_t: np.ndarray
    accel: np.ndarray
    jerk_t: np.ndarray
    jerk: np.ndarray
    curv_t: np.ndarray
    curv: np.ndarray
    angle: np.ndarray


def _events_of(obj):
    """Events of a Session or Events."""
    return obj.events if hasattr(obj, "events") else obj


def cursor_track(events, pause_ms=PAUSE_MS):
    """The on-screen cursor samples of ``events`` (a Session or Events), cut into strokes."""
    ev = _events_of(events)
    is_move = np.asarray(ev.type == "move", dtype=bool)
    finite = np.isfinite(ev.x) & np.isfinite(ev.y) & np.isfinite(ev.t_ms)
    valid = is_move & ~ev.offscreen & finite
    off_before = np.cumsum(is_move & (ev.offscreen | ~finite))  # off-screen moves up to each event
    idx = np.flatnonzero(valid)
    t, x, y, off = ev.t_ms[idx], ev.x[idx], ev.y[idx], off_before[idx]
    if len(t):
        keep = np.r_[np.diff(t) > 0, True]  # same ms: keep the last position
        t, x, y, off = t[keep], x[keep], y[keep], off[keep]
    brk = np.r_[True, (np.diff(t) > pause_ms) | (np.diff(off) > 0)] if len(t) else np.zeros(0, bool)
    return Track(t=t, x=x, y=y, stroke=np.cumsum(brk) - 1)


def kinematics(track):
    """:class:`Kinematics` of a :class:`Track` (or of Events / a Session, tracked first)."""
    if not isinstance(track, Track):
        track = cursor_track(track)
    t, x, y, s = track.t, track.x, track.y, track.stroke
    same = s[1:] == s[:-1] if len(t) > 1 else np.zeros(0, bool)
    dt = np.diff(t)[same]
    dx, dy = np.diff(x)[same], np.diff(y)[same]
    step_t = t[1:][same]
    step_len = np.hypot(dx, dy)
    speed = step_len / dt * 1000.0
    step_stroke = s[1:][same]
    mid = step_t - dt / 2
    # consecutive steps of one stroke
    pair = (step_stroke[1:] == step_stroke[:-1]) if len(dt) > 1 else np.zeros(0, bool)
    dmid = np.diff(mid)
    accel = (np.diff(speed) / dmid * 1000.0)[pair]
    accel_mid = ((mid[1:] + mid[:-1]) / 2)[pair]
    accel_t = step_t[1:][pair]
    acc_stroke = step_stroke[1:][pair]
    jpair = (acc_stroke[1:] == acc_stroke[:-1]) if len(accel) > 1 else np.zeros(0, bool)
    jerk = (np.diff(accel) / np.diff(accel_mid) * 1000.0)[jpair]
    jerk_t = accel_t[1:][jpair]
    # turning angle at each interior sample
    ux, uy, l1 = dx[:-1][pair], dy[:-1][pair], step_len[:-1][pair]
    vx, vy, l2 = dx[1:][pair], dy[1:][pair], step_len[1:][pair]
    ok = (l1 >= MIN_STEP_PX) & (l2 >= MIN_STEP_PX)
    angle = np.arctan2(ux * vy - uy * vx, ux * vx + uy * vy)[ok]
    curv = np.abs(angle) / ((l1 + l2)[ok] / 2)
    curv_t = step_t[:-1][pair][ok]
    return Kinematics(
        step_t=step_t, step_dt=dt, step_len=step_len, speed=speed, accel_t=accel_t, accel=accel,
        jerk_t=jerk_t, jerk=jerk, curv_t=curv_t, curv=curv, angle=angle,
    )


def intervals(events):
    """Inter-event intervals (ms) of all events, in order."""
    return np.diff(_events_of(events).t_ms)


def dwell_times(events):
    """Press-to-release durations (ms).

    Returns:
        dict with ``button`` and ``key`` (arrays of dwell ms of matched pairs, same button /
        same key) and ``t_button``/``t_key`` (the press times). A release with nothing held
        is ignored; a second press of a held button restarts its dwell.
    """
    ev = _events_of(events)
    out = {"button": [], "key": [], "t_button": [], "t_key": []}
    held = {}
    idx = np.flatnonzero(np.isin(ev.type, ("press", "release", "key_down", "key_up")))
    for i in idx:
        typ = ev.type[i]
        kind = "button" if typ in ("press", "release") else "key"
        name = (kind, ev.button[i] if kind == "button" else ev.key[i])
        if typ in CLICK_TYPES:
            held[name] = ev.t_ms[i]
        elif name in held:
            t0 = held.pop(name)
            out[kind].append(ev.t_ms[i] - t0)
            out["t_" + kind].append(t0)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def click_times(events):
    """Times and positions of clicks (``press`` and ``key_down`` events)."""
    ev = _events_of(events)
    m = np.isin(ev.type, CLICK_TYPES)
    return ev.t_ms[m], ev.x[m], ev.y[m]


def _cum_path(track):
    """Cumulative path length along the track (straight steps between samples, pauses included)."""
    if len(track) == 0:
        return np.zeros(0)
    return np.r_[0.0, np.cumsum(np.hypot(np.diff(track.x), np.diff(track.y)))]


def path_efficiency(events, by="clicks", pause_ms=PAUSE_MS, min_path_px=MIN_PATH_PX, track=None):
    """Straight distance / path length of each movement.

    Args:
        events: Session or Events.
        by: ``"clicks"`` (the cursor path between consecutive clicks) or ``"strokes"``
            (each stroke between pauses).
        min_path_px: movements with a shorter path are left out.

    Returns:
        ``(efficiency, t_end)``: arrays, one entry per movement, in (0, 1].
    """
    ev = _events_of(events)
    tr = track if track is not None else cursor_track(ev, pause_ms)
    if len(tr) < 2:
        return np.zeros(0), np.zeros(0)
    cum = _cum_path(tr)
    if by == "strokes":
        starts = np.flatnonzero(np.r_[True, tr.stroke[1:] != tr.stroke[:-1]])
        ends = np.r_[starts[1:] - 1, len(tr) - 1]
    elif by == "clicks":
        ct, _, _ = click_times(ev)
        ct = np.unique(ct)
        if len(ct) < 2:
            return np.zeros(0), np.zeros(0)
        starts = np.searchsorted(tr.t, ct[:-1], side="right") - 1  # cursor sample at the click
        ends = np.searchsorted(tr.t, ct[1:], side="right") - 1
        ok = (starts >= 0) & (ends > starts)
        starts, ends = starts[ok], ends[ok]
    else:
        raise ValueError(f"by must be 'clicks' or 'strokes', got {by!r}")
    path = cum[ends] - cum[starts]
    straight = np.hypot(tr.x[ends] - tr.x[starts], tr.y[ends] - tr.y[starts])
    ok = path >= min_path_px
    eff = np.minimum(straight[ok] / path[ok], 1.0)
    return eff, tr.t[ends][ok]


def event_rates(events):
    """Events per second of each event type over the session's duration."""
    ev = _events_of(events)
    dur = (ev.t_ms[-1] - ev.t_ms[0]) / 1000.0 if len(ev) > 1 else 0.0
    types = ("move", "press", "release", "scroll", "key_down", "key_up")
    return {t: (float(np.sum(ev.type == t)) / dur if dur > 0 else float("nan")) for t in types}


# --------------------------------------------------------------------------- segments

FEATURE_NAMES = (
    "rate_events", "rate_move", "rate_click", "rate_release", "rate_scroll",
    "iei_q10", "iei_q50", "iei_q90", "iei_cv",
    "move_dt_q50", "move_dt_cv",
    "speed_q10", "speed_q50", "speed_q90", "speed_max", "speed_cv",
    "accel_q50", "accel_q90", "decel_frac",
    "jerk_q50", "jerk_q90",
    "curv_q50", "curv_q90", "turn_abs_mean", "reversal_frac",
    "pause_frac", "strokes_per_s", "speed_peaks_per_s", "path_px_per_s",
    "straight_stroke_q50", "straight_click_q50",
    "dwell_q50", "dwell_std",
)


def _split_by(seg, values, n):
    """``values`` grouped by segment id (a list of ``n`` arrays)."""
    if len(values) == 0:
        return [values[:0]] * n
    order = np.argsort(seg, kind="stable")
    seg_s, val_s = seg[order], values[order]
    bounds = np.searchsorted(seg_s, np.arange(n + 1))
    return [val_s[bounds[i]: bounds[i + 1]] for i in range(n)]


def _q(a, q):
    return float(np.quantile(a, q)) if len(a) else np.nan


def _cv(a):
    if len(a) < 2:
        return np.nan
    m = float(np.mean(a))
    return float(np.std(a) / m) if m > 0 else np.nan


def segment_features(events, segment_ms=SEGMENT_MS, pause_ms=PAUSE_MS, min_events=2):
    """One feature vector per ``segment_ms`` segment of a session.

    Segments start at the first event; the last one is kept only if it is at least half
    as long; segments with fewer than ``min_events`` events are dropped. Features that a
    segment cannot have (no clicks: no dwell) are NaN.

    Returns:
        ``(X, t_start)``: float array ``[n_segments, len(FEATURE_NAMES)]`` and each
        segment's start time (ms).
    """
    ev = _events_of(events)
    n_f = len(FEATURE_NAMES)
    if len(ev) < 2:
        return np.zeros((0, n_f)), np.zeros(0)
    t0 = float(ev.t_ms[0])
    t_end = float(ev.t_ms[-1])
    n = int(np.floor((t_end - t0) / segment_ms)) + 1
    if t0 + (n - 1) * segment_ms + segment_ms / 2 > t_end and n > 1:
        n -= 1  # the short tail
    n = max(n, 1)
    seg_len = np.full(n, segment_ms)
    seg_len[-1] = min(segment_ms, max(t_end - (t0 + (n - 1) * segment_ms), 1.0))
    sec = seg_len / 1000.0

    def segof(t):
        return np.floor((np.asarray(t) - t0) / segment_ms).astype(np.int64)

    def valid(t, *arrs):
        s = segof(t)
        m = (s >= 0) & (s < n)
        return (s[m],) + tuple(a[m] for a in arrs)

    tr = cursor_track(ev, pause_ms)
    k = kinematics(tr)
    X = np.full((n, n_f), np.nan)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}

    es = segof(ev.t_ms)
    es = np.clip(es, 0, n - 1)
    n_events = np.bincount(es, minlength=n)
    X[:, col["rate_events"]] = n_events / sec
    for name, types in (("rate_move", ("move",)), ("rate_click", CLICK_TYPES), ("rate_release", RELEASE_TYPES), ("rate_scroll", ("scroll",))):
        X[:, col[name]] = np.bincount(es[np.isin(ev.type, types)], minlength=n) / sec

    iei = np.diff(ev.t_ms)
    s_iei, iei_v = valid(ev.t_ms[1:], iei)
    for i, a in enumerate(_split_by(s_iei, iei_v, n)):
        X[i, col["iei_q10"]], X[i, col["iei_q50"]], X[i, col["iei_q90"]] = _q(a, 0.1), _q(a, 0.5), _q(a, 0.9)
        X[i, col["iei_cv"]] = _cv(a)

    s_st, dt_v, sp_v, len_v = valid(k.step_t, k.step_dt, k.speed, k.step_len)
    for i, (dts, sps, lens) in enumerate(zip(_split_by(s_st, dt_v, n), _split_by(s_st, sp_v, n), _split_by(s_st, len_v, n))):
        X[i, col["move_dt_q50"]], X[i, col["move_dt_cv"]] = _q(dts, 0.5), _cv(dts)
        X[i, col["speed_q10"]], X[i, col["speed_q50"]], X[i, col["speed_q90"]] = _q(sps, 0.1), _q(sps, 0.5), _q(sps, 0.9)
        X[i, col["speed_max"]] = float(sps.max()) if len(sps) else np.nan
        X[i, col["speed_cv"]] = _cv(sps)
        X[i, col["pause_frac"]] = max(0.0, 1.0 - float(dts.sum()) / seg_len[i])
        X[i, col["path_px_per_s"]] = float(lens.sum()) / sec[i]
    s_a, a_v = valid(k.accel_t, k.accel)
    for i, a in enumerate(_split_by(s_a, a_v, n)):
        X[i, col["accel_q50"]], X[i, col["accel_q90"]] = _q(np.abs(a), 0.5), _q(np.abs(a), 0.9)
        X[i, col["decel_frac"]] = float(np.mean(a < 0)) if len(a) else np.nan
    s_j, j_v = valid(k.jerk_t, k.jerk)
    for i, a in enumerate(_split_by(s_j, j_v, n)):
        X[i, col["jerk_q50"]], X[i, col["jerk_q90"]] = _q(np.abs(a), 0.5), _q(np.abs(a), 0.9)
    s_c, c_v, ang_v = valid(k.curv_t, k.curv, k.angle)
    for i, (c, ang) in enumerate(zip(_split_by(s_c, c_v, n), _split_by(s_c, ang_v, n))):
        X[i, col["curv_q50"]], X[i, col["curv_q90"]] = _q(c, 0.5), _q(c, 0.9)
        X[i, col["turn_abs_mean"]] = float(np.mean(np.abs(ang))) if len(ang) else np.nan
        X[i, col["reversal_frac"]] = float(np.mean(np.abs(ang) > np.pi / 2)) if len(ang) else np.nan
    if len(tr):
        starts = np.flatnonzero(np.r_[True, tr.stroke[1:] != tr.stroke[:-1]])
        s_s, = valid(tr.t[starts])
        X[:, col["strokes_per_s"]] = np.bincount(s_s, minlength=n) / sec
    # speed peaks (local maxima within a stroke): sub-movements
    if len(k.speed) > 2:
        sp, st = k.speed, k.step_t
        same_prev = np.r_[False, np.diff(st) == k.step_dt[1:]]  # consecutive steps of one stroke
        same_next = np.r_[same_prev[1:], False]
        prev, nxt = np.r_[np.inf, sp[:-1]], np.r_[sp[1:], np.inf]
        # a local maximum that stands out (5% or 1 px/s above its lower neighbour), not float noise
        prominent = sp - np.minimum(prev, nxt) > np.maximum(0.05 * sp, 1.0)
        peak = same_prev & same_next & (sp >= prev) & (sp > nxt) & prominent
        s_p, = valid(st[peak])
        X[:, col["speed_peaks_per_s"]] = np.bincount(s_p, minlength=n) / sec
    else:
        X[:, col["speed_peaks_per_s"]] = 0.0
    for name, by in (("straight_stroke_q50", "strokes"), ("straight_click_q50", "clicks")):
        eff, te = path_efficiency(ev, by=by, pause_ms=pause_ms, track=tr)
        s_e, e_v = valid(te, eff)
        for i, a in enumerate(_split_by(s_e, e_v, n)):
            X[i, col[name]] = _q(a, 0.5)
    d = dwell_times(ev)
    dw = np.r_[d["button"], d["key"]]
    s_d, d_v = valid(np.r_[d["t_button"], d["t_key"]], dw)
    for i, a in enumerate(_split_by(s_d, d_v, n)):
        X[i, col["dwell_q50"]] = _q(a, 0.5)
        X[i, col["dwell_std"]] = float(np.std(a)) if len(a) > 1 else np.nan
    keep = n_events >= min_events
    return X[keep], (t0 + np.arange(n) * segment_ms)[keep]


def quantities(events, pause_ms=PAUSE_MS):
    """Every pooled kinematic quantity of a session: ``{name: 1-D array}``.

    ``interval_ms`` (all inter-event intervals), ``move_interval_ms``, ``speed``,
    ``accel`` (signed), ``jerk`` (signed), ``curvature``, ``turn_angle``, ``dwell_ms``
    (buttons and keys), ``straightness_click``, ``straightness_stroke``,
    ``pause_ms`` (gaps between consecutive events longer than ``pause_ms``).
    """
    ev = _events_of(events)
    tr = cursor_track(ev, pause_ms)
    k = kinematics(tr)
    d = dwell_times(ev)
    iei = intervals(ev)
    return {
        "interval_ms": iei,
        "move_interval_ms": k.step_dt,
        "speed": k.speed,
        "accel": k.accel,
        "jerk": k.jerk,
        "curvature": k.curv,
        "turn_angle": k.angle,
        "dwell_ms": np.r_[d["button"], d["key"]],
        "straightness_click": path_efficiency(ev, "clicks", pause_ms, track=tr)[0],
        "straightness_stroke": path_efficiency(ev, "strokes", pause_ms, track=tr)[0],
        "pause_ms": iei[iei > pause_ms],
    }


def edge_share(sessions, margin=EDGE_MARGIN):
    """The share of on-screen cursor samples (moves, :func:`cursor_track`) within ``margin``
    (a fraction of the screen) of an edge, pooled over ``sessions``; None without samples.

    A closed-loop cursor that drifts (a persistent sampled deviation, exposure bias) ends up
    pinned at the edges; people seldom go there (SapiMouse: 0.4% of their moves)."""
    near = total = 0
    for s in sessions:
        tr = cursor_track(s)
        u = np.stack([tr.x / float(s.screen[0]), tr.y / float(s.screen[1])], axis=-1)
        near += int(np.any((u <= margin) | (u >= 1.0 - margin), axis=-1).sum())
        total += len(tr)
    return near / total if total else None


def still_share(sessions):
    """The share of moves at the very position of the event before them (in the same session;
    :func:`~actiongen_keras.generation.clock.still_moves`), pooled over ``sessions``; None
    without such pairs. Off-screen events and events without a position are left out.

    A browser or an OS reports the pointer when it moves: recordings hold almost none of these
    (SapiMouse: a median of 0.8% of a session's moves; osu! replays none), and a move event that
    does not move is a bot's tell to any detector that looks. A model sampling positions on a
    pixel grid draws many (``generation/clock.py``, moves on change)."""
    still = total = 0
    for s in sessions:
        ev = _events_of(s)
        off = np.asarray(ev.offscreen, dtype=bool)
        xy = np.stack([np.where(off, np.nan, ev.x), np.where(off, np.nan, ev.y)], axis=-1)
        st, compared = still_moves(ev.type, xy)
        still += int(st.sum())
        total += int(compared.sum())
    return still / total if total else None


def silent_share(sessions, segment_ms=SEGMENT_MS):
    """The share of ``segment_ms`` slices of the sessions' spans without a single event, pooled;
    None without a whole slice.

    A rollout's span is the generated one (``extra.generated_from_ms`` + ``generated_ms``), so a
    model that falls silent for good shows here, where the detector, which needs moves in a
    segment, cannot see it; other sessions span their first to their last event."""
    empty = total = 0
    for s in sessions:
        t = np.asarray(s.events.t_ms, dtype=np.float64)
        if "generated_from_ms" in s.extra and "generated_ms" in s.extra:
            a = float(s.extra["generated_from_ms"])
            b = a + float(s.extra["generated_ms"])
        elif len(t):
            a, b = float(t[0]), float(t[-1])
        else:
            continue
        n = int((b - a) // segment_ms)
        if n > 0:
            counts = np.histogram(t, bins=a + segment_ms * np.arange(n + 1))[0]
            empty += int((counts == 0).sum())
            total += n
    return empty / total if total else None


__all__ = [
    "Track", "Kinematics", "cursor_track", "kinematics", "intervals", "dwell_times", "click_times",
    "path_efficiency", "event_rates", "segment_features", "quantities", "edge_share", "silent_share", "still_share", "FEATURE_NAMES", "PAUSE_MS", "SEGMENT_MS",
    "EDGE_MARGIN",
]
