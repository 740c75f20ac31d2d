import numpy as np
import pytest
from keras import ops

from actiongen_keras.layers import AdvancedAttentionDecoder, TransformerBlock

B, K, H, A, D = 2, 3, 6, 4, 8


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(B, K, D)).astype("float32")
    state_mask = np.array([[1, 0, 1], [0, 0, 0]], "float32")  # second window: no state at all
    hist = rng.normal(size=(B, H, D)).astype("float32")
    hist_type = np.array([[0, 0, 1, 2, 3, 1], [0, 0, 0, 0, 0, 0]], "int32")  # right-aligned; second: empty
    dec = rng.normal(size=(B, A + 1, D)).astype("float32")
    return [state, state_mask, hist, hist_type, dec]


def _run(layer, args):
    return [ops.convert_to_numpy(t) for t in layer(*args)]


@pytest.fixture(params=[False, True], ids=["softmax", "efficient"])
def decoder(request):
    layer = AdvancedAttentionDecoder(D, 2, 1, 16, max_actions=A, efficient_attention=request.param)
    layer(*_inputs())
    return layer


def test_shapes_and_finite_without_state_or_history(decoder):
    dec, s_sum, h_sum, seq = _run(decoder, _inputs())
    assert dec.shape == (B, A + 1, D) and s_sum.shape == (B, D) and h_sum.shape == (B, D) and seq.shape == (B, A + 1)
    assert all(np.isfinite(t).all() for t in (dec, s_sum, h_sum, seq))
    np.testing.assert_allclose(s_sum[1], 0.0)  # no state -> zero summary


def test_causal_later_steps_do_not_change_earlier_outputs(decoder):
    args = _inputs()
    out = _run(decoder, args)[0]
    args[4] = args[4].copy()
    args[4][:, 3:] += np.random.default_rng(9).normal(size=args[4][:, 3:].shape).astype("float32")
    out2 = _run(decoder, args)[0]
    np.testing.assert_allclose(out2[:, :3], out[:, :3], atol=1e-5)
    assert not np.allclose(out2[:, 3:], out[:, 3:])


def test_prefix_decoding_matches_full_sequence(decoder):
    args = _inputs()
    full = _run(decoder, args)[0]
    memory, memory_mask, _, _ = decoder.encode(*args[:4])
    for t in (1, 3):
        prefix = ops.convert_to_numpy(decoder.decode(ops.convert_to_tensor(args[4][:, :t]), memory, memory_mask))
        np.testing.assert_allclose(prefix, full[:, :t], atol=1e-5)


def test_padded_history_and_masked_ticks_have_no_effect(decoder):
    args = _inputs()
    out = _run(decoder, args)
    args2 = [a.copy() for a in args]
    args2[2][0, :2] = 100.0 * np.random.default_rng(5).normal(size=(2, D))  # padded history events
    args2[2][1] = -7.0  # window 2 has only padding
    args2[0][0, 1] = 50.0  # absent tick
    args2[0][1] = 9.0  # window 2 has no state
    out2 = _run(decoder, args2)
    for a, b in zip(out, out2):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)
    args2[2][0, 3] += np.linspace(-1.0, 1.0, D).astype("float32")  # a real event does matter
    assert not np.allclose(_run(decoder, args2)[0][0], out[0][0])


def test_config_round_trip(decoder):
    clone = AdvancedAttentionDecoder.from_config(decoder.get_config())
    args = _inputs()
    clone(*args)
    clone.set_weights(decoder.get_weights())
    for a, b in zip(_run(decoder, args), _run(clone, args)):
        np.testing.assert_allclose(b, a, atol=1e-5)


def test_transformer_block_round_trip_and_causal():
    blk = TransformerBlock(8, 2, 16, causal=True)
    x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    y = ops.convert_to_numpy(blk(x))
    x2 = x.copy()
    x2[:, -1] = 0
    np.testing.assert_allclose(ops.convert_to_numpy(blk(x2))[:, :-1], y[:, :-1], atol=1e-5)
    clone = TransformerBlock.from_config(blk.get_config())
    assert clone.get_config() == blk.get_config()
