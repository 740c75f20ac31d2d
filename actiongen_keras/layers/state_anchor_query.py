"""StateAnchorQuery: the game state's on-screen points, seen from each decoder step."""

from __future__ import annotations

import keras
from keras import ops

DIST_SCALE = 4.0  # screen units -> features of order 1 (a quarter screen = 1)
TIME_SCALE_MS = 10.0  # log1p(|dt| / 10 ms): 10 ms and 1 s are both resolved
NUM_PAIR_FEATURES = 7  # the last axis of anchor_step_features


def anchor_step_features(anchor_xy, anchor_dt, step_xy, step_t_after, dist_scale=DIST_SCALE, time_scale_ms=TIME_SCALE_MS):
    """``[B, T, P, 7]`` relative features and ``rel [B, T, P, 2]`` (anchor minus cursor).

    For each decoder step ``t`` (cursor ``step_xy``, time ``step_t_after`` ms after T) and
    anchor ``p``: the offset to the anchor (x, y, screen units), its length and log length,
    and the time until the anchor's moment (``anchor_dt - step_t_after``) as a signed
    log, a linear term in seconds and a "now" bump ``exp(-|tau| / 100 ms)``.
    """
    rel = anchor_xy[:, None, :, :] - step_xy[:, :, None, :]
    dist = ops.sqrt(ops.sum(ops.square(rel), axis=-1, keepdims=True) + 1e-8)
    tau = anchor_dt[:, None, :] - step_t_after[:, :, None]
    tau = tau[..., None]
    feats = [
        rel * dist_scale,
        dist * dist_scale,
        ops.log(dist + 1e-3),
        ops.sign(tau) * ops.log1p(ops.abs(tau) / time_scale_ms),
        tau / 1000.0,
        ops.exp(-ops.abs(tau) / 100.0),
    ]
    return ops.concatenate(feats, axis=-1), rel


@keras.saving.register_keras_serializable(package="actiongen")
class StateAnchorQuery(keras.layers.Layer):
    """``call(anchor_xy, anchor_dt, anchor_mask, step_xy, step_t_after)`` -> ``(context, pointer)``.

    The state's anchors (``features.py``: on-screen points with a moment, e.g. the next
    osu! circles and their hit times) relative to each decoder step's cursor and time.
    Each (step, anchor) pair becomes an embedding (an MLP of :func:`anchor_step_features`
    plus a learned embedding of the anchor's slot); ``num_heads`` attention poolings over
    the anchors (scores from the pair embeddings, absent anchors masked) give

    * ``context [B, T, d_model]``: the pooled embeddings, projected;
    * ``pointer [B, T, 2]``: the offset from the cursor to the anchor the first pooling
      head attends to (zero when a window has no anchor), for the xy head to move along;
    * with ``num_event_classes`` > 0, ``event_bias [B, T, num_event_classes]``: a logit
      bias of every event class, a linear read-out of each present anchor's pair embedding
      summed over the anchors (zero at initialisation; the read-out's own bias makes the
      mere presence of an anchor worth a constant per class). Pooled, an anchor's distance
      reaches the event head only blurred: teacher-forced, a click-target model said
      "press" ten times too often far from its target (README, "Click targets on
      SapiMouse"), and each anchor slot here has its own say in whether a press comes next
      (SapiMouse's ``target`` where a press begins, ``target_end`` where a drag's release
      ends).

    A standardised state vector would make the model rediscover subtraction of the cursor
    from a position and of the step time from a deadline; here both are given.
    """

    def __init__(self, d_model, num_anchors, num_heads=2, dist_scale=DIST_SCALE, time_scale_ms=TIME_SCALE_MS, num_event_classes=0, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.num_event_classes = int(num_event_classes)
        self.num_anchors = int(num_anchors)
        self.num_heads = int(num_heads)
        # the feature scales change the outputs: saved in the config, so a reloaded model keeps them
        self.dist_scale = float(dist_scale)
        self.time_scale_ms = float(time_scale_ms)
        p = self.dtype_policy
        self.pair_in = keras.layers.Dense(self.d_model, activation="gelu", name="pair_in", dtype=p)
        self.slot_embedding = keras.layers.Embedding(self.num_anchors, self.d_model, name="slot_embedding", dtype=p)
        self.pair_out = keras.layers.Dense(self.d_model, activation="gelu", name="pair_out", dtype=p)
        self.scores = keras.layers.Dense(self.num_heads, name="scores", dtype=p)
        self.project = keras.layers.Dense(self.d_model, name="project", dtype=p)
        self.event_bias = (keras.layers.Dense(self.num_event_classes, kernel_initializer="zeros", name="event_bias", dtype=p)
                           if self.num_event_classes else None)

    def build(self, anchor_xy_shape, anchor_dt_shape, anchor_mask_shape, step_xy_shape, step_t_after_shape):
        pairs = (anchor_xy_shape[0], step_xy_shape[1], anchor_xy_shape[1])  # [B, T, P]
        self.pair_in.build(pairs + (NUM_PAIR_FEATURES,))
        self.slot_embedding.build((self.num_anchors,))
        self.pair_out.build(pairs + (self.d_model,))
        self.scores.build(pairs + (self.d_model,))
        self.project.build(pairs[:2] + (self.num_heads * self.d_model,))
        if self.event_bias is not None:
            self.event_bias.build(pairs + (self.d_model,))
        self.built = True

    def call(self, anchor_xy, anchor_dt, anchor_mask, step_xy, step_t_after):
        dt = self.compute_dtype
        feats, rel = anchor_step_features(
            ops.cast(anchor_xy, dt), ops.cast(anchor_dt, dt), ops.cast(step_xy, dt), ops.cast(step_t_after, dt), self.dist_scale,
            self.time_scale_ms,
        )
        slots = self.slot_embedding(ops.arange(self.num_anchors, dtype="int32"))  # [P, d]
        e = self.pair_out(self.pair_in(feats) + slots[None, None])  # [B, T, P, d]
        mask = ops.cast(anchor_mask, dt)[:, None, :, None]  # [B, 1, P, 1]
        s = self.scores(e) + (1.0 - mask) * -1e4  # [B, T, P, h]
        w = ops.exp(s - ops.max(s, axis=2, keepdims=True)) * mask  # softmax over the present anchors
        # all-absent rows: 0. A row with an anchor sums to >= 1 (its largest weight is exp(0)); the floor is
        # 1e-3, not a subnormal number that float16 on XLA's CPU flushes to 0 (0 / 0 = NaN)
        w = w / ops.maximum(ops.sum(w, axis=2, keepdims=True), 1e-3)
        pooled = ops.einsum("btph,btpd->bthd", w, e)
        shp = ops.shape(pooled)
        context = self.project(ops.reshape(pooled, (shp[0], shp[1], self.num_heads * self.d_model)))
        pointer = ops.sum(w[..., :1] * rel, axis=2)  # [B, T, 2]
        if self.event_bias is None:
            return context, pointer
        return context, pointer, ops.sum(self.event_bias(e) * mask, axis=2)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_anchors=self.num_anchors, num_heads=self.num_heads, dist_scale=self.dist_scale,
                      time_scale_ms=self.time_scale_ms, num_event_classes=self.num_event_classes)
        return config
