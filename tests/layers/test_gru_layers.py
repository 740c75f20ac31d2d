import numpy as np
from keras import ops

from actiongen_keras.layers import GRUDecoder, MaskedGRUEncoder


def test_masked_gru_skips_padding():
    enc = MaskedGRUEncoder(6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[0, 0, 1, 2, 1], [0, 0, 0, 0, 0]], "int32")
    seq, last = (ops.convert_to_numpy(t) for t in enc(x, mask))
    assert seq.shape == (2, 5, 6) and last.shape == (2, 6)
    x2 = x.copy()
    x2[0, :2] = 9.0
    x2[1] = -3.0
    seq2, last2 = (ops.convert_to_numpy(t) for t in enc(x2, mask))
    np.testing.assert_allclose(seq2, seq, atol=1e-5)  # padded steps output 0 and carry the state
    np.testing.assert_allclose(last2, last, atol=1e-5)
    np.testing.assert_allclose(last[1], 0.0)
    clone = MaskedGRUEncoder.from_config(enc.get_config())
    assert clone.units == 6


def test_gru_decoder_is_causal():
    dec = GRUDecoder(6)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 5)).astype("float32")
    ctx = rng.normal(size=(2, 3)).astype("float32")
    y = ops.convert_to_numpy(dec(x, ctx))
    x2 = x.copy()
    x2[:, 2:] = 0.0
    y2 = ops.convert_to_numpy(dec(x2, ctx))
    np.testing.assert_allclose(y2[:, :2], y[:, :2], atol=1e-5)
    assert GRUDecoder.from_config(dec.get_config()).units == 6
