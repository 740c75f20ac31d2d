"""The coherence rules of generated input, as tensor masks (``keras.ops``, every backend).

A generated stream must be one a real device could produce: a release only of a held
button, a key_up only of a pressed key, a scroll that moves, a cursor that moves only by
moves. The tables below say, per event class, what an event may name given what is held
and what it does to the held state; the functions turn them into boolean masks that the
sampling loop (:mod:`actiongen_keras.generation.sampler`) applies before every draw.
They are defined once, here.

Held state is a boolean tensor: ``held_buttons [B, NUM_BUTTONS]`` (ids of
``features.BUTTONS``), ``held_keys [B, num_keys]`` (key vocabulary ids).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from actiongen_keras.data import features as F

# ----------------------------------------------------------------------------- numbers

MAX_REDRAWS = 16
"""The first event of a window must not be earlier than ``T``: its interval is redrawn up to
this many times (sampling), then clamped so the event lands at ``T``; greedy clamps at once."""

FIRST_KNOWN_KEY = 2
"""Key ids 0 (none) and 1 (unknown) are never generated (no name to write)."""

SCROLL_STILL = F.SCROLL_ZERO
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

# ----------------------------------------------------------------------------- masks (keras.ops)


def _table_at(table, ev):
    """``table [NUM_EVENT_CLASSES]`` at the class ids ``ev`` (ids outside the classes read the PAD entry)."""
    ev = ops.cast(ev, "int32")
    ev = ops.where(ops.logical_and(ev >= 0, ev < F.NUM_EVENT_CLASSES), ev, ops.zeros_like(ev))
    return ops.take(ops.convert_to_tensor(table), ev, axis=0)


def _ids_ok(held, need, min_id, scheduled=None):
    """``held [B, n]`` bool, ``need`` / ``min_id`` int ``[B, C]`` -> ``[B, C, n]``: the ids a type
    may name: ``id >= min_id`` and held (``need`` 1; not ``scheduled`` for release) or not held
    (``need`` 0)."""
    n = ops.shape(held)[-1]
    ids = ops.arange(n, dtype="int32")[None, None, :]
    releasable = held if scheduled is None else ops.logical_and(held, ops.logical_not(ops.cast(scheduled, "bool")))
    ok = ops.where(ops.equal(need, _HELD)[..., None], releasable[:, None, :], ops.logical_not(held)[:, None, :])
    return ops.logical_and(ids >= min_id[..., None], ok)


def type_mask(held_buttons, held_keys, constrain=True, scheduled_buttons=None, scheduled_keys=None):
    """Event classes that may be sampled, ``[B, NUM_EVENT_CLASSES]`` bool: never PAD; with
    ``constrain``, a type that names a button / key only while one satisfies its rule.

    ``scheduled_*`` (``[B, n]`` bool, optional): held ids whose release time was decided at
    their press (the dwell); they are released by that schedule, never by a sampled
    release / key_up."""
    B = ops.shape(held_buttons)[0]
    ok = ops.broadcast_to(ops.convert_to_tensor(TYPE_ALLOWED)[None, :], (B, F.NUM_EVENT_CLASSES))
    if not constrain:
        return ok
    for held, need, min_id, sched in ((held_buttons, BUTTON_NEED, BUTTON_MIN, scheduled_buttons),
                                      (held_keys, KEY_NEED, KEY_MIN, scheduled_keys)):
        tab = lambda a: ops.broadcast_to(ops.convert_to_tensor(a)[None, :], (B, F.NUM_EVENT_CLASSES))
        any_ok = ops.any(_ids_ok(ops.cast(held, "bool"), tab(need), tab(min_id), sched), axis=-1)
        ok = ops.logical_and(ok, ops.logical_or(any_ok, ops.convert_to_tensor(need < 0)[None, :]))
    return ok


def id_mask(held, ev, need_table, min_table, constrain=True, scheduled=None):
    """The ids (``[B, n]`` bool) that events of the chosen types ``ev [B]`` may name.

    ``constrain``: press / key_down only of an id that is up, release / key_up only of a held
    one (and not ``scheduled``, see :func:`type_mask`); without it, any real id
    (``>= max(min_table, 1)``)."""
    held = ops.cast(held, "bool")
    min_id = _table_at(min_table, ev)[:, None]
    if constrain:
        return _ids_ok(held, _table_at(need_table, ev)[:, None], min_id, scheduled)[:, 0]
    ids = ops.arange(ops.shape(held)[-1], dtype="int32")[None, :]
    return ids >= ops.maximum(min_id, 1)


def scroll_dy_mask(dx):
    """Scroll ``dy`` classes allowed after ``dx [B]``: ``[B, NUM_SCROLL_CLASSES]``, not 0 notches when ``dx`` is 0."""
    classes = ops.arange(F.NUM_SCROLL_CLASSES, dtype="int32")[None, :]
    return ops.logical_or(ops.not_equal(classes, SCROLL_STILL), ops.not_equal(ops.cast(dx, "int32"), SCROLL_STILL)[:, None])


def held_from_history(types, ids, n, names_table):
    """Held state after replaying the history (``types`` / ``ids`` ``[B, H]``, time order):
    ``[B, n]`` bool; an id is held when the last event naming it set it (:data:`HELD_AFTER`)."""
    types, ids = ops.cast(types, "int32"), ops.cast(ids, "int32")
    H = ops.shape(types)[1]
    pos = ops.arange(1, H + 1, dtype="int32")[None, :, None]
    names = ops.logical_and(_table_at(names_table, types), ops.not_equal(types, F.PAD))
    touch = ops.logical_and(ops.equal(ids[..., None], ops.arange(n, dtype="int32")), names[..., None])  # [B, H, n]
    after = _table_at(HELD_AFTER, types)[..., None]
    last_set = ops.max(ops.where(ops.logical_and(touch, ops.equal(after, 1)), pos, 0), axis=1)
    last_clear = ops.max(ops.where(ops.logical_and(touch, ops.equal(after, 0)), pos, 0), axis=1)
    return last_set > last_clear


def update_held(held, ev, ident, emit, names_table):
    """Held state after the events ``ev [B]`` naming ``ident [B]`` (rows where ``emit``)."""
    n = ops.shape(held)[-1]
    touch = ops.logical_and(ops.equal(ops.cast(ident, "int32")[:, None], ops.arange(n, dtype="int32")[None, :]),
                            ops.logical_and(emit, _table_at(names_table, ev))[:, None])
    return ops.where(touch, ops.equal(_table_at(HELD_AFTER, ev), 1)[:, None], held)


__all__ = [
    "BUTTON_MIN", "BUTTON_NEED", "FIRST_KNOWN_KEY", "HELD_AFTER", "KEY_MIN", "KEY_NEED", "MAX_REDRAWS", "MOVES_CURSOR",
    "NAMES_BUTTON", "NAMES_KEY", "SCROLL_STILL", "TYPE_ALLOWED", "held_from_history", "id_mask", "scroll_dy_mask", "type_mask",
    "update_held",
]
