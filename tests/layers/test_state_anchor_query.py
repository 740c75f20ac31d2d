import keras
import numpy as np
from keras import ops

from actiongen_keras.layers import StateAnchorQuery
from actiongen_keras.layers.state_anchor_query import anchor_step_features

B, T, P, D = 2, 3, 4, 8


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.random((B, P, 2)).astype("float32"),
        rng.normal(200, 200, (B, P)).astype("float32"),
        np.array([[1, 1, 1, 0], [0, 0, 0, 0]], "float32"),
        rng.random((B, T, 2)).astype("float32"),
        np.array([[0, 40, 90], [0, 10, 20]], "float32"),
    )


def test_step_features_known_values():
    feats, rel = anchor_step_features(
        np.array([[[0.5, 0.25]]], "float32"), np.array([[150.0]], "float32"), np.array([[[0.2, 0.25]]], "float32"), np.array([[50.0]], "float32")
    )
    f = ops.convert_to_numpy(feats)[0, 0, 0]
    np.testing.assert_allclose(ops.convert_to_numpy(rel)[0, 0, 0], [0.3, 0.0], atol=1e-6)
    np.testing.assert_allclose(f[:3], [1.2, 0.0, 1.2], atol=1e-4)  # offset and distance x 4
    np.testing.assert_allclose(f[3], np.log(0.3 + 1e-3), atol=1e-4)
    np.testing.assert_allclose(f[4:], [np.log1p(10.0), 0.1, np.exp(-1.0)], atol=1e-5)  # 100 ms to go


def test_pointer_is_an_attention_average_of_present_offsets():
    layer = StateAnchorQuery(D, P, num_heads=2)
    a_xy, a_dt, mask, s_xy, s_t = _inputs()
    ctx, ptr = (ops.convert_to_numpy(v) for v in layer(a_xy, a_dt, mask, s_xy, s_t))
    assert ctx.shape == (B, T, D) and ptr.shape == (B, T, 2)
    rel = a_xy[0, None, :3] - s_xy[0, :, None]  # the present anchors of row 0
    lo, hi = rel.min(axis=1), rel.max(axis=1)
    assert np.all(ptr[0] >= lo - 1e-5) and np.all(ptr[0] <= hi + 1e-5)  # a convex combination
    np.testing.assert_allclose(ptr[1], 0.0, atol=1e-7)  # no anchor: no pointer
    # the masked anchor does not matter, wherever it is
    a_xy2 = a_xy.copy()
    a_xy2[0, 3] = [5.0, -5.0]
    ctx2, ptr2 = (ops.convert_to_numpy(v) for v in layer(a_xy2, a_dt, mask, s_xy, s_t))
    np.testing.assert_allclose(ptr2, ptr, atol=1e-6)
    np.testing.assert_allclose(ctx2, ctx, atol=1e-6)


def test_translation_invariant():
    layer = StateAnchorQuery(D, P)
    a_xy, a_dt, mask, s_xy, s_t = _inputs()
    out = [ops.convert_to_numpy(v) for v in layer(a_xy, a_dt, mask, s_xy, s_t)]
    shift = np.array([0.2, -0.1], "float32")
    out2 = [ops.convert_to_numpy(v) for v in layer(a_xy + shift, a_dt + 30.0, mask, s_xy + shift, s_t + 30.0)]
    for a, b in zip(out, out2):
        np.testing.assert_allclose(b, a, atol=1e-5)


def test_save_reload_round_trip(tmp_path):
    inputs = [keras.Input(shape=x.shape[1:], dtype=x.dtype) for x in _inputs()]
    model = keras.Model(inputs, StateAnchorQuery(D, P, name="q")(*inputs))
    path = tmp_path / "q.keras"
    model.save(path)
    clone = keras.saving.load_model(path)
    for a, b in zip(model.predict(list(_inputs()), verbose=0), clone.predict(list(_inputs()), verbose=0)):
        np.testing.assert_allclose(b, a, atol=1e-6)


def test_event_bias_is_each_present_anchors_own_read_out():
    """``num_event_classes``: a third output, the sum over the present anchors of a linear
    read-out of each one's pair embedding; zero at initialisation, nothing from an absent
    anchor, and translation invariant like the rest."""
    C = 5
    layer = StateAnchorQuery(D, P, num_event_classes=C)
    a_xy, a_dt, mask, s_xy, s_t = _inputs()
    ctx, ptr, bias = (ops.convert_to_numpy(v) for v in layer(a_xy, a_dt, mask, s_xy, s_t))
    assert bias.shape == (B, T, C)
    np.testing.assert_array_equal(bias, 0.0)  # the read-out starts at zero
    plain = StateAnchorQuery(D, P)
    plain(a_xy, a_dt, mask, s_xy, s_t)
    for w_plain, w in zip(plain.weights, layer.weights):  # the same layer otherwise
        w.assign(w_plain)
    rng = np.random.default_rng(5)
    layer.event_bias.kernel.assign(rng.normal(0, 0.3, layer.event_bias.kernel.shape).astype("float32"))
    layer.event_bias.bias.assign(np.arange(C, dtype="float32"))
    ctx, ptr, bias = (ops.convert_to_numpy(v) for v in layer(a_xy, a_dt, mask, s_xy, s_t))
    ctx0, ptr0 = (ops.convert_to_numpy(v) for v in plain(a_xy, a_dt, mask, s_xy, s_t))
    np.testing.assert_allclose(ctx, ctx0, atol=1e-6)  # the bias leaves the context and the pointer alone
    np.testing.assert_allclose(ptr, ptr0, atol=1e-6)
    np.testing.assert_array_equal(bias[1], 0.0)  # no anchor present: no bias
    # row 0: three present anchors, each its own read-out of its pair embedding
    feats, _ = anchor_step_features(a_xy, a_dt, s_xy, s_t)
    slots = ops.convert_to_numpy(layer.slot_embedding(ops.arange(P, dtype="int32")))
    e = ops.convert_to_numpy(layer.pair_out(ops.convert_to_numpy(layer.pair_in(feats)) + slots[None, None]))
    per_anchor = e[0] @ ops.convert_to_numpy(layer.event_bias.kernel) + np.arange(C)  # [T, P, C]
    np.testing.assert_allclose(bias[0], per_anchor[:, :3].sum(axis=1), atol=1e-5)
    a_far = a_xy.copy()
    a_far[0, 3] = [9.0, 9.0]  # the absent anchor moved: nothing changes
    np.testing.assert_allclose(ops.convert_to_numpy(layer(a_far, a_dt, mask, s_xy, s_t)[2]), bias, atol=1e-6)
    shift = np.array([0.2, -0.1], "float32")
    moved = ops.convert_to_numpy(layer(a_xy + shift, a_dt + 30.0, mask, s_xy + shift, s_t + 30.0)[2])
    np.testing.assert_allclose(moved, bias, atol=1e-5)
