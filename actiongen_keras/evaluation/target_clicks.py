"""Click targets (``recordings/click_targets.py``): is each shown target clicked?

For a session whose state is a click target (``target_x``/``target_y`` columns: SapiMouse and
other recordings imported with ``--click-targets``, and their rollouts, which carry the
context's state), every distinct target shown within the session's span (first to last
event) is

* **clicked** when some press happened while it was shown (from the moment it appeared to
  its last snapshot, plus one snapshot step) with the cursor within :data:`TARGET_RADIUS_PX` of it,
* **reached** when the cursor came within the radius at some moment while it was shown.

The target's size was not recorded: the radius is the one a rollout's task uses
(``click_targets.TARGET_RADIUS_PX``, the bots' default target width's half,
``synthetic.DEFAULT_TARGET_WIDTH``), well beyond the targets' position noise (5 px per axis),
so a person's own presses count as clicked (about 1.0 in the human row) and a model's count
when it goes to the target and presses there. The same question as the osu! hit rate,
without a game clock: when to press is not given, only where.

How the path gets there is :func:`steering`: how far each step turns towards the current
target for how far the heading was off it. A hand corrects its course by a share of the
error at every step; a path whose heading random-walks turns little towards the target
and runs off course, which is what makes its strokes long and not straight.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.evaluation.osu_hits import cursor_samples, held_at
from actiongen_keras.recordings.click_targets import TARGET_RADIUS_PX


@dataclasses.dataclass
class ShownTargets:
    """Distinct targets of a session's state: position and the span they were shown (ms)."""

    x: np.ndarray
    y: np.ndarray
    start: np.ndarray
    end: np.ndarray


def shown_targets(session):
    """:class:`ShownTargets` from the ``target_x``/``target_y`` state columns (a run of
    snapshots with the same target is one target; shown from the moment it appeared,
    ``target_dt_ms``, to its last snapshot plus a step), or None without them."""
    st = session.state
    if st is None or "target_x" not in st.columns:
        return None
    t = np.asarray(st.t_ms, float)
    x, y = (np.asarray(st.columns[c], float) for c in ("target_x", "target_y"))
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return ShownTargets(*(np.zeros(0) for _ in range(4)))
    t, x, y = t[ok], x[ok], y[ok]
    step = float(np.median(np.diff(np.asarray(st.t_ms, float)))) if len(st.t_ms) > 1 else 0.0
    # shown since it appeared (``target_dt_ms``), which can fall between two snapshots (a quick
    # double click); a new appearance at the same place (its second click) is a new target
    dt = np.asarray(st.columns["target_dt_ms"], float)[ok] if "target_dt_ms" in st.columns else np.full(len(t), np.nan)
    appeared = np.where(np.isfinite(dt), t + np.minimum(dt, 0.0), t)
    new = np.r_[True, (np.diff(x) != 0) | (np.diff(y) != 0) | (np.diff(t) > 1.5 * step) | (np.abs(np.diff(appeared)) > 1.0)]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(t)] - 1
    return ShownTargets(x=x[starts], y=y[starts], start=appeared[starts], end=t[ends] + step)


def target_clicks(session, targets=None):
    """Per target shown within the session's span: ``{"x", "y", "clicked", "reached",
    "click_ms", "reach_ms", "first_press_px"}`` (ms from its appearance to the first press
    within the radius and to the cursor's first coming within it, NaN where none; the
    distance of the first press while it was shown, NaN without one), and ``span_ms`` (first
    to last event)."""
    tg = targets if targets is not None else shown_targets(session)
    ev = session.events
    if tg is None or len(ev) == 0:
        return None
    m = (tg.start >= ev.t_ms[0]) & (tg.end <= ev.t_ms[-1])
    x, y, start, end = tg.x[m], tg.y[m], tg.start[m], tg.end[m]
    n = len(x)
    click_ms, reach_ms, first_press_px = (np.full(n, np.nan) for _ in range(3))
    track = cursor_samples(ev)
    tt, tx, ty = track
    ct = np.sort(K.click_times(ev)[0])
    px, py = held_at(track, ct)
    hx, hy = held_at(track, start)  # where the cursor was when each target appeared
    c0, c1 = np.searchsorted(ct, start, side="left"), np.searchsorted(ct, end, side="right")
    s0, s1 = np.searchsorted(tt, start, side="left"), np.searchsorted(tt, end, side="right")
    for i in range(n):
        d = np.hypot(px[c0[i]:c1[i]] - x[i], py[c0[i]:c1[i]] - y[i])
        if len(d):
            first_press_px[i] = d[0]
            on = np.flatnonzero(d <= TARGET_RADIUS_PX)
            if len(on):
                click_ms[i] = ct[c0[i] + on[0]] - start[i]
        d = np.hypot(np.r_[hx[i], tx[s0[i]:s1[i]]] - x[i], np.r_[hy[i], ty[s0[i]:s1[i]]] - y[i])
        on = np.flatnonzero(d <= TARGET_RADIUS_PX)  # NaN (no cursor yet) is never within
        if len(on):
            reach_ms[i] = np.r_[start[i], tt[s0[i]:s1[i]]][on[0]] - start[i]
    return {"x": x, "y": y, "clicked": np.isfinite(click_ms), "reached": np.isfinite(reach_ms), "click_ms": click_ms,
            "reach_ms": reach_ms, "first_press_px": first_press_px, "span_ms": float(ev.t_ms[-1] - ev.t_ms[0])}


