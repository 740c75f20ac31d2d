"""Classifier two-sample test: can a bot detector tell generated input from real input?

A gradient-boosted tree classifier (``sklearn.ensemble.HistGradientBoostingClassifier``)
is trained on per-segment kinematic features
(:func:`~actiongen_keras.evaluation.kinematics.segment_features`) to separate real
(label 0) from generated (label 1) segments. Training and testing use **subject-disjoint**
folds (``StratifiedGroupKFold`` on the subject, so no person is in the train and the test
part of a fold; this is asserted for every fold). The out-of-fold scores of all folds are
pooled into one ROC curve and one ROC AUC: 0.5 = indistinguishable, 1.0 = always caught.

Groups: a generated session keeps the ``subject`` of the real session whose context it was
generated from (the generator writes that subject, and the hand-written bots do), so a
subject's real and generated segments are always on the same side of a split and the
detector cannot win by recognising the person. A generated session whose subject is not
among the real subjects is its own group.

Confidence interval: percentile **cluster bootstrap** of the pooled out-of-fold AUC,
resampling clusters with replacement (``ci_method`` says which clusters: subjects, or
sessions when there are fewer than :data:`MIN_SUBJECTS_FOR_SUBJECT_CI` subjects; a
generated session is in the cluster of its context session). The classifier is not
refitted inside the bootstrap, so the interval covers the test-set variation only.

:func:`human_floor`: the same test on real against real: subjects are split at random into
halves A and B, and the detector tries to tell A's segments from B's on subjects it has
never seen. It should be near 0.5; a generated sample cannot be expected to do better. It
needs :data:`MIN_SUBJECTS_FOR_FLOOR` people.

Class weights are balanced in every fold. Holding out whole subjects shifts the class
balance of the training part (in the human floor a fold's test subject is missing from its
own class), and an unweighted classifier turns that shift into scores that rank the
held-out class *low*: the pooled AUC then falls far below 0.5 (0.06 on SapiMouse).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

N_SPLITS = 5
N_BOOT = 500
MIN_SUBJECTS_FOR_SUBJECT_CI = 10
#: The human floor needs this many people: with fewer, each held-out person's class is
#: short of a member in training and the detector ranks held-out people by their nearest
#: training people, who are then mostly of the other class (AUC well below 0.5, see tests).
MIN_SUBJECTS_FOR_FLOOR = 8


def auc_score(y, score):
    """ROC AUC by the Mann-Whitney rank sum (ties count half); NaN with one class only."""
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def subject_folds(groups, y, n_splits=N_SPLITS, seed=0):
    """Subject-disjoint ``(train, test)`` index folds, stratified on ``y`` where possible.

    Raises ``ValueError`` when there are fewer than two groups or when a training part
    would hold one class only.
    """
    groups = np.asarray(groups)
    y = np.asarray(y)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"need at least 2 subjects for subject-disjoint folds, got {n_groups}")
    k = min(n_splits, n_groups)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for train, test in cv.split(np.zeros(len(y)), y, groups):
        if set(groups[train]) & set(groups[test]):
            raise AssertionError("fold is not subject-disjoint")
        if len(np.unique(y[train])) < 2:
            raise ValueError("a training fold holds one class only (too few subjects on one side)")
        folds.append((train, test))
    return folds


def _bootstrap_auc(y, score, clusters, n_boot, seed):
    rng = np.random.default_rng(seed)
    clusters = np.asarray(clusters)
    uniq, inv = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(inv == i) for i in range(len(uniq))]
    aucs = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[i] for i in pick])
        a = auc_score(y[idx], score[idx])
        if np.isfinite(a):
            aucs.append(a)
    if not aucs:
        return float("nan"), float("nan")
    return float(np.quantile(aucs, 0.025)), float(np.quantile(aucs, 0.975))


def _thin_roc(y, score, max_points=101):
    fpr, tpr, _ = roc_curve(y, score)
    if len(fpr) > max_points:
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, max_points).round().astype(int)])
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]}


def min_leaf(n_train):
    """Smallest leaf of the trees: sklearn's 20 on large folds, ``n / 10`` (at least 2) on small
    ones. With 20 a fold of under 40 segments cannot split at all and the detector would
    score every test segment alike (AUC 0.5 whatever the samples)."""
    return int(max(2, min(20, n_train // 10)))


def two_sample_test(X, y, groups, clusters=None, ci_method=None, n_splits=N_SPLITS, n_boot=N_BOOT, seed=0, max_iter=200, n_threads=1):
    """Subject-disjoint classifier two-sample test.

    Args:
        X: features ``[n, F]`` (NaN allowed).
        y: 1 for the sample to detect (generated), 0 for real.
        groups: subject of each row (folds are disjoint on it).
        clusters: bootstrap clusters (default: ``groups``); ``ci_method`` names them.
        n_threads: OpenMP threads for the trees (default 1: on a shared machine more
            threads can be many times slower on these small problems).

    Returns:
        dict: ``auc``, ``ci_low``, ``ci_high``, ``ci_method``, ``n_pos``, ``n_neg``,
        ``n_subjects``, ``n_folds``, ``fold_auc`` (per fold, NaN where a test fold has one
        class), ``subject_disjoint`` (True, asserted), ``roc`` (``fpr``/``tpr`` lists), and
        ``scores`` (out-of-fold scores, not JSON-ready: drop before writing).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    groups = np.asarray(groups)
    folds = subject_folds(groups, y, n_splits, seed)
    oof = np.full(len(y), np.nan)
    fold_auc = []
    for train, test in folds:
        clf = HistGradientBoostingClassifier(
            max_iter=max_iter, learning_rate=0.1, random_state=seed, early_stopping=False, min_samples_leaf=min_leaf(len(train)),
            class_weight="balanced",  # see the module doc: no prior shift between folds
        )
        cols = np.isfinite(X[train]).any(0)  # a feature that is NaN throughout cannot be binned
        with threadpool_limits(n_threads):
            clf.fit(X[train][:, cols], y[train])
            oof[test] = clf.predict_proba(X[test][:, cols])[:, 1]
        fold_auc.append(auc_score(y[test], oof[test]))
    auc = auc_score(y, oof)
    clusters = groups if clusters is None else np.asarray(clusters)
    lo, hi = _bootstrap_auc(y, oof, clusters, n_boot, seed)
    return {
        "auc": auc, "ci_low": lo, "ci_high": hi,
        "ci_method": ci_method or f"percentile cluster bootstrap over {len(np.unique(clusters))} subjects, {n_boot} resamples",
        "n_pos": int(y.sum()), "n_neg": int((1 - y).sum()), "n_subjects": int(len(np.unique(groups))),
        "n_folds": len(folds), "fold_auc": [float(a) for a in fold_auc], "subject_disjoint": True,
        "roc": _thin_roc(y, oof), "scores": oof,
    }


