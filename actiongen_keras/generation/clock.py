"""The recorder's clock, pixel grid and moves on change, read off a recording's own timestamps
and positions (:func:`recorder_of`).

Recorders stamp input on a clock: a 60 Hz game or browser frame stamped in whole
milliseconds gives intervals of 16 and 17 ms, a 125 Hz mouse 8 ms, Balabit's remote
desktop about 15.6 ms. A generator whose intervals are continuous is told apart at once
(SapiMouse: the detector's interval cue). :func:`estimate_clock` finds the tick of a
context from its events, and the sampling loop puts every generated event on that tick
(:func:`~actiongen_keras.generation.sampler.on_clock`), so the generated stream keeps the
clock of whatever it continues, including sources it was never trained on.

The period is the one whose phases ``t mod period`` concentrate most (the length of the
mean of ``exp(2 pi i t / period)``); any divisor of a clock's period concentrates as well,
so the longest period within :data:`TOLERANCE` of the best one is taken. A recording
without a clear tick (concentration below :data:`MIN_STRENGTH`) gets period 0: its times
are only rounded to its resolution (1 ms when every stamp is a whole millisecond).

The tick is read off the moves (the cursor is polled per frame). Whether the other events
(presses, keys, scrolls) fall on it too depends on the recorder: an osu! replay stores
buttons per frame, a browser stamps a click when it happens (SapiMouse: 7 ms after a move
is common). :func:`estimate_clock` measures that as well (:func:`on_ticks`).

Positions sit on a grid too: most recorders store whole pixels (SapiMouse, Balabit, a
browser, OSRS), osu! replays store sub-pixel floats. :func:`pixel_grid` tells which from the
context's own positions, and the sampling loop puts every generated position on that grid
(:func:`~actiongen_keras.generation.sampler.sample_window`): the model then reads whole
pixels in closed loop as it did in training, and the stream keeps its recorder's grid.

And most recorders report the pointer when it moves, not while it stands: :func:`moves_on_change`
tells which from the context's moves, and where it does the rollout leaves out the generated
moves that stand on the position before them (:func:`still_moves`,
``generation/rollout.py``), which on a pixel grid a model draws often and a recorder never writes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MIN_PERIOD_MS, MAX_PERIOD_MS = 4.0, 40.0
"""The ticks looked for: 250 Hz down to 25 Hz (faster clocks only need the rounding)."""
MIN_STRENGTH = 0.5
"""Concentration (0 = uniform phases, 1 = every event on a tick) below which there is no clock."""
TOLERANCE = 0.9
MIN_EVENTS = 30


def _strength(t, periods):
    ph = 2.0 * np.pi * t[None, :] / periods[:, None]
    return np.hypot(np.cos(ph).mean(axis=1), np.sin(ph).mean(axis=1))


def estimate_clock(t_ms, max_events=2000, others_ms=None):
    """``(period, phase, resolution, others_tick)`` in ms of the move timestamps ``t_ms``
    (session clock; the last ``max_events``): ticks at ``phase + k * period``; period 0 = no
    clock found. ``others_tick`` is 1.0 when the times ``others_ms`` of the other events lie
    on the same ticks (:func:`on_ticks`), else 0.0."""
    period, phase, res = _estimate(t_ms, max_events)
    others = np.asarray([] if others_ms is None else others_ms, dtype=np.float64)
    others = others[np.isfinite(others)][-int(max_events):]
    if len(others) and res and np.any(np.abs(others - np.round(others)) > 1e-6):
        res = 0.0  # whole-ms moves but fractional clicks: keep the fractions
    return period, phase, res, (1.0 if period > 0 and on_ticks(others, period, phase) else 0.0)


def pixel_grid(x, y, max_events=2000):
    """The position grid of a recorder in pixels, from the positions ``x``, ``y`` (pixels) of
    its last ``max_events`` cursor events: 1.0 when every one is a whole pixel, 0.0 when any
    is not (sub-pixel recorders: osu! replays, a tablet) or there are fewer than
    :data:`MIN_EVENTS` (no evidence: leave positions as sampled)."""
    xy = np.stack([np.asarray(x, np.float64), np.asarray(y, np.float64)], axis=-1)
    xy = xy[np.all(np.isfinite(xy), axis=-1)][-int(max_events):]
    if len(xy) < MIN_EVENTS:
        return 0.0
    return 1.0 if np.all(np.abs(xy - np.round(xy)) < 1e-6) else 0.0


STILL_MAX = 0.2
"""Share of a recorder's consecutive moves that repeat the position before, at or above which
it reports the cursor where it stands (a polling recorder) rather than when it moves."""


def still_moves(types, xy, last_xy=None, move_type="move", atol=0.0):
    """``(still, compared)`` masks over events: ``compared``, the moves with a position and one
    before them (``last_xy`` before the first; None: the first is not compared); ``still``,
    those at the position before them, within ``atol`` on each axis (NaN, no position, is
    never still). ``xy [n, 2]`` in any one unit (pixels; screen units, on the recorder's pixel
    grid where it has one).

    The one definition of a move that does not move: :func:`moves_on_change` reads a
    recorder's share of them, the rollout leaves the generated ones out where the recorder
    never writes them, and the evaluation reports their share
    (:func:`~actiongen_keras.evaluation.kinematics.still_share`)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    first = np.full((1, 2), np.nan) if last_xy is None else np.asarray(last_xy, np.float64).reshape(1, 2)
    before = np.concatenate([first, xy[:-1]])
    compared = (np.asarray(types) == move_type) & np.all(np.isfinite(xy) & np.isfinite(before), axis=-1)
    return compared & np.all(np.abs(xy - before) <= atol, axis=-1), compared


