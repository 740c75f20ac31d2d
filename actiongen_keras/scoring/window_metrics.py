"""Per-head metrics on windows, for the model and every baseline alike.

Both the model and the baselines are first turned into *decoded predictions*
(``event_type`` int [N, A+1], ``timing`` ms [N, A+1], ``xy`` screen units [N, A+1, 2],
``seq_len`` int [N]); :func:`window_metrics` then scores any of them against the same
targets and sample weights, so no metric can favour one side by construction.

Point predictions of the model: argmax for classes (event types after the post-hoc
logit adjustment, see ``training.losses.event_decision_bias``), the **median** of the timing
mixture (its mean is dominated by the log-space tail), and the mean of the most probable
xy component.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.context_aware_generator import xy_point
from actiongen_keras.layers.multi_scale_timing import timing_quantile
from actiongen_keras.models.model_config import as_model_config, timing_spec

NONMOVE_TYPES = (F.PRESS, F.RELEASE, F.SCROLL, F.KEY_DOWN, F.KEY_UP)
METRIC_NAMES = (
    "event_accuracy",
    "event_macro_f1",
    "timing_mae_ms",
    "timing_mae_ms_nonmove",
    "coord_mae_px",
    "seq_len_acc",
    "seq_len_acc_within1",
)


def decode_outputs(outputs, model_config, dataset_meta, event_bias=None):
    """Model outputs (dict of arrays) -> decoded predictions.

    ``event_bias`` ([NUM_EVENT_CLASSES], optional) is added to the event logits before the
    argmax: the post-hoc logit adjustment of ``training.losses.event_decision_bias``.
    """
    cfg = as_model_config(model_config)
    t = timing_spec(cfg, dataset_meta)
    timing = ops.convert_to_numpy(
        timing_quantile(ops.convert_to_tensor(np.asarray(outputs["timing"], "float32")), 0.5, t["boundaries_ms"], t["num_components"], t["max_ms"])
    )
    xy = ops.convert_to_numpy(xy_point(ops.convert_to_tensor(np.asarray(outputs["xy"], "float32")), cfg.num_xy_mixtures, cfg.xy_frame))
    return {
        "event_type": (np.asarray(outputs["event_type"]) + (0.0 if event_bias is None else np.asarray(event_bias))).argmax(-1).astype(np.int32),
        "timing": np.asarray(timing, np.float32),
        "xy": np.asarray(xy, np.float32),
        "seq_len": np.asarray(outputs["seq_len"]).argmax(-1).astype(np.int32),
    }


def macro_f1(y_true, y_pred):
    """Mean per-class F1 over the classes present in ``y_true`` (0 for a class never predicted right)."""
    f1s = []
    for c in np.unique(y_true):
        tp = np.sum((y_pred == c) & (y_true == c))
        fp = np.sum((y_pred == c) & (y_true != c))
        fn = np.sum((y_pred != c) & (y_true == c))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1s)) if f1s else 0.0


def _mean(values, mask):
    return float(values[mask].mean()) if mask.any() else float("nan")


def window_metrics(targets, weights, preds, screen):
    """Every metric of ``METRIC_NAMES`` for decoded ``preds`` against ``targets``.

    * event accuracy / macro-F1: positions with ``event_type`` weight > 0 (events and EOS);
    * timing MAE (ms): positions with ``timing`` weight > 0; ``_nonmove``: of those, the
      presses, releases, keys and scrolls (where the decisions are);
    * coordinate MAE (px): ``|dx|`` and ``|dy|`` in the session's screen pixels, averaged,
      where the ``xy`` weight > 0;
    * sequence length: exact and within-one accuracy of the event count.
    """
    ev_true = np.asarray(targets["event_type"])
    ev_mask = np.asarray(weights["event_type"]) > 0
    ev_pred = np.asarray(preds["event_type"])
    t_mask = np.asarray(weights["timing"]) > 0
    t_err = np.abs(np.asarray(preds["timing"], np.float64) - np.asarray(targets["timing"], np.float64))
    nonmove = t_mask & np.isin(ev_true, NONMOVE_TYPES)
    xy_mask = np.asarray(weights["xy"]) > 0
    px = np.abs(np.asarray(preds["xy"], np.float64) - np.asarray(targets["xy"], np.float64)) * np.asarray(screen, np.float64)[:, None, :]
    len_diff = np.abs(np.asarray(preds["seq_len"]).astype(np.int64) - np.asarray(targets["seq_len"]).astype(np.int64))
    return {
        "event_accuracy": _mean((ev_pred == ev_true).astype(np.float64), ev_mask),
        "event_macro_f1": macro_f1(ev_true[ev_mask], ev_pred[ev_mask]),
        "timing_mae_ms": _mean(t_err, t_mask),
        "timing_mae_ms_nonmove": _mean(t_err, nonmove),
        "coord_mae_px": _mean(px.mean(-1), xy_mask),
        "seq_len_acc": float((len_diff == 0).mean()) if len_diff.size else float("nan"),
        "seq_len_acc_within1": float((len_diff <= 1).mean()) if len_diff.size else float("nan"),
        "windows": int(len(len_diff)),
    }
