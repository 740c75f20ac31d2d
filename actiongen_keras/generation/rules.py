"""The generation rules, defined once for both sampling loops.

Two loops sample a window event by event and must agree:

* :func:`actiongen_keras.generation.sampler.generate_window` (NumPy, ``actiongen
  generate`` / ``evaluate`` / rollouts): the reference, documented there;
* :func:`actiongen_keras.export.graph.generate_loop` (TensorFlow ``tf.while_loop``, the
  SavedModel's ``generate`` signature).

Every number and table they share lives here (NumPy only: importing this module does not
import TensorFlow), and both loops read it: the constraint tables (which buttons / keys an
event type may name given what is held, and what the event does to the held state), the
redraw count of the first interval, the cursor and scroll rules, and the greedy interval
(the median on a :data:`MEDIAN_GRID`-point grid, refined :data:`MEDIAN_PASSES` times; the
graph evaluates the same grid in float64). The NumPy functions below are the sampler's
implementation; the graph applies the same tables with TensorFlow ops
(``tests/export/test_export.py`` checks that greedy ``generate`` equals the sampler).

Held state is a boolean vector: ``held_buttons [NUM_BUTTONS]`` (ids of
``features.BUTTONS``), ``held_keys [num_keys]`` (key vocabulary ids).
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.layers.multi_scale_timing import (
    MIN_LOGISTIC_SCALE,
    NUM_SCALES,
    scale_ranges,
)

# ----------------------------------------------------------------------------- numbers

MAX_REDRAWS = 16
"""The first event of a window must not be earlier than ``T``: its interval is redrawn up to
this many times (sampling), then clamped so the event lands at ``T``; greedy clamps at once."""

MEDIAN_GRID = 256
"""Points of each CDF grid of the greedy (median) interval."""

MEDIAN_PASSES = 2
"""Grid passes: the whole ``[0, log1p(max_ms)]`` range, then the bracketing cell."""

FIRST_KNOWN_KEY = 2
"""Key ids 0 (none) and 1 (unknown) are never generated (no name to write)."""

SCROLL_STILL = F.SCROLL_CLIP
"""The scroll class of 0 notches: ``dy`` cannot be it when ``dx`` is (a scroll moves)."""

# ----------------------------------------------------------------------------- tables (per event class)

_NONE = -1  # the event type names no button / key
_UP = 0  # names one that is not held (press, key_down)
_HELD = 1  # names one that is held (release, key_up)

TYPE_ALLOWED = np.ones(F.NUM_EVENT_CLASSES, dtype=bool)
TYPE_ALLOWED[F.PAD] = False  # PAD is never sampled (it is never a target)

BUTTON_NEED = np.full(F.NUM_EVENT_CLASSES, _NONE, dtype=np.int32)
BUTTON_NEED[F.PRESS], BUTTON_NEED[F.RELEASE] = _UP, _HELD
BUTTON_MIN = np.zeros(F.NUM_EVENT_CLASSES, dtype=np.int32)
BUTTON_MIN[F.PRESS] = 1  # a press names a real button (never 0 "none"); a release any held one

KEY_NEED = np.full(F.NUM_EVENT_CLASSES, _NONE, dtype=np.int32)
KEY_NEED[F.KEY_DOWN], KEY_NEED[F.KEY_UP] = _UP, _HELD
KEY_MIN = np.zeros(F.NUM_EVENT_CLASSES, dtype=np.int32)
KEY_MIN[F.KEY_DOWN] = KEY_MIN[F.KEY_UP] = FIRST_KNOWN_KEY

HELD_AFTER = np.full(F.NUM_EVENT_CLASSES, _NONE, dtype=np.int32)
"""What the event does to the button / key it names: 1 = now held, 0 = now up, -1 = nothing."""
HELD_AFTER[F.PRESS] = HELD_AFTER[F.KEY_DOWN] = 1
HELD_AFTER[F.RELEASE] = HELD_AFTER[F.KEY_UP] = 0

MOVES_CURSOR = np.zeros(F.NUM_EVENT_CLASSES, dtype=bool)
"""Only moves take a position of their own; every other event happens at the current cursor."""
MOVES_CURSOR[F.MOVE] = True

NAMES_BUTTON = BUTTON_NEED != _NONE
NAMES_KEY = KEY_NEED != _NONE

# ----------------------------------------------------------------------------- masks (NumPy)


def id_mask(need, min_id, held):
    """Ids (``held [n]`` bool) an event may name: ``id >= min_id`` and held (``need`` 1) or
    not held (``need`` 0)."""
    held = np.asarray(held, dtype=bool)
    return (np.arange(len(held)) >= int(min_id)) & (held == bool(need))


def button_mask(typ, held_buttons, constrain=True):
    """Buttons a press / release may name (``held_buttons [NUM_BUTTONS]`` bool)."""
    held_buttons = np.asarray(held_buttons, dtype=bool)
    if constrain:
        return id_mask(BUTTON_NEED[typ], BUTTON_MIN[typ], held_buttons)
    allowed = np.arange(F.NUM_BUTTONS) >= 1
    return allowed | held_buttons if typ == F.RELEASE else allowed


def key_mask(typ, held_keys, constrain=True):
    """Keys a key_down / key_up may name (``held_keys [num_keys]`` bool)."""
    held_keys = np.asarray(held_keys, dtype=bool)
    if constrain:
        return id_mask(KEY_NEED[typ], KEY_MIN[typ], held_keys)
    return np.arange(len(held_keys)) >= FIRST_KNOWN_KEY


def type_mask(held_buttons, held_keys, constrain=True):
    """Event classes that may be sampled: never PAD; with ``constrain``, a type that names a
    button / key only while some button / key satisfies its rule (:func:`id_mask`)."""
    allowed = TYPE_ALLOWED.copy()
    if not constrain:
        return allowed
    for t in np.flatnonzero(NAMES_BUTTON):
        allowed[t] &= bool(id_mask(BUTTON_NEED[t], BUTTON_MIN[t], held_buttons).any())
    for t in np.flatnonzero(NAMES_KEY):
        allowed[t] &= bool(id_mask(KEY_NEED[t], KEY_MIN[t], held_keys).any())
    return allowed


def scroll_dy_mask(dx):
    """Scroll ``dy`` classes allowed after ``dx``: not 0 notches when ``dx`` is 0."""
    allowed = np.ones(F.NUM_SCROLL_CLASSES, dtype=bool)
    if int(dx) == SCROLL_STILL:
        allowed[SCROLL_STILL] = False
    return allowed


# ----------------------------------------------------------------------------- greedy interval (NumPy)


def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid64(v):
    """The logistic function as both loops evaluate it (``0.5 (1 + tanh(v / 2))``, float64)."""
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def timing_cdf_np(params, y, boundaries_ms, num_components, max_ms):
    """CDF of one timing mixture (``params [P]``) at the points ``y`` (``log1p(ms)`` units), NumPy."""
    p = np.asarray(params, dtype=np.float64).reshape(-1)
    M = int(num_components)
    ps = _softmax(p[:NUM_SCALES])
    rest = p[NUM_SCALES:].reshape(NUM_SCALES, 3, M)
    pc = _softmax(rest[:, 0])
    loc, sc = rest[:, 1], MIN_LOGISTIC_SCALE + np.logaddexp(0.0, rest[:, 2])
    r = np.array(scale_ranges(boundaries_ms, max_ms))
    lo, hi = r[:, 0:1], r[:, 1:2]
    f_lo, f_hi = sigmoid64((lo - loc) / sc), sigmoid64((hi - loc) / sc)  # [3, M]
    yc = np.clip(np.asarray(y, dtype=np.float64)[:, None, None], lo[None], hi[None])  # [G, 3, 1]
    within = (pc * (sigmoid64((yc - loc) / sc) - f_lo) / np.maximum(f_hi - f_lo, 1e-12)).sum(-1)  # [G, 3]
    return within @ ps


def timing_median_ms(params, boundaries_ms, num_components, max_ms, q=0.5):
    """Quantile ``q`` (default: the median, in ms) of one timing mixture: the greedy interval.

    The CDF on a :data:`MEDIAN_GRID`-point grid over ``[0, log1p(max_ms)]``; ``j`` = the
    number of grid points whose CDF is below ``q`` (clipped to ``[1, G - 1]``); the next pass
    grids ``[y[j-1], y[j]]``; after :data:`MEDIAN_PASSES` passes, linear interpolation of the
    CDF inside the last cell (error < 1e-4 in ``log1p`` units).
    """
    lo, hi = 0.0, float(np.log1p(max_ms))
    for _ in range(MEDIAN_PASSES):
        y = np.linspace(lo, hi, MEDIAN_GRID)
        cdf = timing_cdf_np(params, y, boundaries_ms, num_components, max_ms)
        j = int(np.clip(np.count_nonzero(cdf < q), 1, MEDIAN_GRID - 1))
        lo, hi = y[j - 1], y[j]
    c0, c1 = cdf[j - 1], cdf[j]
    frac = 0.0 if c1 <= c0 else float(np.clip((q - c0) / (c1 - c0), 0.0, 1.0))
    return float(np.expm1(lo + frac * (hi - lo)))


__all__ = [
    "BUTTON_MIN",
    "BUTTON_NEED",
    "FIRST_KNOWN_KEY",
    "HELD_AFTER",
    "KEY_MIN",
    "KEY_NEED",
    "MAX_REDRAWS",
    "MEDIAN_GRID",
    "MEDIAN_PASSES",
    "MOVES_CURSOR",
    "NAMES_BUTTON",
    "NAMES_KEY",
    "SCROLL_STILL",
    "TYPE_ALLOWED",
    "button_mask",
    "id_mask",
    "key_mask",
    "scroll_dy_mask",
    "sigmoid64",
    "timing_cdf_np",
    "timing_median_ms",
    "type_mask",
]
