import numpy as np
import pytest
from keras import ops

from actiongen_keras.layers import TemporalPositionEncoding


def test_shape_and_learned_projection():
    layer = TemporalPositionEncoding(12)
    out = layer(np.array([[0.0, 5.0, 600.0]], "float32"))
    assert tuple(out.shape) == (1, 3, 12)


def test_fixed_sinusoids_known_values():
    layer = TemporalPositionEncoding(8, learned=False)
    t = np.array([0.0, -5.0, 100.0], "float32")  # negative offsets clip to 0
    out = ops.convert_to_numpy(layer(t))
    assert out.shape == (3, 8)
    np.testing.assert_allclose(out[0], [0, 0, 0, 0, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(out[1], out[0])
    u = np.log1p(100.0)
    w = np.exp(np.linspace(np.log(0.25), np.log(32.0), 4))
    np.testing.assert_allclose(out[2], np.concatenate([np.sin(u * w), np.cos(u * w)]), atol=2e-5)


def test_odd_dim_without_projection_is_rejected():
    with pytest.raises(ValueError):
        TemporalPositionEncoding(7, learned=False)
