"""Distribution distances between real and generated kinematics.

For each kinematic quantity (:func:`~actiongen_keras.evaluation.kinematics.quantities`,
pooled over sessions) and each per-segment event-type rate, the 1-Wasserstein distance
(``scipy.stats.wasserstein_distance``, in the quantity's own unit), the same divided by the
real sample's interquartile range (``wasserstein_iqr``: comparable across quantities), and
the two-sample Kolmogorov-Smirnov statistic and p-value (``scipy.stats.ks_2samp``).
Pooled samples larger than ``max_n`` are subsampled (seeded) to keep this fast.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from actiongen_keras.evaluation import kinematics as K

RATE_FEATURES = ("rate_events", "rate_move", "rate_click", "rate_release", "rate_scroll")


def pooled_quantities(sessions, pause_ms=K.PAUSE_MS):
    """``{quantity: array}`` pooled over ``sessions`` (Sessions or Events)."""
    out = {}
    for s in sessions:
        for name, a in K.quantities(s, pause_ms).items():
            out.setdefault(name, []).append(np.asarray(a, dtype=np.float64))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def distance(a, b, max_n=200_000, seed=0):
    """Wasserstein and KS between two 1-D samples (NaN/inf dropped).

    Returns a dict: ``wasserstein``, ``wasserstein_iqr`` (W / IQR of ``a``), ``ks``,
    ``ks_p``, ``n_real``, ``n_gen``, ``median_real``, ``median_gen``; the distances are
    ``None`` when either sample is empty.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    rng = np.random.default_rng(seed)
    if len(a) > max_n:
        a = rng.choice(a, max_n, replace=False)
    if len(b) > max_n:
        b = rng.choice(b, max_n, replace=False)
    out = {"n_real": int(len(a)), "n_gen": int(len(b)),
           "median_real": float(np.median(a)) if len(a) else None,
           "median_gen": float(np.median(b)) if len(b) else None}
    if len(a) == 0 or len(b) == 0:
        return {**out, "wasserstein": None, "wasserstein_iqr": None, "ks": None, "ks_p": None}
    w = float(stats.wasserstein_distance(a, b))
    iqr = float(np.subtract(*np.quantile(a, [0.75, 0.25])))
    ks = stats.ks_2samp(a, b)
    return {**out, "wasserstein": w, "wasserstein_iqr": w / iqr if iqr > 0 else None,
            "ks": float(ks.statistic), "ks_p": float(ks.pvalue)}


def distribution_distances(real, generated, real_features=None, gen_features=None, max_n=200_000, seed=0, pause_ms=K.PAUSE_MS):
    """Distances between real and generated for every quantity and event-type rate.

    Args:
        real, generated: lists of Sessions (or Events).
        real_features, gen_features: optional per-segment feature matrices
            (:func:`~actiongen_keras.evaluation.kinematics.segment_features`, stacked) to
            compare the event-type rates on; computed when not given.

    Returns:
        ``{name: distance dict}`` (see :func:`distance`); rate entries are named ``rate_*``.
    """
    qr, qg = pooled_quantities(real, pause_ms), pooled_quantities(generated, pause_ms)
    out = {name: distance(qr.get(name, []), qg.get(name, []), max_n, seed) for name in qr}
    if real_features is None:
        real_features = _stack([K.segment_features(s)[0] for s in real])
    if gen_features is None:
        gen_features = _stack([K.segment_features(s)[0] for s in generated])
    for name in RATE_FEATURES:
        j = K.FEATURE_NAMES.index(name)
        out[name] = distance(real_features[:, j], gen_features[:, j], max_n, seed)
    return out


def _stack(mats):
    mats = [m for m in mats if len(m)]
    return np.vstack(mats) if mats else np.zeros((0, len(K.FEATURE_NAMES)))


__all__ = ["distance", "distribution_distances", "pooled_quantities", "RATE_FEATURES"]
