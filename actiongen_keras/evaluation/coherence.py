"""Temporal coherence: things a person's input cannot do, counted per session.

:func:`violations` counts, for one session:

* ``release_without_press``: a ``release`` of a button that is not held;
* ``key_up_without_key_down``: a ``key_up`` of a key that is not held;
* ``press_while_held`` / ``key_down_while_held``: a second press of a held button or key;
* ``held_at_end``: buttons and keys still held when the session ends (counted, often benign);
* ``time_backwards``: an event earlier than the one before it;
* ``speed_above_human``: cursor steps (consecutive on-screen moves) faster than
  ``max_speed`` px/s, the fastest human movement (e.g. p99.9 of real speeds);
* ``rate_outside_human``: segments (:data:`~actiongen_keras.evaluation.kinematics.SEGMENT_MS`)
  whose event rate (events/s) is outside ``rate_range`` (e.g. real p1..p99 of segment rates);
* ``pause_outside_human``: pauses (inter-event gaps longer than ``PAUSE_MS``) outside
  ``pause_range`` (e.g. real p1..p99 of pauses).

The human ranges come from real sessions with :func:`human_ranges`; counting the real
sessions themselves gives the reference (by construction about 0.1% of steps and 2% of
segments and pauses).
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.evaluation import kinematics as K

KINDS = (
    "release_without_press", "key_up_without_key_down", "press_while_held", "key_down_while_held", "held_at_end",
    "time_backwards", "speed_above_human", "rate_outside_human", "pause_outside_human",
)


def _segment_rates(ev, segment_ms=K.SEGMENT_MS):
    X, _ = K.segment_features(ev, segment_ms=segment_ms, min_events=0)
    return X[:, K.FEATURE_NAMES.index("rate_events")]


def human_ranges(real_sessions, speed_q=0.999, lo_q=0.01, hi_q=0.99, pause_ms=K.PAUSE_MS, segment_ms=K.SEGMENT_MS):
    """``{"max_speed", "rate_range", "pause_range"}`` from real sessions (px/s, events/s, ms)."""
    speeds, rates, pauses = [], [], []
    for s in real_sessions:
        ev = K._events_of(s)
        speeds.append(K.kinematics(K.cursor_track(ev, pause_ms=np.inf)).speed)
        rates.append(_segment_rates(ev, segment_ms))
        iei = np.diff(ev.t_ms)
        pauses.append(iei[iei > pause_ms])
    sp, ra, pa = (np.concatenate(v) if v else np.zeros(0) for v in (speeds, rates, pauses))
    q = lambda a, p: float(np.quantile(a, p)) if len(a) else None  # noqa: E731
    return {
        "max_speed": q(sp, speed_q), "rate_range": [q(ra, lo_q), q(ra, hi_q)], "pause_range": [q(pa, lo_q), q(pa, hi_q)],
        "quantiles": {"speed": speed_q, "low": lo_q, "high": hi_q}, "pause_ms": pause_ms, "segment_ms": segment_ms,
    }


def _bounds(r):
    """``(lo, hi)`` with a missing bound (None: no human data) open."""
    lo, hi = r
    return (-np.inf if lo is None else lo), (np.inf if hi is None else hi)


def violations(events, max_speed=None, rate_range=None, pause_range=None, pause_ms=K.PAUSE_MS, segment_ms=K.SEGMENT_MS):
    """Counts of each kind in :data:`KINDS` for one session (Session or Events).

    Checks whose threshold is ``None`` count 0. Also returns ``n_events``, ``n_steps``,
    ``n_segments``, ``n_pauses`` (the denominators).
    """
    ev = K._events_of(events)
    c = dict.fromkeys(KINDS, 0)
    held = set()
    for i in np.flatnonzero(np.isin(ev.type, ("press", "release", "key_down", "key_up"))):
        typ = ev.type[i]
        name = ("b", ev.button[i]) if typ in ("press", "release") else ("k", ev.key[i])
        if typ in ("press", "key_down"):
            if name in held:
                c["press_while_held" if typ == "press" else "key_down_while_held"] += 1
            held.add(name)
        else:
            if name not in held:
                c["release_without_press" if typ == "release" else "key_up_without_key_down"] += 1
            held.discard(name)
    c["held_at_end"] = len(held)
    c["time_backwards"] = int(np.sum(np.diff(ev.t_ms) < 0))
    speed = K.kinematics(K.cursor_track(ev, pause_ms=np.inf)).speed
    if max_speed is not None:
        c["speed_above_human"] = int(np.sum(speed > max_speed))
    rates = _segment_rates(ev, segment_ms) if len(ev) > 1 else np.zeros(0)
    if rate_range is not None:
        lo, hi = _bounds(rate_range)
        c["rate_outside_human"] = int(np.sum((rates < lo) | (rates > hi)))
    iei = np.diff(ev.t_ms)
    pauses = iei[iei > pause_ms]
    if pause_range is not None:
        lo, hi = _bounds(pause_range)
        c["pause_outside_human"] = int(np.sum((pauses < lo) | (pauses > hi)))
    c.update({"n_events": int(len(ev)), "n_steps": int(len(speed)), "n_segments": int(len(rates)), "n_pauses": int(len(pauses))})
    return c


def total_violations(sessions, ranges=None, **kw):
    """Summed :func:`violations` over ``sessions`` with ``ranges`` from :func:`human_ranges`."""
    r = ranges or {}
    tot = {}
    for s in sessions:
        v = violations(s, max_speed=r.get("max_speed"), rate_range=r.get("rate_range"), pause_range=r.get("pause_range"), **kw)
        for k, n in v.items():
            tot[k] = tot.get(k, 0) + n
    tot["n_sessions"] = len(sessions)
    return tot


__all__ = ["KINDS", "human_ranges", "violations", "total_violations"]