def target_at(session, t_ms):
    """``(x, y)``: the target the state shows at each time of ``t_ms`` (its last snapshot at or
    before it; NaN before the first), or None for a session without target columns or
    snapshots. The one lookup of the current target that :func:`steering` and
    :func:`stray_presses` share."""
    st = session.state
    if st is None or "target_x" not in st.columns or len(st.t_ms) == 0:
        return None
    k = np.searchsorted(np.asarray(st.t_ms, float), np.asarray(t_ms, float), side="right") - 1
    return tuple(np.where(k >= 0, np.asarray(st.columns[c], float)[np.maximum(k, 0)], np.nan) for c in ("target_x", "target_y"))


STEER_MIN_STEP_PX = 2.0  # both steps at least this long: a heading of a pixel's step is the grid's
STEER_MIN_DIST_PX = 40.0  # the target at least this far: near it the hand aims at a point on it, not at its centre
STEER_FAST_PX = 30.0  # a fast step (about 1,800 px/s at 60 Hz): a hand's ballistic part of a reach
STEER_MAX_DT_MS = 50.0  # both steps within this of their previous event: one stroke, not a new one after a pause
STEER_MAX_OFF_RAD = 1.0  # the pull is read below this error: a quarter turn and more is a stroke setting off, not a correction


def steering(session):
    """``(off, toward, length)``: per pair of consecutive move steps within one stroke (each at least
    :data:`STEER_MIN_STEP_PX` long, :data:`STEER_MAX_DT_MS` apart) with the current target
    (the state's ``target_x``/``target_y`` at the pair's middle event) at least
    :data:`STEER_MIN_DIST_PX` away: how far off the target the first step's heading was
    (``|angle|`` in [0, pi], radians) and how far the second step turned towards it (signed:
    negative turns away), and the first step's length (px). Empty arrays without targets or moves."""
    ev = session.events
    empty = (np.zeros(0), np.zeros(0), np.zeros(0))
    m = np.asarray(ev.type) == "move"
    t, x, y = np.asarray(ev.t_ms, float)[m], np.asarray(ev.x, float)[m], np.asarray(ev.y, float)[m]
    target = target_at(session, t[1:-1]) if len(t) >= 3 else None
    if target is None:
        return empty
    gx, gy = target
    dx, dy, dt = np.diff(x), np.diff(y), np.diff(t)
    length, heading = np.hypot(dx, dy), np.arctan2(dy, dx)
    with np.errstate(invalid="ignore"):
        ok = ((length[:-1] >= STEER_MIN_STEP_PX) & (length[1:] >= STEER_MIN_STEP_PX) & (dt[:-1] <= STEER_MAX_DT_MS)
              & (dt[1:] <= STEER_MAX_DT_MS) & (np.hypot(gx - x[1:-1], gy - y[1:-1]) >= STEER_MIN_DIST_PX))
    off = np.angle(np.exp(1j * (np.arctan2(gy - y[1:-1], gx - x[1:-1]) - heading[:-1])))
    turn = np.angle(np.exp(1j * (heading[1:] - heading[:-1])))
    return np.abs(off[ok]), (turn * np.sign(off))[ok], length[:-1][ok]


def pull_slope(off, toward):
    """The least-squares slope through 0 of ``toward`` (the turn towards the target, radians,
    negative away) on ``off`` (the heading's error, ``|angle|``), over errors below
    :data:`STEER_MAX_OFF_RAD` and finite turns: the share of its error a path corrects per
    step. None where no step qualifies. :func:`pooled_steering` reads whole paths with it,
    ``benchmarks/xy_error_by_step.py`` a head's one-step draws."""
    off, toward = np.asarray(off, float), np.asarray(toward, float)
    ok = (off < STEER_MAX_OFF_RAD) & np.isfinite(toward)
    denominator = float(np.sum(np.square(off[ok])))
    return float(np.sum(toward[ok] * off[ok]) / denominator) if denominator > 0 else None


