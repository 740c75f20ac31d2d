"""KeystrokeTimingMixture and its loss (layers/keystroke_timing.py)."""

import math

import keras
import numpy as np

from actiongen_keras.layers.keystroke_timing import KeystrokeNLL, KeystrokeTimingMixture, keystroke_log_prob
from actiongen_keras.models.keystroke import build_keystroke_model, sample_timing
from actiongen_keras.testing.layers import run_layer_test

RNG = np.random.default_rng(0)


def test_layer_contract():
    inputs = (np.array([1, 5, 9], "int32"), np.array([3, 4, 7], "int32"), RNG.normal(size=(3, 5)).astype("float32"))
    out = run_layer_test(KeystrokeTimingMixture, {"num_tokens": 12, "num_mixtures": 3, "embed_dim": 4, "hidden": 8}, inputs,
                         expected_output_shape=(3, 15), mixed_precision=False)
    params = out[0]
    assert np.all(np.abs(params[:, 3:9] - 5.0) < 1.0)  # an untrained layer's means start near e^5 ms


def test_log_prob_is_the_mixture_of_diagonal_normals():
    M = 2
    logits, mu_i, mu_d, ls_i, ls_d = [0.0, math.log(3.0)], [5.0, 4.0], [4.5, 4.0], [0.0, -1.0], [0.5, 0.0]
    params = np.array([logits + mu_i + mu_d + ls_i + ls_d], "float32")
    y = np.array([[4.8, 4.2]], "float32")
    want = 0.0
    for w, a, b, sa, sb in zip([0.25, 0.75], mu_i, mu_d, ls_i, ls_d):
        want += w * math.exp(-0.5 * ((y[0, 0] - a) / math.exp(sa)) ** 2 - sa - 0.5 * ((y[0, 1] - b) / math.exp(sb)) ** 2 - sb) / (2 * math.pi)
    got = float(np.asarray(keystroke_log_prob(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(params), M))[0])
    assert abs(got - math.log(want)) < 1e-4
    loss = float(np.asarray(KeystrokeNLL(M)(y, params)))
    assert abs(loss + math.log(want)) < 1e-4


def test_sampling_follows_the_mixture():
    params = np.tile(np.array([[0.0, -30.0, 5.0, 2.0, 4.0, 2.0, -2.0, 0.0, -2.0, 0.0]]), (20000, 1))
    iv, dw = sample_timing(params, 2, np.random.default_rng(0))
    assert abs(np.median(np.log(iv)) - 5.0) < 0.01 and abs(np.median(np.log(dw)) - 4.0) < 0.01
    assert abs(np.std(np.log(iv)) - math.exp(-2.0)) < 0.01


def test_model_save_and_reload_round_trip(tmp_path):
    model = build_keystroke_model(num_mixtures=3, embed_dim=4, hidden=8)
    x = {"prev": np.array([1, 2], "int32"), "key": np.array([3, 4], "int32"), "numeric": RNG.normal(size=(2, 5)).astype("float32")}
    model.fit(x, np.array([[5.0, 4.5], [4.0, 4.2]], "float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    assert isinstance(again.loss, KeystrokeNLL) and again.loss.num_mixtures == 3
