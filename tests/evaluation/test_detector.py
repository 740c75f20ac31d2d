import numpy as np
import pytest
from helpers import moves, session

from actiongen_keras.evaluation import detector as D
from actiongen_keras.evaluation import kinematics as K


def _line_or_jitter(kind, seed, n=600):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 10.0
    if kind == "line":
        ang = rng.uniform(0, 2 * np.pi)
        v = rng.uniform(0.1, 0.3)
        x, y = 256 + np.cos(ang) * v * (t - t.mean()), 192 + np.sin(ang) * v * (t - t.mean())
    else:
        x, y = 256 + np.cumsum(rng.normal(0, 3, n)), 192 + np.cumsum(rng.normal(0, 3, n))
    return K.segment_features(session(moves(t, x, y)), segment_ms=600)[0]


def _sample(kind, subjects, seed, sessions=2):
    Xs, g = [], []
    for i, s in enumerate(subjects):
        for j in range(sessions):
            X = _line_or_jitter(kind, seed * 1000 + i * 10 + j)
            Xs.append(X)
            g += [s] * len(X)
    return np.vstack(Xs), np.array(g)


SUBJ = [f"p{i}" for i in range(12)]


def test_same_generator_is_indistinguishable():
    Xa, ga = _sample("jitter", SUBJ, 100)
    Xb, gb = _sample("jitter", SUBJ, 101)
    r = D.detector_auc(Xa, Xb, ga, gb, n_boot=200, seed=0, max_iter=50)
    assert r["ci_low"] <= 0.5 <= r["ci_high"]
    assert abs(r["auc"] - 0.5) < 0.15


def test_lines_against_jitter_are_caught():
    Xa, ga = _sample("line", SUBJ, 1)
    Xb, gb = _sample("jitter", SUBJ, 2)
    r = D.detector_auc(Xa, Xb, ga, gb, n_boot=100, seed=0, max_iter=50)
    # not exactly 1: a held-out line faster than every training line can be missed
    assert r["auc"] > 0.95 and r["ci_low"] > 0.9
    assert r["subject_disjoint"] and r["n_folds"] == 5
    assert r["roc"]["fpr"][0] == 0.0 and r["roc"]["tpr"][-1] == 1.0


def test_small_samples_are_still_detected():
    """Two subjects, a dozen segments each side (an osu! test split): lines against jitter
    must still be told apart (with sklearn's default leaf of 20 no tree could split)."""
    Xa, ga = _sample("line", ["a", "b"], 3, sessions=1)
    Xb, gb = _sample("jitter", ["a", "b"], 4, sessions=1)
    keep_a, keep_b = np.arange(len(Xa)) % 5 < 3, np.arange(len(Xb)) % 5 < 3
    Xa, ga, Xb, gb = Xa[keep_a], ga[keep_a], Xb[keep_b], gb[keep_b]
    assert len(Xa) + len(Xb) < 40
    r = D.detector_auc(Xa, Xb, ga, gb, n_boot=50, seed=0, max_iter=50)
    assert r["n_folds"] == 2 and r["auc"] > 0.9
    assert D.min_leaf(10) == 2 and D.min_leaf(100) == 10 and D.min_leaf(5000) == 20


def test_folds_are_subject_disjoint():
    rng = np.random.default_rng(0)
    groups = rng.choice([f"s{i}" for i in range(12)], 500)
    y = rng.integers(0, 2, 500)
    folds = D.subject_folds(groups, y, n_splits=5, seed=3)
    assert len(folds) == 5
    seen = np.zeros(500, int)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        seen[test] += 1
    assert (seen == 1).all()


def test_human_floor_needs_subjects_and_is_near_half():
    X, g = _sample("jitter", SUBJ, 4)
    r = D.human_floor(X, g, seed=0, n_boot=200, max_iter=50)
    assert r["ci_low"] <= 0.5 <= r["ci_high"]
    assert set(r["halves"]["A"]) | set(r["halves"]["B"]) == set(SUBJ)
    r = D.human_floor(X[:50], np.array(["a", "b"] * 25), seed=0)
    assert r["auc"] is None and "8 subjects" in r["reason"]


def test_auc_score_matches_definition():
    assert D.auc_score([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert D.auc_score([0, 1], [0.5, 0.5]) == 0.5
    with pytest.raises(ValueError):
        D.subject_folds(["a"] * 4, [0, 1, 0, 1])


def test_human_floor_with_few_subjects_is_not_inverted():
    """People whose segments differ a little by person (as real people do): with 4 people the
    held-out person's nearest training people are mostly of the other class and the AUC
    falls far below 0.5, so the floor is refused; from 8 people on it is not inverted."""
    def people(n, seed):
        rng = np.random.default_rng(seed)
        X = np.vstack([rng.normal(0.3 * rng.standard_normal(), 1.0, (40, 6)) for _ in range(n)])
        return X, np.repeat([f"p{i}" for i in range(n)], 40)

    assert D.human_floor(*people(4, 5), seed=0)["auc"] is None
    aucs = [D.human_floor(*people(8, 5 + s), seed=s, n_boot=20, max_iter=50)["auc"] for s in range(4)]
    assert all(a > 0.3 for a in aucs) and 0.35 < np.mean(aucs) < 0.65, aucs


def test_feature_cues_rank_the_separating_feature_first():
    rng = np.random.default_rng(1)
    real = np.c_[rng.normal(0, 1, 200), rng.normal(0, 1, 200), np.full(200, np.nan)]
    gen = np.c_[rng.normal(0, 1, 150), rng.normal(-3, 1, 150), rng.normal(0, 1, 150)]  # feature b is shifted down
    cues = D.feature_cues(real, gen, ["a", "b", "c"])
    assert [c["feature"] for c in cues] == ["b", "a"]  # "c" has no real values: no cue
    assert cues[0]["auc"] > 0.95 and cues[1]["auc"] < 0.62  # folded: "b" is lower, still a cue
    assert cues[0]["median_gen"] < -2.5 < cues[0]["median_real"]
    assert [c["feature"] for c in D.feature_cues(real, gen, ["a", "b", "c"], top=1)] == ["b"]
