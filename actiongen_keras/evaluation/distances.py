"""Distribution distances between real and generated kinematics.

For each kinematic quantity (:func:`~actiongen_keras.evaluation.kinematics.quantities`,
pooled over sessions) and each per-segment event-type rate, the 1-Wasserstein distance
(``scipy.stats.wasserstein_distance``, in the quantity's own unit), the same divided by the
real sample's interquartile range (``wasserstein_iqr``: comparable across quantities), and
the two-sample Kolmogorov-Smirnov statistic and p-value (``scipy.stats.ks_2samp``).
Pooled samples larger than ``max_n`` are subsampled (seeded) to keep this fast.

:func:`timing_histograms`: the inter-event intervals at **1 ms** resolution and the dwell
times (press -> release, key_down -> key_up) as histograms, real beside each generated
sample, with the total-variation distance at that resolution and the share of intervals on
the real sample's dominant clock ticks. Recorders sample on a clock (SapiMouse: 16/17 ms,
osu!: 16/17 ms frames at 60 Hz); a model that draws continuous intervals spreads over the
ms between the ticks, which the Wasserstein distance barely sees and a detector does.
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


#: ``(quantity, bin width ms, range end ms, clock ticks?)`` of :func:`timing_histograms`:
#: intervals come from a recorder's clock, dwell times from a person's fingers.
HISTOGRAMS = (("interval_ms", 1.0, 60.0, True), ("dwell_button_ms", 5.0, 600.0, False), ("dwell_key_ms", 5.0, 600.0, False))
N_TICKS = 3  # the real sample's most frequent 1 ms interval values ("dominant ticks")


def timing_samples(sessions):
    """``{"interval_ms", "dwell_button_ms", "dwell_key_ms"}`` pooled over ``sessions``."""
    out = {name: [] for name, *_ in HISTOGRAMS}
    for s in sessions:
        out["interval_ms"].append(K.intervals(s))
        d = K.dwell_times(s)
        out["dwell_button_ms"].append(d["button"])
        out["dwell_key_ms"].append(d["key"])
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def histogram(a, bin_ms, end_ms):
    """Counts of ``a`` in bins of ``bin_ms`` centred on ``0, bin_ms, 2 bin_ms, ...`` below
    ``end_ms``, plus one last bin for everything from ``end_ms - bin_ms / 2`` on (non-finite
    values dropped). Centred bins: a recorder's whole-ms intervals land on their own bin."""
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    n = int(round(end_ms / bin_ms))
    idx = np.clip(np.rint(a / bin_ms).astype(np.int64), 0, n)
    return np.bincount(idx, minlength=n + 1)


def total_variation(c1, c2):
    """``0.5 * sum |p - q|`` of two count histograms on the same bins (None when one is empty)."""
    c1, c2 = np.asarray(c1, np.float64), np.asarray(c2, np.float64)
    if c1.sum() == 0 or c2.sum() == 0:
        return None
    return float(0.5 * np.abs(c1 / c1.sum() - c2 / c2.sum()).sum())


def timing_histograms(real, sets, n_ticks=N_TICKS):
    """Interval (1 ms) and dwell (5 ms) histograms, real against each of ``sets`` (``{name: sessions}``).

    Returns ``{quantity: {"bin_ms", "end_ms", "ticks_ms", "samples": {name: {...}}}}``
    (:data:`HISTOGRAMS`); per sample: ``n``, ``counts`` (the last bin holds everything at or
    beyond ``end_ms``), ``median``, ``p10``, ``p90``, ``tv`` (total variation to real at the
    bin width; None for real), ``on_ticks`` (share of the sample on the real sample's
    ``n_ticks`` most frequent bins, ``ticks_ms``, below ``end_ms``; intervals only, else None).
    """
    samples = {"real": timing_samples(real), **{name: timing_samples(ss) for name, ss in sets.items()}}
    out = {}
    for q, bin_ms, end_ms, ticked in HISTOGRAMS:
        counts = {name: histogram(v[q], bin_ms, end_ms) for name, v in samples.items()}
        real_c = counts["real"][:-1]
        top = [int(i) for i in np.argsort(-real_c, kind="stable")[:n_ticks] if real_c[i] > 0] if ticked else []
        per = {}
        for name, c in counts.items():
            a = samples[name][q]
            a = a[np.isfinite(a)]
            per[name] = {
                "n": int(len(a)), "counts": [int(v) for v in c],
                "median": float(np.median(a)) if len(a) else None,
                "p10": float(np.quantile(a, 0.1)) if len(a) else None,
                "p90": float(np.quantile(a, 0.9)) if len(a) else None,
                "tv": None if name == "real" else total_variation(counts["real"], c),
                "on_ticks": float(c[top].sum() / c.sum()) if c.sum() and top else None,
            }
        out[q] = {"bin_ms": bin_ms, "end_ms": end_ms, "ticks_ms": [i * bin_ms for i in top], "samples": per}
    return out


def _stack(mats):
    mats = [m for m in mats if len(m)]
    return np.vstack(mats) if mats else np.zeros((0, len(K.FEATURE_NAMES)))


__all__ = ["distance", "distribution_distances", "pooled_quantities", "RATE_FEATURES", "histogram", "total_variation",
           "timing_histograms", "timing_samples", "HISTOGRAMS"]