def moves_on_change(types, x, y, max_events=2000):
    """Whether the recorder of the events ``types``, ``x``, ``y`` (pixels; its last ``max_events``)
    reports a move only when the position changes: fewer than :data:`STILL_MAX` of its moves
    stand at the position of the event before them (:func:`still_moves`). A browser's or an
    OS's pointer events do (SapiMouse: a median of 0.8% of a session's moves, at most 11%;
    Balabit at most 0.3%; osu! replays none; the OSRS sample 4.6%: ``benchmarks/still_moves.py``);
    a recorder polling a still cursor would not. False where fewer than :data:`MIN_EVENTS`
    moves are compared (no evidence: every generated move is kept)."""
    n = int(max_events)
    still, compared = still_moves(np.asarray(types)[-n:], np.stack([np.asarray(x)[-n:], np.asarray(y)[-n:]], axis=-1))
    return bool(compared.sum() >= MIN_EVENTS and still.sum() < STILL_MAX * compared.sum())


def on_ticks(t_ms, period, phase, min_events=5):
    """Whether the times ``t_ms`` lie on the ticks ``phase + k * period``: the mean of
    ``cos(2 pi (t - phase) / period)`` is at least :data:`MIN_STRENGTH` (times that keep a
    fixed offset from the ticks, such as clicks 7 ms after a frame, do not; too few: no)."""
    t = np.asarray(t_ms, dtype=np.float64)
    if len(t) < min_events:
        return False
    return bool(np.cos(2.0 * np.pi * (t - phase) / period).mean() >= MIN_STRENGTH)


def _estimate(t_ms, max_events):
    t = np.asarray(t_ms, dtype=np.float64)
    t = t[np.isfinite(t)][-int(max_events):]
    res = 1.0 if len(t) and np.all(np.abs(t - np.round(t)) < 1e-6) else 0.0
    if len(t) < MIN_EVENTS:
        return 0.0, 0.0, res
    origin = t[0]
    t = t - origin
    # coarse over the last few hundred events (a coarse period drifts little over them) ...
    tail = t[-300:]
    coarse = np.arange(MIN_PERIOD_MS, MAX_PERIOD_MS, 0.01)
    r = _strength(tail - tail[0], coarse)
    if r.max() < MIN_STRENGTH:
        return 0.0, 0.0, res
    p0 = coarse[np.flatnonzero(r >= TOLERANCE * r.max())[-1]]
    # ... then fine around it over every event
    fine = np.arange(p0 - 0.02, p0 + 0.02, 0.0002)
    rf = _strength(t, fine)
    period = float(fine[np.argmax(rf)])
    if rf.max() < MIN_STRENGTH:
        return 0.0, 0.0, res
    ph = 2.0 * np.pi * t / period
    phase = (np.arctan2(np.sin(ph).mean(), np.cos(ph).mean()) / (2.0 * np.pi) * period + origin) % period
    return period, float(phase), res


