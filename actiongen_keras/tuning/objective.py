"""The tuning objective: ``val_skill``, a validation composite relative to the best baselines.

Why not ``val_loss``: the search changes the loss itself (its per-head weights and the
timing-scale boundaries that define the timing likelihood), so two trials' losses are not
on one scale. ``val_skill`` is computed from *decoded* predictions with the package's
own metrics (:func:`actiongen_keras.scoring.window_metrics.window_metrics`), exactly as
``train()`` scores a model beside its baselines, so every trial is measured the same way.

Definition (validation split, once per epoch)::

    parts P = event_macro_f1 (higher is better), timing_mae_ms_nonmove (lower),
              coord_mae_px (lower), seq_len_acc_within1 (higher)
    b_p     = the best value of part p over all heuristic baselines
              (``scoring.baselines.all_baselines``; each part its own best baseline)
    r_p     = m_p / b_p   for higher-is-better parts
            = b_p / m_p   for lower-is-better parts        (r_p > 1: the model beats b_p)
    r_p     clipped to [1e-3, 1e3]; a NaN model value where b_p is finite counts as 1e-3
    val_skill = exp(mean_p log r_p)                        (geometric mean; maximise)

``val_skill = 1`` means "as good as the best baseline of every part, on (geometric)
average"; 1.1 means 10 % better. Parts whose baseline value is NaN or 0 (e.g. no non-move
events in the split) are left out of the mean. The ratios make the four parts unit-free,
so an F1 gain and a millisecond gain are comparable; the geometric mean makes a 2x better
MAE count as much as a 2x higher F1.
"""

from __future__ import annotations

import math

import numpy as np

from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.pipeline import make_dataset
from actiongen_keras.errors import DataError
from actiongen_keras.scoring.score import KEEP_INPUTS, baseline_metrics, event_class_counts, train_seq_len_mode
from actiongen_keras.scoring.window_metrics import decode_outputs, window_metrics
from actiongen_keras.training.losses import event_decision_bias

OBJECTIVE = "val_skill"
# part -> direction
PARTS = {
    "event_macro_f1": "max",
    "timing_mae_ms_nonmove": "min",
    "coord_mae_px": "min",
    "seq_len_acc_within1": "max",
}
RATIO_CLIP = (1e-3, 1e3)


def _finite(x):
    return x is not None and isinstance(x, (int, float, np.floating)) and math.isfinite(float(x))


def best_baseline_values(baselines):
    """``{part: (value, baseline_name)}``: the best baseline of each part (NaN values ignored).

    ``baselines``: ``{baseline name: window metrics}`` (:func:`~actiongen_keras.scoring.score.baseline_metrics`)."""
    out = {}
    for part, direction in PARTS.items():
        cands = [(float(m[part]), name) for name, m in baselines.items() if _finite(m.get(part))]
        if not cands:
            out[part] = (float("nan"), None)
            continue
        out[part] = max(cands) if direction == "max" else min(cands)
    return out


def part_ratios(model_metrics, reference):
    """``{part: r_p}`` (see the module docstring); parts without a usable reference are left out."""
    lo, hi = RATIO_CLIP
    ratios = {}
    for part, direction in PARTS.items():
        b = reference[part][0]
        if not _finite(b) or b <= 0:
            continue
        m = model_metrics.get(part)
        if not _finite(m):
            ratios[part] = lo
            continue
        m = float(m)
        if direction == "max":
            r = m / b
        else:
            r = b / m if m > 0 else hi
        ratios[part] = float(min(max(r, lo), hi))
    return ratios


def composite(model_metrics, reference):
    """``val_skill`` from a model's window metrics and :func:`best_baseline_values`."""
    ratios = part_ratios(model_metrics, reference)
    if not ratios:
        return float("nan")
    return float(math.exp(sum(math.log(r) for r in ratios.values()) / len(ratios)))


class ValidationScorer:
    """Scores models on one split against the best heuristic baselines (loaded once, lazily).

    The split's windows are read once into memory (NumPy batches); the baselines and their
    per-part best values are computed once. ``score(model, config, meta)`` then costs one
    prediction pass over the split.
    """

    def __init__(self, data_dir, split="validation", batch_size=256):
        self.data_dir = str(data_dir)
        self.split = split
        self.batch_size = int(batch_size)
        self._batches = None
        self.targets = self.weights = self.screen = None
        self.baselines = None
        self.reference = None

    def _load(self):
        if self._batches is not None:
            return
        prep = load_preprocessing(self.data_dir)
        xs, ins, tgs, wts = [], [], [], []
        for x, y, w in make_dataset(self.data_dir, self.split, self.batch_size, shuffle=False).as_numpy_iterator():
            xs.append(x)
            ins.append({k: x[k] for k in KEEP_INPUTS})
            tgs.append(y)
            wts.append(w)
        if not xs:
            raise DataError(f"{self.data_dir}: split '{self.split}' has no windows to score trials on")
        cat = lambda parts: {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        inputs, self.targets, self.weights = cat(ins), cat(tgs), cat(wts)
        self.screen = inputs["screen"]
        self.baselines = baseline_metrics({"inputs": inputs, "targets": self.targets, "weights": self.weights}, prep, train_seq_len_mode(self.data_dir))
        self.event_bias = event_decision_bias(event_class_counts(prep))
        self.reference = best_baseline_values(self.baselines)
        # Pad the last, shorter batch to the batch size: one predict trace per model, not two.
        n = len(next(iter(xs[-1].values())))
        if len(xs) > 1 and n < self.batch_size:
            idx = np.arange(self.batch_size) % n
            xs[-1] = {k: v[idx] for k, v in xs[-1].items()}
        self._sizes = [len(next(iter(x.values()))) for x in xs[:-1]] + [n]
        self._batches = xs

    def model_metrics(self, model, config, meta):
        """The model's window metrics on the split (point predictions as in ``train()``)."""
        self._load()
        preds = [decode_outputs(model.predict_on_batch(x), config, meta, self.event_bias) for x in self._batches]
        preds = {k: np.concatenate([p[k][:n] for p, n in zip(preds, self._sizes)]) for k in preds[0]}
        return window_metrics(self.targets, self.weights, preds, self.screen)

    def score(self, model, config, meta):
        """``{"val_skill", "val_<part>" for each part, "ratio_<part>"}`` of one model."""
        m = self.model_metrics(model, config, meta)
        out = {OBJECTIVE: composite(m, self.reference)}
        for part in PARTS:
            out[f"val_{part}"] = float(m[part])
        for part, r in part_ratios(m, self.reference).items():
            out[f"ratio_{part}"] = r
        return out

    def reference_table(self):
        """``{part: {"value", "baseline"}}``, the per-part references (for reports)."""
        self._load()
        return {p: {"value": v, "baseline": n} for p, (v, n) in self.reference.items()}
