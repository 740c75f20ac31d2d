import numpy as np
from keras import ops

from actiongen_keras.layers import EfficientAttention


def _reference(layer, q_in, v_in, mask):
    """NumPy linear attention with the layer's weights."""
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = [
        (d.kernel.numpy() if hasattr(d.kernel, "numpy") else ops.convert_to_numpy(d.kernel), ops.convert_to_numpy(d.bias))
        for d in (layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense)
    ]

    def phi(x):
        return np.where(x > 0, x + 1, np.exp(x))

    h, e = layer.num_heads, layer.head_dim
    B, T, _ = q_in.shape
    S = v_in.shape[1]
    q = phi(q_in @ wq + bq).reshape(B, T, h, e)
    k = phi(v_in @ wk + bk).reshape(B, S, h, e) * mask[:, :, None, None]
    v = (v_in @ wv + bv).reshape(B, S, h, e)
    out = np.zeros((B, T, h, e))
    for b in range(B):
        for j in range(h):
            kv = k[b, :, j].T @ v[b, :, j]
            out[b, :, j] = (q[b, :, j] @ kv) / ((q[b, :, j] @ k[b, :, j].sum(0))[:, None] + layer.eps)
    return out.reshape(B, T, h * e) @ wo + bo


def test_matches_numpy_reference_and_ignores_masked_keys():
    rng = np.random.default_rng(0)
    layer = EfficientAttention(8, 2)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], "float32")
    out = ops.convert_to_numpy(layer(x, x, mask))
    np.testing.assert_allclose(out, _reference(layer, x, x, mask), rtol=1e-4, atol=1e-5)
    x2 = x.copy()
    x2[0, :2] = rng.normal(size=(2, 8)) * 100  # change masked keys/values only (queries at 0..1 change too)
    out2 = ops.convert_to_numpy(layer(x[:, 2:], x2, mask))
    np.testing.assert_allclose(out2, ops.convert_to_numpy(layer(x[:, 2:], x, mask)), rtol=1e-4, atol=1e-5)


def test_long_history_is_linear_no_quadratic_tensor():
    # H = 60000: a [H, H] float32 score matrix alone would be 14 GB; linear attention
    # only keeps [B, heads, head_dim, head_dim] summaries.
    H = 60000
    layer = EfficientAttention(8, 2)
    x = np.random.default_rng(1).normal(size=(1, H, 8)).astype("float32")
    out = layer(x, x, np.ones((1, H), "float32"))
    assert tuple(out.shape) == (1, H, 8)
    assert np.isfinite(ops.convert_to_numpy(out)).all()


def test_all_keys_masked_gives_finite_output():
    layer = EfficientAttention(4, 1)
    x = np.ones((1, 3, 4), "float32")
    out = ops.convert_to_numpy(layer(x, x, np.zeros((1, 3), "float32")))
    assert np.isfinite(out).all()
