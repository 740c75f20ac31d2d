import math

import numpy as np
import pytest
from keras import ops

from actiongen_keras.layers import MultiScaleTimingProcessor
from actiongen_keras.layers.multi_scale_timing import (
    boundaries_from_quantiles,
    sample_timing,
    scale_ranges,
    split_timing_params,
    timing_cdf,
    timing_log_prob,
    timing_quantile,
)

B01 = (100.0, 300.0)


def _params(M=2, seed=0, n=4):
    layer = MultiScaleTimingProcessor(num_components=M, boundaries_ms=B01, hidden_dim=8)
    x = np.random.default_rng(seed).normal(size=(n, 6)).astype("float32")
    return layer, ops.convert_to_numpy(layer(x))


def test_output_layout_and_locations_inside_scale_ranges():
    layer, p = _params(M=2)
    assert p.shape == (4, 3 + 9 * 2) and layer.num_params == 21
    _, _, loc, scale = (ops.convert_to_numpy(t) for t in split_timing_params(ops.convert_to_tensor(p), 2))
    for s, (lo, hi) in enumerate(scale_ranges(B01)):
        assert np.all(loc[:, s] >= lo) and np.all(loc[:, s] <= hi)
    assert np.all(scale > 0)


def test_density_integrates_to_one():
    _, p = _params(M=3, n=2)
    M = 3
    ys = np.linspace(0, math.log1p(60000.0), 20001)[:-1] + 0.5 * math.log1p(60000.0) / 20000
    dt = np.expm1(ys).astype("float32")
    P = np.repeat(p[:1], len(dt), 0)
    a, b = timing_log_prob(ops.convert_to_tensor(P), ops.convert_to_tensor(dt), B01, M)
    dens = np.exp(ops.convert_to_numpy(a) + ops.convert_to_numpy(b))
    assert abs(dens.sum() * (ys[1] - ys[0]) - 1.0) < 2e-3


def test_nll_lower_at_the_mode_than_away():
    M = 1
    p = np.zeros((1, 3 + 9 * M), "float32")
    p[0, :3] = [5.0, 0.0, 0.0]  # fast scale
    lo, hi = scale_ranges(B01)[0]
    loc = 0.5 * (lo + hi)
    p[0, 3 + 1] = loc  # fast loc
    p[0, 3 + 2] = -3.0  # narrow
    nll = []
    for dt in (math.expm1(loc), math.expm1(loc) * 1.5, 250.0):
        a, b = timing_log_prob(ops.convert_to_tensor(p), ops.convert_to_tensor(np.array([dt], "float32")), B01, M)
        nll.append(-float(ops.convert_to_numpy(a + b)[0]))
    assert nll[0] < nll[1] < nll[2]


def test_median_and_sampler_agree():
    _, p = _params(M=2, n=1, seed=3)
    med = float(ops.convert_to_numpy(timing_quantile(ops.convert_to_tensor(p), 0.5, B01, 2))[0])
    cdf = float(ops.convert_to_numpy(timing_cdf(ops.convert_to_tensor(p), np.array([math.log1p(med)], "float32"), B01, 2))[0])
    assert abs(cdf - 0.5) < 1e-3
    u = np.random.default_rng(0).random((20000, 3)).astype("float32")
    s = ops.convert_to_numpy(sample_timing(np.repeat(p, 20000, 0), u, B01, 2))
    assert s.shape == (20000,) and np.all(s >= 0) and np.all(s <= 60000)
    assert abs(np.mean(s <= med) - 0.5) < 0.02


def test_boundaries_from_quantiles():
    b = boundaries_from_quantiles({"p10": 10.0, "p50": 60.0, "p90": 600.0})
    assert 10.0 < b[0] < 60.0 < b[1] < 600.0
    # terciles by log-linear interpolation: 1/3 lies 23/40 of the way from p10 to p50
    assert b[0] == pytest.approx(math.exp(math.log(10) + (1 / 3 - 0.1) / 0.4 * math.log(6)), rel=1e-3)
    layer = MultiScaleTimingProcessor.from_quantiles({"p50": 80.0, "p90": 900.0})
    assert layer.boundaries_ms[0] < layer.boundaries_ms[1]
    assert boundaries_from_quantiles({"p50": 5.0})[1] > boundaries_from_quantiles({"p50": 5.0})[0]


def test_config_round_trip():
    layer, _ = _params()
    clone = MultiScaleTimingProcessor.from_config(layer.get_config())
    assert clone.boundaries_ms == layer.boundaries_ms and clone.num_components == layer.num_components