def detector_auc(real_X, gen_X, real_groups, gen_groups, real_clusters=None, gen_clusters=None, ci_method=None, **kw):
    """:func:`two_sample_test` of real (0) against generated (1) segments."""
    X = np.vstack([real_X, gen_X])
    y = np.r_[np.zeros(len(real_X), int), np.ones(len(gen_X), int)]
    groups = np.r_[np.asarray(real_groups, dtype=object), np.asarray(gen_groups, dtype=object)].astype(str)
    clusters = None
    if real_clusters is not None and gen_clusters is not None:
        clusters = np.r_[np.asarray(real_clusters, dtype=object), np.asarray(gen_clusters, dtype=object)].astype(str)
    return two_sample_test(X, y, groups, clusters=clusters, ci_method=ci_method, **kw)


def feature_cues(real_X, gen_X, names, top=6):
    """What gives a sample away: the features that alone best separate it from the real
    segments, as ``[{feature, auc, median_real, median_gen}]`` sorted by ``auc`` (the
    univariate ROC AUC folded to >= 0.5: 0.5 = no cue), at most ``top`` (None: all)."""
    real_X, gen_X = np.asarray(real_X, np.float64), np.asarray(gen_X, np.float64)
    out = []
    for j, name in enumerate(names):
        r, g = real_X[:, j], gen_X[:, j]
        r, g = r[np.isfinite(r)], g[np.isfinite(g)]
        if len(r) < 2 or len(g) < 2:
            continue
        a = auc_score(np.r_[np.zeros(len(r)), np.ones(len(g))], np.r_[r, g])
        out.append({"feature": name, "auc": float(max(a, 1.0 - a)), "median_real": float(np.median(r)), "median_gen": float(np.median(g))})
    return sorted(out, key=lambda c: -c["auc"])[:top]


def human_floor(X, subjects, clusters=None, ci_method=None, seed=0, **kw):
    """Real against real of other people: subjects split at random into halves A (0) and B (1).

    Returns the :func:`two_sample_test` dict plus ``halves``; with fewer than
    :data:`MIN_SUBJECTS_FOR_FLOOR` subjects, ``auc`` etc. are ``None`` and ``reason`` says why.
    """
    subjects = np.asarray(subjects).astype(str)
    uniq = np.unique(subjects)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(uniq)
    half_b = set(perm[len(perm) // 2:])
    if len(uniq) < MIN_SUBJECTS_FOR_FLOOR:
        return {"auc": None, "ci_low": None, "ci_high": None, "n_subjects": int(len(uniq)),
                "reason": f"needs at least {MIN_SUBJECTS_FOR_FLOOR} subjects for an unbiased subject-disjoint test, have {len(uniq)}"}
    y = np.array([s in half_b for s in subjects], dtype=int)
    out = two_sample_test(X, y, subjects, clusters=clusters, ci_method=ci_method, seed=seed, **kw)
    out["halves"] = {"A": sorted(set(perm) - half_b), "B": sorted(half_b)}
    return out


def json_ready(result):
    """A detector result without its per-row scores."""
    return {k: v for k, v in result.items() if k != "scores"}


__all__ = ["auc_score", "subject_folds", "two_sample_test", "detector_auc", "human_floor", "json_ready"]
