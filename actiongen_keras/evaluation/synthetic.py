"""Two hand-written bot baselines that play the same contexts as a real session.

Each bot gets a real session's *context*: its screen, its clicks (the time, position,
and button or key of every ``press``/``key_down``: the targets and the timing budget) and
its game state, and produces a session in the same format (``source: "generated"``,
``subject`` of the real session, ``extra.generator``/``extra.context_session_id``).
It presses at the real click times, on the real click positions, and moves between
them; it samples the cursor at the real session's median move interval, and quantises
positions to whole pixels when the real ones are whole. Both are seeded and deterministic.

(a) :func:`bezier_session`: a cubic Bezier curve from one target to the next (control
    points at random along the line, pushed sideways by a normal spread of 15% of the
    distance, as in the ``ghost-cursor`` family of bots), traversed with a minimum-jerk
    time profile ``10s^3 - 15s^4 + 6s^5`` for a Fitts'-law movement time
    ``MT = a + b log2(D/W + 1)``; with probability ``overshoot_prob`` on movements longer
    than three target widths, it aims past the target (3-12% of the distance, plus
    sideways noise) and corrects back with a short second curve (the last 20% of MT).
    ``a``, ``b`` are fitted by least squares on the real data's click-to-click
    movements (:func:`fit_fitts_sessions`), or :data:`DEFAULT_FITTS`.
(b) :func:`windmouse_session`: Benjamin J. Land's WindMouse: each step the velocity gets
    gravity ``G0`` towards the target plus a random "wind" whose components are damped
    by ``sqrt(3)`` and refreshed by uniform noise of ``W0/sqrt(5)``; speed is capped at
    ``M0`` (clipped to a random ``M0/2..M0``); within ``D0`` of the target the wind only
    decays and the cap shrinks by ``sqrt(5)`` (never below 3..6); it stops within 1 px
    and then sits on the target. One step per sampling interval; a movement that would
    overrun the time to the next click is time-compressed to fit it.

Both bots release after a uniform 70..110 ms dwell (shortened before a fast re-press of
the same button or key), and do not move between movements.
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.recordings.session import Events, Session

#: (a ms, b ms/bit) when nothing can be fitted: the usual order of magnitude for mouse
#: pointing (b of 100-200 ms/bit, a of about 100 ms).
DEFAULT_FITTS = (100.0, 150.0)
#: Target width (px) where the data does not say (no ``circle_radius`` state column).
DEFAULT_TARGET_WIDTH = 40.0
DEFAULT_DT_MS = 1000.0 / 60.0
DWELL_MS = (70.0, 110.0)
WINDMOUSE = {"G0": 9.0, "W0": 3.0, "M0": 15.0, "D0": 12.0}


# --------------------------------------------------------------------------- Fitts


def fitts_time(D, W, a, b):
    """Fitts' law movement time ``a + b * log2(D / W + 1)``."""
    return a + b * np.log2(np.asarray(D, dtype=float) / np.asarray(W, dtype=float) + 1.0)


def fit_fitts(D, W, MT):
    """Least-squares ``(a, b)`` of ``MT = a + b log2(D/W + 1)``."""
    ID = np.log2(np.asarray(D, float) / np.asarray(W, float) + 1.0)
    A = np.c_[np.ones_like(ID), ID]
    (a, b), *_ = np.linalg.lstsq(A, np.asarray(MT, float), rcond=None)
    return float(a), float(b)


def target_width(session):
    """Target width (px): the osu! circle diameter from state, else :data:`DEFAULT_TARGET_WIDTH`."""
    st = getattr(session, "state", None)
    if st is not None and "circle_radius" in st.columns:
        r = np.asarray(st.columns["circle_radius"], float)
        r = r[np.isfinite(r)]
        if len(r):
            return float(2 * np.median(r))
    return DEFAULT_TARGET_WIDTH