def pooled_steering(sessions):
    """:func:`steering` over ``sessions``: ``{"pull_slope", "off_course_median",
    "off_course_fast_median", "n_steps"}``. ``pull_slope`` is :func:`pull_slope`, the share
    of its error a path corrects per step. ``off_course_median`` is the median error (radians), and
    ``off_course_fast_median`` that of the steps of :data:`STEER_FAST_PX` or more: a hand
    moves fast towards a target (SapiMouse: 0.27 rad off), a path whose speed random-walks
    also runs fast where none is (the polar head: 1.38). None where no step qualifies."""
    parts = [steering(s) for s in sessions]
    off, toward, length = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(3))
    fast = length >= STEER_FAST_PX
    return {"pull_slope": pull_slope(off, toward),
            "off_course_median": float(np.median(off)) if len(off) else None,
            "off_course_fast_median": float(np.median(off[fast])) if fast.any() else None, "n_steps": int(len(off))}


STRAY_PRESS_PX = 2 * TARGET_RADIUS_PX  # a press this far from the current target is on nothing


def stray_presses(session):
    """``(presses, stray)``: the mouse presses made while a target was shown (the state's
    ``target_x``/``target_y`` at the press) and how many of them fell more than
    :data:`STRAY_PRESS_PX` from it. A person's presses are their targets (SapiMouse: none
    stray); a model whose press decision hears the target's distance only faintly presses
    anywhere."""
    ev = session.events
    t = np.asarray(ev.t_ms, float)[np.asarray(ev.type) == "press"]
    target = target_at(session, t) if len(t) else None
    if target is None:
        return 0, 0
    px, py = held_at(cursor_samples(ev), t)
    d = np.hypot(px - target[0], py - target[1])
    shown = np.isfinite(d)
    return int(shown.sum()), int((shown & (d > STRAY_PRESS_PX)).sum())


def pooled_target_clicks(sessions):
    """Clicked and reached targets over ``sessions`` (those without targets skipped):
    ``{"rate_clicked", "rate_reached", "clicked_per_minute", "click_ms_median",
    "reach_ms_median", "first_press_px_median", "n_targets", "n_sessions", "per_session"}``,
    :func:`pooled_steering`'s ``"steering"`` and the share of presses that were
    :func:`stray_presses` (``"stray_press_share"``). In a rollout whose targets follow its own clicks
    (``generation/rollout.py``) nearly every target shown is clicked, since the next one
    appears only then: there the pace, ``clicked_per_minute`` against the people's over the
    same spans, is the reading."""
    presses, stray = (sum(v) for v in zip(*[stray_presses(s) for s in sessions])) if sessions else (0, 0)
    stray_share = stray / presses if presses else None
    per = {}
    for s in sessions:
        r = target_clicks(s)
        if r is not None and len(r["x"]):
            per[s.session_id] = r
    n = sum(len(r["x"]) for r in per.values())
    if n == 0:
        return {"rate_clicked": None, "rate_reached": None, "clicked_per_minute": None, "click_ms_median": None, "reach_ms_median": None,
                "first_press_px_median": None, "n_targets": 0, "n_sessions": 0, "per_session": {}, "steering": pooled_steering(sessions), "stray_press_share": stray_share}
    minutes = sum(r["span_ms"] for r in per.values()) / 60000.0
    clicked = sum(int(r["clicked"].sum()) for r in per.values())

    def median(key):
        v = np.concatenate([r[key] for r in per.values()])
        return float(np.nanmedian(v)) if np.isfinite(v).any() else None

    return {
        "rate_clicked": clicked / n, "clicked_per_minute": clicked / minutes if minutes > 0 else None,
        "rate_reached": sum(int(r["reached"].sum()) for r in per.values()) / n,
        # medians: when the clicked ones were clicked and the reached ones reached, and how far the first press fell
        "click_ms_median": median("click_ms"), "reach_ms_median": median("reach_ms"), "first_press_px_median": median("first_press_px"),
        "n_targets": n, "n_sessions": len(per),
        "per_session": {k: round(float(r["clicked"].mean()), 4) for k, r in per.items()},
        "steering": pooled_steering(sessions), "stray_press_share": stray_share,
    }
