import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers import EventEmbedding, StateEmbedding


def _events(B=2, L=5, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, F.NUM_EVENT_TYPES, (B, L)).astype("int32"),
        rng.integers(0, F.NUM_BUTTONS, (B, L)).astype("int32"),
        rng.integers(0, 7, (B, L)).astype("int32"),
        rng.integers(0, F.NUM_SCROLL_CLASSES, (B, L, 2)).astype("int32"),
        rng.exponential(50, (B, L)).astype("float32"),
        rng.exponential(500, (B, L)).astype("float32"),
        rng.random((B, L, 2)).astype("float32"),
    )


def test_event_embedding_shape_and_round_trip():
    # non-default time encodings: the clone must take them from the config, not from the defaults
    layer = EventEmbedding(16, num_keys=7, key_embedding_dim=4, time_encoding={"scales_ms": [3.0, 30.0], "max_frequency": 8.0})
    ev = _events()
    out = ops.convert_to_numpy(layer(*ev))
    assert out.shape == (2, 5, 16)
    clone = EventEmbedding.from_config(layer.get_config())
    clone(*ev)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(*ev)), out, atol=1e-5)
    assert clone.dt_encoding.scales_ms == clone.offset_encoding.scales_ms == (3.0, 30.0) and clone.dt_encoding.max_frequency == 8.0


def test_event_embedding_per_position():
    layer = EventEmbedding(8, num_keys=7)
    ev = _events()
    out = ops.convert_to_numpy(layer(*ev))
    ev2 = [a.copy() for a in ev]
    for a in ev2:
        a[:, 3] = 0 if a.dtype.kind == "i" else 1.0
    out2 = ops.convert_to_numpy(layer(*ev2))
    np.testing.assert_allclose(np.delete(out2, 3, axis=1), np.delete(out, 3, axis=1), atol=1e-6)
    assert not np.allclose(out2[:, 3], out[:, 3])


def test_state_embedding_shapes_and_round_trip():
    layer = StateEmbedding(8, num_numeric=3, categorical_vocab_sizes=(4, 5), history_ticks=4, time_encoding={"num_frequencies": 4})
    num = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    cat = np.ones((2, 4, 2), "int32")
    out = ops.convert_to_numpy(layer(num, cat))
    assert out.shape == (2, 4, 8)
    clone = StateEmbedding.from_config(layer.get_config())
    clone(num, cat)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone(num, cat)), out, atol=1e-5)
    assert clone.tick_encoding.num_frequencies == 4
    # ticks differ by their time offset even with identical features
    assert not np.allclose(out[0, 0], out[0, 1])


def test_state_embedding_without_categorical_features():
    layer = StateEmbedding(8, num_numeric=2, categorical_vocab_sizes=(), history_ticks=3)
    out = layer(np.zeros((1, 3, 2), "float32"), np.zeros((1, 3, 0), "int32"))
    assert tuple(out.shape) == (1, 3, 8)