def click_movements(session, width=None, onset_frac=0.05):
    """Click-to-click movements of a real session: ``(D, W, MT)`` arrays.

    ``D``: distance between the cursor at one click and at the next; ``MT``: time from
    the movement's onset (the last sample still within ``onset_frac * D`` of the start)
    to the next click. Movements shorter than half a target width are left out.
    """
    W = target_width(session) if width is None else float(width)
    tr = K.cursor_track(session, pause_ms=np.inf)
    ct = np.unique(K.click_times(session)[0])
    Ds, MTs = [], []
    if len(tr) < 2 or len(ct) < 2:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    i0s = np.searchsorted(tr.t, ct[:-1], side="right") - 1
    i1s = np.searchsorted(tr.t, ct[1:], side="right") - 1
    for c1, i0, i1 in zip(ct[1:], i0s, i1s):
        if i0 < 0 or i1 <= i0:
            continue
        sx, sy = tr.x[i0], tr.y[i0]
        D = float(np.hypot(tr.x[i1] - sx, tr.y[i1] - sy))
        if D < W / 2:
            continue
        d0 = np.hypot(tr.x[i0: i1 + 1] - sx, tr.y[i0: i1 + 1] - sy)
        near = np.flatnonzero(d0 <= onset_frac * D)
        onset = tr.t[i0 + near[-1]] if len(near) else tr.t[i0]
        Ds.append(D)
        MTs.append(c1 - onset)
    return np.asarray(Ds), np.full(len(Ds), W), np.asarray(MTs)


def fit_fitts_sessions(sessions, min_n=20):
    """Fit Fitts' law on the click-to-click movements of ``sessions``.

    Returns ``{"a", "b", "n", "r2", "source"}``; ``source`` is ``"fit"``, or ``"default"``
    (with :data:`DEFAULT_FITTS`) when there are fewer than ``min_n`` movements or the fitted
    slope is not positive.
    """
    parts = [click_movements(s) for s in sessions]
    D = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    W = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    MT = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
    if len(D) >= min_n:
        a, b = fit_fitts(D, W, MT)
        pred = fitts_time(D, W, a, b)
        ss = float(np.sum((MT - MT.mean()) ** 2))
        r2 = 1 - float(np.sum((MT - pred) ** 2)) / ss if ss > 0 else float("nan")
        if b > 0:
            return {"a": a, "b": b, "n": int(len(D)), "r2": r2, "source": "fit"}
    return {"a": DEFAULT_FITTS[0], "b": DEFAULT_FITTS[1], "n": int(len(D)), "r2": None, "source": "default"}


# --------------------------------------------------------------------------- paths


def _min_jerk(s):
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def bezier_points(p0, p1, n, rng, spread_frac=0.15):
    """``n`` points (excluding ``p0``, ending exactly at ``p1``) along a random cubic Bezier curve."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    D = float(np.hypot(*d))
    perp = np.array([-d[1], d[0]]) / D if D > 0 else np.zeros(2)
    spread = spread_frac * D
    c1 = p0 + d * rng.uniform(0.2, 0.4) + perp * rng.normal(0, spread)
    c2 = p0 + d * rng.uniform(0.6, 0.8) + perp * rng.normal(0, spread)
    u = _min_jerk(np.arange(1, n + 1) / n)[:, None]
    pts = (1 - u) ** 3 * p0 + 3 * (1 - u) ** 2 * u * c1 + 3 * (1 - u) * u**2 * c2 + u**3 * p1
    pts[-1] = p1
    return pts


def bezier_move(p0, p1, n, rng, width, overshoot_prob=0.5):
    """Points of one Bezier movement in ``n`` samples, with an optional overshoot and correction."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    D = float(np.hypot(*d))
    if n >= 4 and D > 3 * width and rng.random() < overshoot_prob:
        u = d / D
        over = p1 + u * D * rng.uniform(0.03, 0.12) + np.array([-u[1], u[0]]) * rng.normal(0, width / 4)
        n1 = max(1, int(round(0.8 * n)))
        return np.vstack([bezier_points(p0, over, n1, rng), bezier_points(over, p1, n - n1, rng, spread_frac=0.05)])
    return bezier_points(p0, p1, n, rng)


