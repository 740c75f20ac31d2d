import numpy as np
from helpers import moves

from actiongen_keras.evaluation import distances as Dist


def test_identical_samples_have_zero_distance():
    a = np.random.default_rng(0).normal(size=2000)
    d = Dist.distance(a, a.copy())
    assert d["wasserstein"] == 0.0 and d["ks"] == 0.0


def test_shifted_sample_distance_is_the_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=5000)
    d = Dist.distance(a, a + 5.0)
    assert abs(d["wasserstein"] - 5.0) < 1e-9
    assert d["ks"] > 0.9 and d["ks_p"] < 1e-10


def test_session_distances_zero_for_same_and_positive_for_faster():
    t = np.arange(0, 6000, 10.0)
    slow = moves(t, t * 0.05, np.full_like(t, 100.0))  # 50 px/s
    fast = moves(t, t * 0.06, np.full_like(t, 100.0))  # 60 px/s
    same = Dist.distribution_distances([slow], [slow])
    assert all(v["wasserstein"] in (0.0, None) for v in same.values())
    diff = Dist.distribution_distances([slow], [fast])
    assert abs(diff["speed"]["wasserstein"] - 10.0) < 1e-6 and diff["speed"]["ks"] == 1.0
    assert diff["interval_ms"]["wasserstein"] == 0.0