WHOLE_MS = (0.0, 0.0, 1.0, 0.0)
"""A clock of whole milliseconds and no tick: what every recorder this project reads stamps
(osu!, SapiMouse, Balabit, the Aalto typing site, OSRS); the clock of appended key and wheel
events when no context tells another (``generation/act.py``)."""


def put_on_clock(t_ms, clock, after_ms=0.0, moves=False):
    """Event times ``t_ms`` (session ms, ascending) on the recorder's ``clock`` ``(period, phase,
    resolution, others_tick)`` (:func:`estimate_clock`), none before ``after_ms``, by the sampling
    loop's own rule (:func:`~actiongen_keras.generation.sampler.on_clock`: the nearest tick, for
    moves or where the recorder ticks its other events too, then the resolution); ``moves``:
    whether these are moves. For events made outside that loop (typed keys, wheel notches), so
    that they keep the clock of what they are appended to: a key or notch stamped in fractions
    of a millisecond where the recorder stamps whole ones is told apart at once. Rounding is
    monotone, so the events keep their order (events of equal time keep theirs)."""
    from keras import ops  # deferred: the rule is the sampling loop's (keras.ops), one implementation

    from actiongen_keras.generation.sampler import on_clock

    t = np.asarray(t_ms, dtype=np.float64)
    if not len(t):
        return t
    period, phase, res, others = (float(v) for v in clock)
    origin = np.floor(min(float(after_ms), float(t.min())))  # times near 0 keep float32's sub-ms precision
    phase = (phase - origin) % period if period > 0 else 0.0
    row = np.tile(np.array([period, phase, res, others, 0.0], np.float32), (len(t), 1))
    out = on_clock(ops.convert_to_tensor((t - origin).astype(np.float32)), ops.convert_to_tensor(np.full(len(t), after_ms - origin, np.float32)),
                   ops.convert_to_tensor(row), ops.convert_to_tensor(np.full(len(t), bool(moves))))
    return origin + np.asarray(ops.convert_to_numpy(out), dtype=np.float64)


def clock_at(clock, T):
    """The clock ``(period, phase, resolution, others_tick)`` with its phase relative to the window boundary ``T``."""
    period, phase, res, others = clock
    return (period, float((phase - T) % period) if period > 0 else 0.0, res, others)


class Recorder(NamedTuple):
    """What a rollout imitates of the recorder of its context (:func:`recorder_of`)."""

    clock: tuple  # (period, phase, resolution, others_tick): estimate_clock
    grid: float  # pixels, 0 = none: pixel_grid
    on_change: bool  # moves only where the position changes: moves_on_change


def recorder_of(events, T):
    """The :class:`Recorder` of ``events`` (a session's :class:`Events`), read off the real
    events before ``T`` ms (the context and anything earlier): :func:`estimate_clock` of the
    moves (the others checked for the same ticks), :func:`pixel_grid` and
    :func:`moves_on_change` of their positions."""
    t = np.asarray(events.t_ms, np.float64)
    before = t < float(T)
    moves = np.asarray(events.type) == "move"
    clock = estimate_clock(t[before & moves], others_ms=t[before & ~moves])
    x, y = np.asarray(events.x), np.asarray(events.y)
    return Recorder(clock, pixel_grid(x[before & moves], y[before & moves]), moves_on_change(np.asarray(events.type)[before], x[before], y[before]))


def recorder_input(clock, grid, T, use_clock=True, use_grid=True):
    """The sampling loop's recorder input for the window that starts at ``T`` (a row of its
    ``clock [B, 5]``, :func:`~actiongen_keras.generation.sampler.sample_window`): the clock
    with its phase relative to ``T`` (:func:`clock_at`), then the pixel grid; zeros switch
    either off."""
    return (clock_at(clock, T) if use_clock else (0.0,) * 4) + (float(grid) if use_grid else 0.0,)


__all__ = ["MAX_PERIOD_MS", "MIN_PERIOD_MS", "MIN_STRENGTH", "STILL_MAX", "WHOLE_MS", "Recorder", "clock_at", "estimate_clock",
           "moves_on_change", "on_ticks", "pixel_grid", "put_on_clock", "recorder_input", "recorder_of", "still_moves"]