def windmouse_points(p0, p1, rng, G0=9.0, W0=3.0, M0=15.0, D0=12.0, max_steps=5000):
    """Positions of Benjamin J. Land's WindMouse from ``p0`` to ``p1`` (one per step, ending on ``p1``)."""
    sqrt3, sqrt5 = np.sqrt(3.0), np.sqrt(5.0)
    x, y = float(p0[0]), float(p0[1])
    tx, ty = float(p1[0]), float(p1[1])
    vx = vy = wx = wy = 0.0
    m0 = float(M0)
    out = []
    for _ in range(max_steps):
        dist = np.hypot(tx - x, ty - y)
        if dist < 1:
            break
        w_mag = min(W0, dist)
        if dist >= D0:
            wx = wx / sqrt3 + (2 * rng.random() - 1) * w_mag / sqrt5
            wy = wy / sqrt3 + (2 * rng.random() - 1) * w_mag / sqrt5
        else:
            wx /= sqrt3
            wy /= sqrt3
            if m0 < 3:
                m0 = rng.random() * 3 + 3
            else:
                m0 /= sqrt5
        vx += wx + G0 * (tx - x) / dist
        vy += wy + G0 * (ty - y) / dist
        v_mag = np.hypot(vx, vy)
        if v_mag > m0:
            v_clip = m0 / 2 + rng.random() * m0 / 2
            vx, vy = vx / v_mag * v_clip, vy / v_mag * v_clip
        x += vx
        y += vy
        out.append((x, y))
    out.append((tx, ty))
    return np.asarray(out)


# --------------------------------------------------------------------------- sessions


def sampling_interval(session):
    """Median interval (ms) between the real session's cursor samples."""
    tr = K.cursor_track(session, pause_ms=np.inf)
    dt = np.diff(tr.t)
    return float(np.median(dt)) if len(dt) else DEFAULT_DT_MS


def _integer_positions(session):
    ev = session.events
    m = ev.type == "move"
    return bool(m.any()) and bool(np.all(ev.x[m] == np.round(ev.x[m])) and np.all(ev.y[m] == np.round(ev.y[m])))


