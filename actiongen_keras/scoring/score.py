"""The model beside every baseline on the same windows: predict, score, tabulate.

``train()`` writes these numbers into ``RUN_DIR/metrics.json``, ``actiongen evaluate``
into its report, the tuner scores trials with them: one implementation for all three.
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.data.pipeline import make_dataset
from actiongen_keras.errors import DataError
from actiongen_keras.scoring.baselines import all_baselines
from actiongen_keras.scoring.window_metrics import METRIC_NAMES, decode_outputs, window_metrics

# The inputs the baselines and metrics need beside the predictions.
KEEP_INPUTS = ("hist_type", "hist_dt", "hist_t_before", "hist_xy", "dec_type", "dec_dt", "dec_xy", "dec_t_after", "screen")


def event_class_counts(prep):
    """Target event-type counts of the training split, indexed by class id."""
    counts = np.zeros(F.NUM_EVENT_CLASSES, dtype=np.float64)
    for name, n in (prep.target_type_counts or {}).items():
        if name in F.EVENT_TYPE_ID and F.EVENT_TYPE_ID[name] < F.NUM_EVENT_CLASSES:
            counts[F.EVENT_TYPE_ID[name]] = n
    return counts


def predict_batches(model, batches, config, meta, event_bias=None):
    """Decoded predictions for ``(x, y, w)`` NumPy batches, with what baselines and metrics need.

    ``event_bias``: added to the event logits before the argmax
    (``training.losses.event_decision_bias``).
    """
    parts = {"inputs": [], "targets": [], "weights": [], "preds": []}
    for x, y, w in batches:
        parts["preds"].append(decode_outputs(model.predict_on_batch(x), config, meta, event_bias))
        parts["inputs"].append({k: x[k] for k in KEEP_INPUTS})
        parts["targets"].append(y)
        parts["weights"].append(w)
    if not parts["preds"]:
        raise DataError("no windows to predict")
    return {k: {n: np.concatenate([p[n] for p in v]) for n in v[0]} for k, v in parts.items()}


def predict_split(model, data_dir, split, config, meta, event_bias=None, batch_size=256):
    """:func:`predict_batches` over one split of a built dataset."""
    batches = make_dataset(data_dir, split, batch_size, shuffle=False).as_numpy_iterator()
    return predict_batches(model, batches, config, meta, event_bias)


def _target_t_after(inputs):
    """True ms after T of each target event: the decoder input of the next step."""
    d = inputs["dec_t_after"]
    return np.concatenate([d[:, 1:], d[:, -1:]], axis=1)


def baseline_metrics(data, prep, train_seq_len_mode):
    """``{baseline name: metrics}`` of every heuristic baseline on ``data`` (inputs, targets, weights)."""
    counts = event_class_counts(prep)
    counts[F.PAD] = 0
    majority = int(counts.argmax())
    median = float((prep.interval_quantiles_ms or {}).get("p50", 16.0))
    ins, tgs, wts = data["inputs"], data["targets"], data["weights"]
    base = all_baselines(ins, _target_t_after(ins), majority, train_seq_len_mode, median, prep.data_config.target_ms)
    return {name: window_metrics(tgs, wts, preds, ins["screen"]) for name, preds in base.items()}


def split_metrics(data, prep, train_seq_len_mode, extra_models=None):
    """``{"model": metrics, "baselines": {name: metrics}}`` on one split's predictions."""
    ins, tgs, wts = data["inputs"], data["targets"], data["weights"]
    out = {"model": window_metrics(tgs, wts, data["preds"], ins["screen"]), "baselines": baseline_metrics(data, prep, train_seq_len_mode)}
    for name, preds in (extra_models or {}).items():
        out["baselines"][name] = window_metrics(tgs, wts, preds, ins["screen"])
    return out


def train_seq_len_mode(data_dir, batch_size=512):
    """Most common target event count in the training split (the majority length baseline)."""
    counts = np.zeros(1, dtype=np.int64)
    for _, y, _ in make_dataset(data_dir, "train", batch_size, shuffle=False).as_numpy_iterator():
        c = np.bincount(y["seq_len"].astype(np.int64))
        counts = np.pad(counts, (0, max(0, len(c) - len(counts))))
        counts[: len(c)] += c
    return int(counts.argmax())


def metrics_table(metrics, split="test"):
    """A Markdown table: the model beside every baseline on one split."""
    m = metrics[split]
    rows = [("model", m["model"])] + sorted(m["baselines"].items())
    head = "| | " + " | ".join(METRIC_NAMES) + " |\n|---|" + "---|" * len(METRIC_NAMES)
    lines = [head]
    for name, vals in rows:
        lines.append(f"| {name} | " + " | ".join("-" if vals[k] is None else f"{vals[k]:.3f}" for k in METRIC_NAMES) + " |")
    return "\n".join(lines)
