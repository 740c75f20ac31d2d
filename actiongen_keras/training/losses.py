"""Losses of the seven heads (Keras ``Loss`` subclasses, registered, ``get_config``).

Every loss returns per-element values ``[B, A+1]`` (``seq_len``: ``[B]``) and is weighted
by the dataset's per-output sample weight of the same shape (``fit`` passes the dict of
sample weights output by output: ``compile_utils.CompileLoss`` resolves each output's
weight by its key). Reduction defaults to ``"mean_with_sample_weight"``:
``sum(loss * w) / sum(w)``, i.e. the mean over the positions that exist (0 when a batch
has none, e.g. no key events). Positions with ``w == 0`` contribute exactly zero loss and
zero gradient: before computing the loss, their targets are replaced by a harmless value
(0) and their per-element loss by 0, so even garbage or NaN targets at padded positions
cannot leak into the gradient.

:func:`build_losses` returns the dict for ``model.compile(loss=...)``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from keras.src.losses.loss import reduce_values  # not exported; what keras.losses.Loss.__call__ reduces with

from actiongen_keras.data import features as F
from actiongen_keras.layers.context_aware_generator import XY_FRAMES, xy_log_prob
from actiongen_keras.layers.multi_scale_timing import (
    DEFAULT_BOUNDARIES_MS,
    DEFAULT_MAX_MS,
    timing_log_prob,
)
from actiongen_keras.models.model_config import as_model_config, timing_spec

DEFAULT_REDUCTION = "mean_with_sample_weight"


class _WeightedLoss(keras.losses.Loss):
    """Zeroes targets and per-element losses where the sample weight is 0, then reduces."""

    def __init__(self, name=None, reduction=DEFAULT_REDUCTION, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            return super().__call__(y_true, y_pred)
        w = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
        keep = ops.greater(w, 0.0)
        y_true = ops.convert_to_tensor(y_true)
        k = keep
        while len(k.shape) < len(y_true.shape):
            k = ops.expand_dims(k, -1)
        y_true = ops.where(k, y_true, ops.zeros_like(y_true))
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        values = self.call(ops.cast(y_true, self.dtype), y_pred)
        values = ops.where(keep, values, ops.zeros_like(values))
        return _reduce(values * ops.cast(w, values.dtype), ops.cast(w, values.dtype), self.reduction)


def _reduce(values, weights, reduction):
    """Keras 3's own reduction of already-weighted values (``keras.losses.Loss.__call__``
    ends in it): the mean reductions also divide by the replicas of a ``tf.distribute``
    strategy, whose gradients are then summed across replicas. A hand-written copy left that
    out, and under ``MultiWorkerMirroredStrategy`` (``actiongen train --distributed``) every
    gradient was twice what it should be and every logged loss twice the model's."""
    return reduce_values(values, sample_weight=weights, reduction=reduction)


def _sparse_ce(y_true, logits):
    return ops.sparse_categorical_crossentropy(ops.cast(y_true, "int32"), logits, from_logits=True)