def _bot_session(real, name, seed, dt_ms, plan):
    """Assemble a bot's session: ``plan(p0, p1, budget_ms, rng) -> (points [n,2], duration_ms)``."""
    rng = np.random.default_rng(seed)
    ev = real.events
    dt = sampling_interval(real) if dt_ms is None else float(dt_ms)
    w, h = real.screen
    click = np.flatnonzero(np.isin(ev.type, K.CLICK_TYPES))
    onscreen = np.flatnonzero((ev.type == "move") & ~ev.offscreen)
    first = onscreen[0] if len(onscreen) else (click[0] if len(click) else 0)
    t_start = float(ev.t_ms[0]) if len(ev) else 0.0
    pos = np.array([ev.x[first], ev.y[first]], float) if len(ev) else np.array([w / 2, h / 2])
    mt, mx, my = [t_start], [pos[0]], [pos[1]]
    last_t = t_start
    for i in click:
        target = np.array([ev.x[i], ev.y[i]], float)
        ti = float(ev.t_ms[i])
        if np.hypot(*(target - pos)) > 0:
            budget = max(ti - last_t - dt, 0.0)
            pts, dur = plan(pos, target, budget, rng, dt)
            dur = min(dur, budget)
            times = ti - dur + dur * np.arange(1, len(pts) + 1) / len(pts)
            mt.extend(times.tolist())
            mx.extend(pts[:, 0].tolist())
            my.extend(pts[:, 1].tolist())
            pos = target
        last_t = ti
    mt, mx, my = np.asarray(mt), np.clip(mx, 0, w), np.clip(my, 0, h)
    if _integer_positions(real):
        mx, my = np.round(mx), np.round(my)
    moved = np.r_[True, (np.diff(mx) != 0) | (np.diff(my) != 0)]
    mt, mx, my = mt[moved], mx[moved], my[moved]
    # presses at the real click times, releases after the bot's own dwell
    ct = ev.t_ms[click]
    names = [(ev.type[i], ev.button[i], ev.key[i]) for i in click]
    rel_t = ct + rng.uniform(*DWELL_MS, size=len(ct))
    by_name = {}
    for j, nm in enumerate(names):
        by_name.setdefault(nm, []).append(j)
    for js in by_name.values():
        for a, b in zip(js[:-1], js[1:]):
            if rel_t[a] >= ct[b]:
                rel_t[a] = ct[a] + max(0.5 * (ct[b] - ct[a]), 0.0)
    rel_type = {"press": "release", "key_down": "key_up"}
    t = np.r_[mt, ct, rel_t]
    typ = np.r_[np.full(len(mt), "move", object), [n[0] for n in names], [rel_type[n[0]] for n in names]].astype(object)
    btn = np.r_[np.full(len(mt), "", object), [n[1] for n in names], [n[1] for n in names]].astype(object)
    key = np.r_[np.full(len(mt), "", object), [n[2] for n in names], [n[2] for n in names]].astype(object)
    sub = np.r_[np.zeros(len(mt)), np.full(len(ct), 2), np.ones(len(ct))]
    order = np.lexsort((sub, t))
    t, typ, btn, key = t[order], typ[order], btn[order], key[order]
    # every event carries the cursor position at its time (the last move at or before it)
    j = np.clip(np.searchsorted(mt, t, side="right") - 1, 0, len(mt) - 1)
    events = Events.from_columns(t_ms=t, type=typ, x=mx[j], y=my[j], button=btn, key=key)
    extra = dict(real.extra)
    extra.update({"generator": name, "context_session_id": real.session_id, "seed": int(seed), "human_channels": []})
    return Session(
        session_id=f"{real.session_id}.{name}", source="generated", subject=real.subject, screen=real.screen,
        events=events, game=real.game, state_columns=real.state_columns, state=real.state, time_scale=real.time_scale,
        provenance=f"hand-written bot baseline '{name}' on the context of {real.session_id}", extra=extra,
    )


def bezier_session(real, fitts=None, seed=0, dt_ms=None, width=None, overshoot_prob=0.5):
    """Bezier + Fitts' law bot on the context of ``real`` (see the module docstring).

    ``fitts``: ``(a, b)`` in ms (default :data:`DEFAULT_FITTS`); ``width``: target width
    (default :func:`target_width`).
    """
    a, b = DEFAULT_FITTS if fitts is None else fitts
    W = target_width(real) if width is None else float(width)

    def plan(p0, p1, budget, rng, dt):
        D = float(np.hypot(*(p1 - p0)))
        mt = min(float(fitts_time(D, W, a, b)), budget)
        n = max(1, int(round(mt / dt)))
        return bezier_move(p0, p1, n, rng, W, overshoot_prob), n * dt

    return _bot_session(real, "bezier", seed, dt_ms, plan)


def windmouse_session(real, seed=0, dt_ms=None, G0=9.0, W0=3.0, M0=15.0, D0=12.0):
    """WindMouse bot on the context of ``real`` (see the module docstring)."""

    def plan(p0, p1, budget, rng, dt):
        pts = windmouse_points(p0, p1, rng, G0, W0, M0, D0)
        return pts, len(pts) * dt

    return _bot_session(real, "wind", seed, dt_ms, plan)


__all__ = [
    "DEFAULT_FITTS", "DEFAULT_TARGET_WIDTH", "fitts_time", "fit_fitts", "fit_fitts_sessions", "click_movements",
    "target_width", "bezier_points", "bezier_move", "windmouse_points", "sampling_interval", "bezier_session",
    "windmouse_session",
]
