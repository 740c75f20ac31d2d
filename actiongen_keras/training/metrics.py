"""Metrics: Keras ``Metric`` classes for ``compile``.

The same quantities on decoded predictions, beside the baselines, are
:mod:`actiongen_keras.scoring.window_metrics`.

Use the Metric classes in ``model.compile(weighted_metrics={...})`` (see
:func:`build_weighted_metrics`): Keras 3 passes the per-output sample weights only to
``weighted_metrics``; ``metrics`` get none, so padded positions would count there.

Point predictions used:

* timing: the **median** of the predicted three-scale mixture (bisection on its CDF), in
  ms. The median, not the mean: the mean of a log-space mixture is dominated by its tail.
* xy: the mean of the most probable mixture component (absolute position).
* event type / seq_len / categorical heads: argmax.
"""

from __future__ import annotations

import keras
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.context_aware_generator import xy_point
from actiongen_keras.layers.multi_scale_timing import (
    DEFAULT_BOUNDARIES_MS,
    DEFAULT_MAX_MS,
    timing_quantile,
)
from actiongen_keras.models.model_config import as_model_config, timing_spec


def _weights(sample_weight, like):
    if sample_weight is None:
        return ops.ones(ops.shape(like), "float32")
    return ops.cast(ops.broadcast_to(ops.cast(sample_weight, "float32"), ops.shape(like)), "float32")


class _WeightedMean(keras.metrics.Metric):
    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _accumulate(self, values, sample_weight):
        values = ops.cast(values, "float32")
        w = _weights(sample_weight, values)
        self.total.assign_add(ops.sum(ops.where(w > 0, values, 0.0) * w))
        self.count.assign_add(ops.sum(w))

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)


@keras.saving.register_keras_serializable(package="actiongen")
class TimingMAE(_WeightedMean):
    """Mean absolute error (ms) of the predicted median interval, over weighted steps."""

    def __init__(self, boundaries_ms=DEFAULT_BOUNDARIES_MS, num_components=3, max_ms=DEFAULT_MAX_MS, iterations=None, name="timing_mae_ms",
                 dtype=None):
        # ``iterations``: accepted (and ignored) so that metrics saved when the median was a
        # bisection still load; timing_quantile is now a fixed two-pass grid.
        super().__init__(name=name, dtype=dtype)
        self.boundaries_ms = tuple(float(b) for b in boundaries_ms)
        self.num_components = int(num_components)
        self.max_ms = float(max_ms)

    def update_state(self, y_true, y_pred, sample_weight=None):
        med = timing_quantile(ops.cast(y_pred, "float32"), 0.5, self.boundaries_ms, self.num_components, self.max_ms)
        target = ops.clip(ops.cast(y_true, "float32"), 0.0, self.max_ms)
        self._accumulate(ops.abs(med - target), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "boundaries_ms": list(self.boundaries_ms), "num_components": self.num_components, "max_ms": self.max_ms}


@keras.saving.register_keras_serializable(package="actiongen")
class SeqLenAccuracy(_WeightedMean):
    """Share of windows whose argmax length is within ``tolerance`` events (0: exact)."""

    def __init__(self, tolerance=0, name=None, dtype=None):
        self.tolerance = int(tolerance)
        super().__init__(name=name or ("seq_len_acc" if self.tolerance == 0 else f"seq_len_acc_within_{self.tolerance}"), dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = ops.cast(ops.argmax(y_pred, axis=-1), "float32")
        true = ops.reshape(ops.cast(y_true, "float32"), ops.shape(pred))
        self._accumulate(ops.cast(ops.abs(pred - true) <= self.tolerance, "float32"), sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "tolerance": self.tolerance}


@keras.saving.register_keras_serializable(package="actiongen")
class MaskedAccuracy(_WeightedMean):
    """Argmax accuracy over weighted positions (event type, button, key, scroll)."""

    def __init__(self, name="acc", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = ops.argmax(y_pred, axis=-1)
        hit = ops.cast(ops.equal(ops.cast(pred, "int32"), ops.cast(y_true, "int32")), "float32")
        if len(hit.shape) == 3:  # scroll: both axes right
            hit = ops.min(hit, axis=-1)
        self._accumulate(hit, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="actiongen")
class MacroF1(keras.metrics.Metric):
    """Macro-F1 of an argmax classifier over the classes present in the (weighted) targets."""

    def __init__(self, num_classes, name="macro_f1", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        shape = (self.num_classes,)
        self.tp = self.add_variable(shape=shape, initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=shape, initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=shape, initializer="zeros", name="fn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        C = self.num_classes
        pred = ops.one_hot(ops.argmax(y_pred, axis=-1), C, dtype="float32")
        true = ops.one_hot(ops.cast(y_true, "int32"), C, dtype="float32")
        w = _weights(sample_weight, ops.cast(y_true, "float32"))[..., None]
        pred = ops.reshape(pred * w, (-1, C))
        true = ops.reshape(true * w, (-1, C))
        tp = ops.sum(pred * true, axis=0)
        self.tp.assign_add(tp)
        self.fp.assign_add(ops.sum(pred, axis=0) - tp)
        self.fn.assign_add(ops.sum(true, axis=0) - tp)

    def result(self):
        support = self.tp + self.fn
        f1 = ops.divide_no_nan(2.0 * self.tp, 2.0 * self.tp + self.fp + self.fn)
        present = ops.cast(support > 0, "float32")
        return ops.divide_no_nan(ops.sum(f1 * present), ops.sum(present))

    def reset_state(self):
        for v in (self.tp, self.fp, self.fn):
            v.assign(ops.zeros((self.num_classes,)))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="actiongen")
class XYMAE(_WeightedMean):
    """Mean absolute coordinate error (average of |dx| and |dy|) in screen units.

    Pixels need the screen size, which a compiled metric does not see: ``coord_mae_px`` of
    :func:`~actiongen_keras.scoring.window_metrics.window_metrics` has it.
    """

    def __init__(self, num_mixtures=4, frame="screen", name="xy_mae_screen", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_mixtures = int(num_mixtures)
        self.frame = frame  # the head's xy_frame: the polar frame's point is its median (xy_point)

    def update_state(self, y_true, y_pred, sample_weight=None):
        point = xy_point(ops.cast(y_pred, "float32"), self.num_mixtures, self.frame)
        err = ops.mean(ops.abs(point - ops.cast(y_true, "float32")), axis=-1)
        self._accumulate(err, sample_weight)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_mixtures": self.num_mixtures, "frame": self.frame}


def build_weighted_metrics(config, dataset_meta):
    """``{output name: [Metric, ...]}`` for ``model.compile(weighted_metrics=...)``."""
    cfg = as_model_config(config)
    t = timing_spec(cfg, dataset_meta)
    return {
        "event_type": [MaskedAccuracy(name="acc"), MacroF1(F.NUM_EVENT_CLASSES)],
        "timing": [TimingMAE(t["boundaries_ms"], t["num_components"], t["max_ms"])],
        "xy": [XYMAE(cfg.num_xy_mixtures, cfg.xy_frame)],
        "button": [MaskedAccuracy(name="acc")],
        "key": [MaskedAccuracy(name="acc")],
        "scroll": [MaskedAccuracy(name="acc")],
        "seq_len": [SeqLenAccuracy(0), SeqLenAccuracy(1)],
    }
