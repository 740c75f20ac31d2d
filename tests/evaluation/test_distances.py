import numpy as np
import pytest
from helpers import events, moves, session

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


def _ticked(n, ticks, offset=0.0):
    """``n`` moves whose intervals cycle through ``ticks`` (ms), shifted by ``offset`` ms each."""
    dt = np.resize(np.asarray(ticks, float), n - 1) + offset
    t = np.r_[0.0, np.cumsum(dt)]
    return moves(t, np.arange(n, dtype=float), np.zeros(n))


def test_interval_histogram_at_1ms_counts_ticks_and_tv():
    real = _ticked(301, [16, 17, 17])  # 100 x 16 ms, 200 x 17 ms
    on_ticks = _ticked(301, [16, 17, 17])
    between = _ticked(301, [16.6])  # a model drawing continuous intervals: 16.6 ms -> the 17 ms bin
    late = _ticked(101, [16, 70])  # 50 x 16 ms, 50 beyond the 60 ms range
    th = Dist.timing_histograms([real], {"same": [on_ticks], "between": [between], "late": [late]})
    h = th["interval_ms"]
    assert h["bin_ms"] == 1.0 and h["end_ms"] == 60.0 and h["ticks_ms"] == [17.0, 16.0]
    c = np.asarray(h["samples"]["real"]["counts"])
    assert len(c) == 61 and c[16] == 100 and c[17] == 200 and c.sum() == 300
    assert h["samples"]["real"]["on_ticks"] == 1.0 and h["samples"]["real"]["tv"] is None
    assert h["samples"]["same"]["tv"] == 0.0
    assert h["samples"]["between"]["counts"][17] == 300
    assert h["samples"]["between"]["tv"] == pytest.approx(1 / 3)  # real: 1/3 at 16, 2/3 at 17; between: all at 17
    assert h["samples"]["late"]["counts"][-1] == 50 and h["samples"]["late"]["on_ticks"] == 0.5
    assert h["samples"]["late"]["tv"] == pytest.approx(0.5 * (abs(1 / 3 - 0.5) + 2 / 3 + 0.5))
    assert h["samples"]["between"]["median"] == pytest.approx(16.6)


def test_dwell_histograms_of_buttons_and_keys():
    rows = []
    for i, d in enumerate([50, 50, 95, 120]):  # button dwells
        rows += [(1000.0 * i, "press", 1, 1, "left", ""), (1000.0 * i + d, "release", 1, 1, "left", "")]
    for i, d in enumerate([80, 82, 700]):  # key dwells: 82 -> the 80 ms bin; 700 beyond the 600 ms range
        rows += [(5000.0 + 1000 * i, "key_down", 1, 1, "", "a"), (5000.0 + 1000 * i + d, "key_up", 1, 1, "", "a")]
    real = session(events(rows))
    th = Dist.timing_histograms([real], {"copy": [real]})
    b, k = th["dwell_button_ms"], th["dwell_key_ms"]
    assert b["bin_ms"] == 5.0 and len(b["samples"]["real"]["counts"]) == 121
    cb = np.asarray(b["samples"]["real"]["counts"])
    assert cb[10] == 2 and cb[19] == 1 and cb[24] == 1 and cb.sum() == 4
    assert b["ticks_ms"] == [] and b["samples"]["real"]["on_ticks"] is None  # dwell times are not on a clock
    assert b["samples"]["real"]["median"] == pytest.approx(72.5)
    ck = np.asarray(k["samples"]["real"]["counts"])
    assert ck[16] == 2 and ck[-1] == 1 and k["samples"]["real"]["n"] == 3
    assert b["samples"]["copy"]["tv"] == 0.0 and k["samples"]["copy"]["tv"] == 0.0
    # no generated key presses: no distance rather than a made-up one
    assert Dist.timing_histograms([real], {"none": [_ticked(50, [10])]})["dwell_key_ms"]["samples"]["none"]["tv"] is None
