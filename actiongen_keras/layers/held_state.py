"""What is held down: the held state of buttons and keys, and its embedding for the decoder.

An event's type says what it does to the button or key it names (:data:`HELD_AFTER`: a press
or key_down holds it, a release or key_up lets it go). These tables and the functions that
replay them are the one definition of the held state: the sampling loop's coherence rules
(``generation/rules.py``) mask what may be sampled with it, and :class:`HeldStateEmbedding`
gives it to the model.

Why the model needs it: teacher-forced on SapiMouse's click targets, a model that had to find
the held state by attending over the history said "press" 7% of the time with the cursor on
the target and a button already held (people: 0.6%) and "release" 5% of the time with none
held (people: never); in closed loop 12% of its presses came while another button was held
(people: 1.3%), most of them in the middle of a drag. Counting unmatched presses over 128
history events is a hard job for attention and an easy one for a running maximum.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from actiongen_keras.data import features as F

HELD_AFTER = np.full(F.NUM_EVENT_CLASSES, -1, dtype=np.int32)
"""What the event does to the button / key it names: 1 = now held, 0 = now up, -1 = nothing."""
HELD_AFTER[F.PRESS] = HELD_AFTER[F.KEY_DOWN] = 1
HELD_AFTER[F.RELEASE] = HELD_AFTER[F.KEY_UP] = 0

NAMES_BUTTON = np.zeros(F.NUM_EVENT_CLASSES, dtype=bool)
"""Event classes that name a button (press, release)."""
NAMES_BUTTON[[F.PRESS, F.RELEASE]] = True
NAMES_KEY = np.zeros(F.NUM_EVENT_CLASSES, dtype=bool)
"""Event classes that name a key (key_down, key_up)."""
NAMES_KEY[[F.KEY_DOWN, F.KEY_UP]] = True


def table_at(table, ev):
    """``table [NUM_EVENT_CLASSES]`` at the class ids ``ev`` (ids outside the classes read the PAD entry)."""
    ev = ops.cast(ev, "int32")
    ev = ops.where(ops.logical_and(ev >= 0, ev < F.NUM_EVENT_CLASSES), ev, ops.zeros_like(ev))
    return ops.take(ops.convert_to_tensor(table), ev, axis=0)


def _last_positions(types, ids, n, names_table):
    """``(set, clear)``, each ``[B, L, n]`` int: per position and id, the 1-based position of
    the event at it that sets (holds) / clears the id, 0 where none does."""
    types, ids = ops.cast(types, "int32"), ops.cast(ids, "int32")
    L = ops.shape(types)[1]
    pos = ops.arange(1, L + 1, dtype="int32")[None, :, None]
    names = ops.logical_and(table_at(names_table, types), ops.not_equal(types, F.PAD))
    touch = ops.logical_and(ops.equal(ids[..., None], ops.arange(n, dtype="int32")), names[..., None])  # [B, L, n]
    after = table_at(HELD_AFTER, types)[..., None]
    return (ops.where(ops.logical_and(touch, ops.equal(after, 1)), pos, 0),
            ops.where(ops.logical_and(touch, ops.equal(after, 0)), pos, 0))


def held_from_history(types, ids, n, names_table):
    """Held state after replaying the history (``types`` / ``ids`` ``[B, H]``, time order):
    ``[B, n]`` bool; an id is held when the last event naming it set it (:data:`HELD_AFTER`)."""
    set_at, clear_at = _last_positions(types, ids, n, names_table)
    return ops.max(set_at, axis=1) > ops.max(clear_at, axis=1)


def running_max(x):
    """``x [B, L, ...]`` -> its running maximum along axis 1 (``L`` static), by doubling: after
    the round of shift ``k`` each row holds the maximum of the ``2k`` rows up to it. (The
    ``keras.ops`` scans lose the static shape in a TensorFlow graph, and XLA refuses them.)"""
    L = x.shape[1]
    if L is None:
        raise ValueError("running_max needs a static length (axis 1)")
    k = 1
    while k < L:
        shifted = ops.pad(x[:, : L - k], [(0, 0), (k, 0)] + [(0, 0)] * (len(x.shape) - 2))
        x = ops.maximum(x, shifted)
        k *= 2
    return x


def held_after_each(types, ids, n, names_table):
    """:func:`held_from_history` after every position: ``[B, L, n]`` bool, row ``j`` the held
    state once events ``0..j`` have happened (``L`` static)."""
    set_at, clear_at = _last_positions(types, ids, n, names_table)
    return running_max(set_at) > running_max(clear_at)


def update_held(held, ev, ident, emit, names_table):
    """Held state after the events ``ev [B]`` naming ``ident [B]`` (rows where ``emit``)."""
    n = ops.shape(held)[-1]
    touch = ops.logical_and(ops.equal(ops.cast(ident, "int32")[:, None], ops.arange(n, dtype="int32")[None, :]),
                            ops.logical_and(emit, table_at(names_table, ev))[:, None])
    return ops.where(touch, ops.equal(table_at(HELD_AFTER, ev), 1)[:, None], held)


@keras.saving.register_keras_serializable(package="actiongen")
class HeldStateEmbedding(keras.layers.Layer):
    """The buttons and keys held before each decoder step, as a vector added to its input embedding.

    Called on the history and decoder inputs (``*_type``, ``*_button``, ``*_key``): the held
    state after the history and the decoder inputs up to each step (a decoder input is the
    previous event, so row ``i`` is what is held when event ``i`` happens), ``[B, A1, d_model]``.
    The generation loop, which tracks the held state for its coherence rules, gives the same
    state one step at a time (:meth:`embed_state`), so training and generation read the same
    input. A held button or key adds its own learned vector; nothing held adds zero, and the
    projection starts at zero, so a model given this layer begins as the model without it.

    Args:
        d_model: the width of the decoder's input embedding.
        num_keys: the key vocabulary's size (``dataset_meta``).
        kernel_initializer: the projection's (default zeros, see above).
    """

    def __init__(self, d_model, num_keys, kernel_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.num_keys = int(num_keys)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projection = keras.layers.Dense(self.d_model, use_bias=False, kernel_initializer=self.kernel_initializer, name="projection",
                                             dtype=self.dtype_policy)

    def build(self, hist_type_shape, hist_button_shape=None, hist_key_shape=None, dec_type_shape=None, dec_button_shape=None,
              dec_key_shape=None):
        self.projection.build((None, None, F.NUM_BUTTONS + self.num_keys))

    def embed_state(self, held_buttons, held_keys):
        """``held_buttons [..., NUM_BUTTONS]``, ``held_keys [..., num_keys]`` (bool) -> ``[..., d_model]``."""
        state = ops.concatenate([ops.cast(held_buttons, self.compute_dtype), ops.cast(held_keys, self.compute_dtype)], axis=-1)
        return self.projection(state)

    def call(self, hist_type, hist_button, hist_key, dec_type, dec_button, dec_key):
        H = ops.shape(hist_type)[1]
        types = ops.concatenate([ops.cast(hist_type, "int32"), ops.cast(dec_type, "int32")], axis=1)
        buttons = held_after_each(types, ops.concatenate([ops.cast(hist_button, "int32"), ops.cast(dec_button, "int32")], axis=1),
                                  F.NUM_BUTTONS, NAMES_BUTTON)
        keys = held_after_each(types, ops.concatenate([ops.cast(hist_key, "int32"), ops.cast(dec_key, "int32")], axis=1),
                               self.num_keys, NAMES_KEY)
        return self.embed_state(buttons[:, H:], keys[:, H:])

    def compute_output_shape(self, hist_type_shape, hist_button_shape=None, hist_key_shape=None, dec_type_shape=None,
                             dec_button_shape=None, dec_key_shape=None):
        return tuple(dec_type_shape) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_keys=self.num_keys, kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config


__all__ = ["HELD_AFTER", "NAMES_BUTTON", "NAMES_KEY", "HeldStateEmbedding", "held_after_each", "held_from_history", "running_max", "table_at",
           "update_held"]
