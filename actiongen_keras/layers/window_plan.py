"""WindowPlan: where the cursor will be when the window ends, decided before its first step."""

from __future__ import annotations

import keras
from keras import ops

from actiongen_keras.data import features as F

PLAN_OFFSET_SCALE = 0.05  # screen units per raw unit of the plan's mean offsets (~70-100 px)
PLAN_SIGMA_FLOOR = 1e-3  # screen units (1.3-2 px): an end point is not known to a pixel
PLAN_SIGMA_SHIFT = 1.5  # sigma = floor + softplus(raw - shift): starts near 0.2 screens
PLAN_DIST_SCALE = 4.0  # screen units -> features of order 1 (a quarter screen = 1)


def window_end_cursor(dec_type, dec_xy):
    """The cursor after the window's last event: ``[B, 2]`` (screen units).

    Decoder input ``i > 0`` is target event ``i - 1`` (``features.py``), so the last real
    decoder input carries the last event's position (the cursor for events that do not move
    it); a window without events ends where it began (BOS, the cursor at T)."""
    n = ops.sum(ops.cast(ops.not_equal(ops.cast(dec_type, "int32"), F.PAD), "int32"), axis=-1)
    last = ops.maximum(n - 1, 0)
    return ops.take_along_axis(ops.cast(dec_xy, "float32"), ops.repeat(last[:, None, None], 2, axis=-1), axis=1)[:, 0]


@keras.saving.register_keras_serializable(package="actiongen")
class WindowPlan(keras.layers.Layer):
    """``call(context, bos_xy, pointer)`` -> the plan's mixture ``[B, 5M]``: where the cursor
    will be at ``T + target_ms``, as ``M`` Gaussians on the screen's axes
    (:func:`~actiongen_keras.layers.context_aware_generator.split_xy_params` layout, absolute
    means; ``xy_log_prob`` / ``draw_position`` / ``xy_point`` read it in the ``screen`` frame).

    ``context [B, k]`` is the window's context (state, history, behaviour and the anchors seen
    from the cursor at T), ``bos_xy [B, 2]`` the cursor at T and ``pointer [B, 2]`` the offset
    from it to the anchor attended there: each mean is the cursor plus a free offset
    (``offset_scale`` screen units per raw unit) plus a learned fraction of the pointer.

    Why: one event at a time, a sampled step's deviation is never taken back, because the
    next step's mean continues from wherever the cursor went; the path is a random walk
    steered only by the anchors, and in closed loop it wanders and zig-zags where a hand
    runs from target to target. With a plan drawn once per window (the generator's
    ``xy_plan``), every step of the window knows where the cursor is going and how much
    time is left (:meth:`step_context`): the steps become a bridge to a point, drawn from
    the context, that a person would have reached. Teacher-forced, the plan is the window's
    true end (:func:`window_end_cursor`) and the plan's own NLL trains this head; in
    inference it is this head's most probable point, in generation a draw.
    """

    def __init__(self, d_model, num_mixtures=4, target_ms=600.0, offset_scale=PLAN_OFFSET_SCALE, sigma_floor=PLAN_SIGMA_FLOOR,
                 sigma_shift=PLAN_SIGMA_SHIFT, dist_scale=PLAN_DIST_SCALE, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.num_mixtures = int(num_mixtures)
        self.target_ms = float(target_ms)
        self.offset_scale = float(offset_scale)
        self.sigma_floor = float(sigma_floor)
        self.sigma_shift = float(sigma_shift)
        self.dist_scale = float(dist_scale)
        p = self.dtype_policy
        self.hidden = keras.layers.Dense(self.d_model, activation="gelu", name="plan_hidden", dtype=p)
        # logits, mean offsets (x, y), log-sigma parts (x, y), pointer gains: M each
        self.head = keras.layers.Dense(6 * self.num_mixtures, kernel_initializer=keras.initializers.VarianceScaling(0.01), name="plan_head",
                                       dtype=p)
        self.steps = keras.layers.Dense(self.d_model, activation="gelu", name="plan_steps", dtype=p)

    def build(self, context_shape, bos_xy_shape, pointer_shape):
        self.hidden.build(context_shape)
        self.head.build(tuple(context_shape[:-1]) + (self.d_model,))
        self.steps.build((None, None, 4))
        self.built = True

    def call(self, context, bos_xy, pointer):
        M = self.num_mixtures
        raw = self.head(self.hidden(context))
        bos = ops.cast(bos_xy, self.compute_dtype)
        shift = bos[:, None, :] + raw[:, 5 * M : 6 * M, None] * ops.cast(pointer, self.compute_dtype)[:, None, :]  # [B, M, 2]
        return ops.concatenate([
            raw[:, :M],
            self.offset_scale * raw[:, M : 2 * M] + shift[..., 0],
            self.offset_scale * raw[:, 2 * M : 3 * M] + shift[..., 1],
            ops.log(self.sigma_floor + ops.softplus(raw[:, 3 * M : 5 * M] - self.sigma_shift)),
        ], axis=-1)

    def step_context(self, plan_xy, dec_xy, dec_t_after):
        """Each step's view of the plan, ``[B, T, d_model]``: the offset from the step's cursor
        ``dec_xy`` to the plan's point ``plan_xy [B, 2]`` (screen units), its length and the
        share of the window left after the step's time ``dec_t_after`` (ms from T), embedded."""
        dt = self.compute_dtype
        to_plan = ops.cast(plan_xy, dt)[:, None, :] - ops.cast(dec_xy, dt)
        dist = ops.sqrt(ops.sum(ops.square(to_plan), axis=-1, keepdims=True) + 1e-8)
        left = (self.target_ms - ops.cast(dec_t_after, dt)[..., None]) / self.target_ms
        return self.steps(ops.concatenate([to_plan * self.dist_scale, dist * self.dist_scale, left], axis=-1))

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_mixtures=self.num_mixtures, target_ms=self.target_ms, offset_scale=self.offset_scale,
                      sigma_floor=self.sigma_floor, sigma_shift=self.sigma_shift, dist_scale=self.dist_scale)
        return config