@keras.saving.register_keras_serializable(package="actiongen")
class EventTypeLoss(_WeightedLoss):
    """Sparse cross-entropy of the event type (``[B,A1]`` ids vs ``[B,A1,C]`` logits).

    ``class_weights`` (optional, length ``NUM_EVENT_CLASSES``) multiplies each position's
    loss by the weight of its true class: the predecessor collapsed to MOVE, so the data
    pipeline may pass inverse-frequency weights (see :func:`event_class_weights`).
    ``label_smoothing`` spreads that mass uniformly over the classes.
    """

    def __init__(self, class_weights=None, label_smoothing=0.0, name="event_type_loss", reduction=DEFAULT_REDUCTION, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        ids = ops.cast(y_true, "int32")
        logp = ops.log_softmax(y_pred, axis=-1)
        nll = -ops.sum(ops.one_hot(ids, ops.shape(y_pred)[-1], dtype=logp.dtype) * logp, axis=-1)
        if self.label_smoothing:
            nll = (1.0 - self.label_smoothing) * nll - self.label_smoothing * ops.mean(logp, axis=-1)
        if self.class_weights is not None:
            cw = ops.convert_to_tensor(np.asarray(self.class_weights, "float32"), dtype=nll.dtype)
            nll = nll * ops.take(cw, ids, axis=0)
        return nll

    def get_config(self):
        config = super().get_config()
        config.update(class_weights=self.class_weights, label_smoothing=self.label_smoothing)
        return config


@keras.saving.register_keras_serializable(package="actiongen")
class SparseCategoricalLoss(_WeightedLoss):
    """Sparse cross-entropy for the button, key and scroll heads.

    Scroll: targets ``[B,A1,2]``, logits ``[B,A1,2,NUM_SCROLL_CLASSES]``; the two axes' losses
    are summed so the result is ``[B,A1]`` like the weight.
    """

    def __init__(self, name="categorical_loss", reduction=DEFAULT_REDUCTION, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        ce = _sparse_ce(y_true, y_pred)
        if len(ce.shape) == 3:
            ce = ops.sum(ce, axis=-1)
        return ce


@keras.saving.register_keras_serializable(package="actiongen")
class ScaleAwareTimingLoss(_WeightedLoss):
    """``-log P(true scale) - scale_nll_weight * log p(y | true scale)`` per step.

    ``y = log1p(dt_ms)`` with ``dt`` clipped to ``[0, max_ms]``; the scale of ``dt`` is
    fast / medium / slow by ``boundaries_ms``. With ``scale_nll_weight = 1`` the value is
    the exact NLL of the predicted density of ``y`` (nats). Must use the same
    boundaries, ``max_ms`` and ``num_components`` as the model (:func:`build_losses`).
    """

    def __init__(
        self,
        boundaries_ms=DEFAULT_BOUNDARIES_MS,
        num_components=3,
        max_ms=DEFAULT_MAX_MS,
        scale_nll_weight=1.0,
        name="timing_loss",
        reduction=DEFAULT_REDUCTION,
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.boundaries_ms = tuple(float(b) for b in boundaries_ms)
        self.num_components = int(num_components)
        self.max_ms = float(max_ms)
        self.scale_nll_weight = float(scale_nll_weight)

    def call(self, y_true, y_pred):
        log_p_scale, log_p_y = timing_log_prob(y_pred, y_true, self.boundaries_ms, self.num_components, self.max_ms)
        return -log_p_scale - self.scale_nll_weight * log_p_y

    def get_config(self):
        config = super().get_config()
        config.update(
            boundaries_ms=list(self.boundaries_ms),
            num_components=self.num_components,
            max_ms=self.max_ms,
            scale_nll_weight=self.scale_nll_weight,
        )
        return config


@keras.saving.register_keras_serializable(package="actiongen")
class XYMixtureLoss(_WeightedLoss):
    """NLL of the position (screen units) under the xy head's mixture (:func:`xy_log_prob`).

    ``y_true [B,A1,2]``, ``y_pred [B,A1,5M (+2)]`` (:func:`split_xy_params` layout, absolute
    means; the sigmas' floor is the layer's, ``xy_sigma_floor``; the appended columns of a
    motion or polar head, :func:`xy_tail`). Values are nats per event (2-D density in screen
    units, so they can be negative, and comparable between frames). ``frame``: the head's
    ``xy_frame``; None (losses saved before it was an argument) reads a ``[5M + 2]`` layout
    as the motion frame, the only one that appended columns then.
    """

    def __init__(self, num_mixtures=4, frame=None, name="xy_loss", reduction=DEFAULT_REDUCTION, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.num_mixtures = int(num_mixtures)
        if frame is not None and frame not in XY_FRAMES:
            raise ValueError(f"frame must be one of {XY_FRAMES} or None, got {frame!r}")
        self.frame = frame

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("sigma_floor", None)  # models saved before the floor moved into the layer
        return cls(**config)

    def call(self, y_true, y_pred):
        frame = self.frame or ("screen" if y_pred.shape[-1] == 5 * self.num_mixtures else "motion")
        return -xy_log_prob(y_true, y_pred, self.num_mixtures, frame)

    def get_config(self):
        config = super().get_config()
        config.update(num_mixtures=self.num_mixtures, frame=self.frame)
        return config


@keras.saving.register_keras_serializable(package="actiongen")
class SeqLenLoss(_WeightedLoss):
    """Sparse cross-entropy of the number of events (``[B]`` vs ``[B, A+1]`` logits)."""

    def __init__(self, name="seq_len_loss", reduction=DEFAULT_REDUCTION, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        return _sparse_ce(y, y_pred)


def eos_hazard(seq_len_logits):
    """``h_i = P(L = i | L >= i)`` for i = 0..A from the seq-len logits ``[B, A+1]``."""
    p = ops.softmax(seq_len_logits, axis=-1)
    survival = ops.flip(ops.cumsum(ops.flip(p, axis=-1), axis=-1), axis=-1)  # P(L >= i)
    return p / ops.maximum(survival, 1e-9)


def eos_consistency(event_logits, seq_len_logits, step_weights):
    """Consistency of the EOS head with the sequence-length head (nats, >= 0).

    Binary cross-entropy between the event head's ``P(EOS at step i)`` and the hazard
    :func:`eos_hazard` of the seq-len head, averaged over the steps with ``step_weights > 0``
    (use the ``event_type`` sample weights: i <= seq_len). Under teacher forcing the EOS
    probability is conditioned on the true prefix, the hazard only on the context, so this
    is a soft agreement check/regulariser (reported in evaluation; add it in a custom
    ``train_step`` if wanted), not part of the compiled losses.
    """
    p_eos = ops.clip(ops.softmax(event_logits, axis=-1)[..., F.EOS], 1e-7, 1 - 1e-7)
    h = ops.clip(eos_hazard(seq_len_logits), 1e-7, 1 - 1e-7)
    bce = -(h * ops.log(p_eos) + (1 - h) * ops.log(1 - p_eos)) + (h * ops.log(h) + (1 - h) * ops.log(1 - h))
    w = ops.cast(step_weights, bce.dtype)
    return ops.sum(ops.where(w > 0, bce, 0.0) * w) / ops.maximum(ops.sum(w), 1e-9)


def event_class_weights(class_counts, power=0.5, max_weight=10.0):
    """Inverse-frequency class weights ``(count / mean count) ** -power`` (0 for absent classes), clipped."""
    c = np.asarray(class_counts, dtype="float64")
    present = c > 0
    w = np.zeros_like(c)
    w[present] = (c[present] / c[present].mean()) ** -power
    return np.clip(w, 0.0, max_weight).tolist()


def event_decision_bias(class_counts, power=0.5, max_weight=10.0):
    """Post-hoc logit adjustment: ``log(event_class_weights(...))`` (very negative for absent classes).

    The event head is trained without class weights, so its softmax stays calibrated for
    sampling (weighted training inflates rare types and EOS: rollouts then press too often
    and stop too early). Adding this bias to the logits before an argmax gives the
    balanced decisions that class-weighted training would have given, for the
    argmax-based metrics (Menon et al. 2021, "Long-tail learning via logit adjustment").
    """
    w = np.asarray(event_class_weights(class_counts, power, max_weight), dtype="float64")
    return np.where(w > 0, np.log(np.maximum(w, 1e-300)), -1e9).astype("float32")


def build_losses(config, dataset_meta, class_weights=None):
    """``{output name: Loss}`` for ``model.compile(loss=...)``, consistent with the model's heads."""
    cfg = as_model_config(config)
    t = timing_spec(cfg, dataset_meta)
    return {
        "event_type": EventTypeLoss(class_weights=class_weights),
        "timing": ScaleAwareTimingLoss(t["boundaries_ms"], t["num_components"], t["max_ms"]),
        "xy": XYMixtureLoss(cfg.num_xy_mixtures, frame=cfg.xy_frame),
        "button": SparseCategoricalLoss(name="button_loss"),
        "key": SparseCategoricalLoss(name="key_loss"),
        "scroll": SparseCategoricalLoss(name="scroll_loss"),
        "dwell": ScaleAwareTimingLoss(DEFAULT_BOUNDARIES_MS, t["num_components"], t["max_ms"], name="dwell_loss"),
        "seq_len": SeqLenLoss(),
    }
