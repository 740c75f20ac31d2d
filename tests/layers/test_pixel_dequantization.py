import numpy as np
import pytest
from keras import ops

import actiongen_keras
from actiongen_keras.layers import PixelDequantization, split_xy_params

M = 3


def _params(B=4, T=500, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, 5 * M)).astype("float32"), np.array([[1920, 1080], [1339, 1003], [512, 384], [800, 600]], "float32")


def test_training_moves_every_mean_of_an_event_by_one_uniform_draw_within_half_a_pixel():
    params, screen = _params()
    layer = PixelDequantization(M, pixels=1.0, seed=0)
    out = ops.convert_to_numpy(layer(params, screen, training=True))
    l0, mu0, s0 = (ops.convert_to_numpy(t) for t in split_xy_params(params, M))
    l1, mu1, s1 = (ops.convert_to_numpy(t) for t in split_xy_params(out, M))
    np.testing.assert_array_equal(l1, l0)  # logits and sigmas untouched
    np.testing.assert_array_equal(s1, s0)
    shift_px = (mu0 - mu1) * screen[:, None, None, :]  # [B, T, M, 2] in pixels
    np.testing.assert_allclose(shift_px, np.broadcast_to(shift_px[:, :, :1], shift_px.shape), atol=2e-3)  # one draw per event
    u = shift_px[:, :, 0].reshape(-1)
    assert np.abs(u).max() <= 0.5 + 1e-3
    # uniform over the pixel: quartiles at -0.25, 0, 0.25 (4000 draws)
    np.testing.assert_allclose(np.quantile(u, [0.25, 0.5, 0.75]), [-0.25, 0.0, 0.25], atol=0.03)
    # pixels scales the spread
    wide = ops.convert_to_numpy(PixelDequantization(M, pixels=4.0, seed=0)(params, screen, training=True))
    wide_px = (params[..., M : 2 * M] - wide[..., M : 2 * M]) * screen[:, None, :1]
    assert 1.8 < np.abs(wide_px).max() <= 2.0 + 1e-3


@pytest.mark.parametrize("frame", ["polar", "polar_factored"])
def test_a_polar_head_moves_its_cursor_with_its_means(frame):
    """The polar density is measured from the appended cursor: shifting means and cursor by
    the same -u is the NLL of the target shifted by +u (the identity the layer relies on); a
    factored polar head's turn logits and a motion head's appended direction are not
    positions and are left alone."""
    from actiongen_keras.layers import xy_log_prob

    rng = np.random.default_rng(1)
    params, screen = _params(T=50)
    params[..., 3 * M :] = np.log(rng.uniform(0.05, 0.5, size=params[..., 3 * M :].shape))
    params[..., M : 3 * M] = rng.uniform(0.3, 0.7, size=params[..., M : 3 * M].shape)
    cursor = rng.uniform(0.3, 0.7, size=params.shape[:2] + (2,)).astype("float32")
    polar = np.concatenate([params, cursor] + ([rng.normal(size=params.shape[:2] + (M,)).astype("float32")] if frame == "polar_factored" else []), -1)
    out = ops.convert_to_numpy(PixelDequantization(M, pixels=1.0, seed=0, frame=frame)(polar, screen, training=True))
    shift = polar[..., M : M + 1] - out[..., M : M + 1]  # x shift of component 0 = the event's u_x / width
    cursor_shift = polar[..., 5 * M : 5 * M + 2] - out[..., 5 * M : 5 * M + 2]
    np.testing.assert_allclose(cursor_shift, np.concatenate([shift, polar[..., 2 * M : 2 * M + 1] - out[..., 2 * M : 2 * M + 1]], -1), atol=1e-6)
    np.testing.assert_array_equal(out[..., 5 * M + 2 :], polar[..., 5 * M + 2 :])
    u = np.concatenate([shift, polar[..., 2 * M : 2 * M + 1] - out[..., 2 * M : 2 * M + 1]], -1)
    y = rng.uniform(0.2, 0.8, size=params.shape[:2] + (2,)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(xy_log_prob(y, out, M, frame)),
                               ops.convert_to_numpy(xy_log_prob(y + u, polar, M, frame)), rtol=1e-3, atol=1e-3)
    motion = np.concatenate([params, np.broadcast_to(np.array([0.6, 0.8], "float32"), cursor.shape)], -1)
    moved = ops.convert_to_numpy(PixelDequantization(M, pixels=1.0, seed=0, frame="motion")(motion, screen, training=True))
    np.testing.assert_array_equal(moved[..., 5 * M :], motion[..., 5 * M :])


def test_outside_training_and_at_zero_pixels_it_is_the_identity():
    params, screen = _params()
    np.testing.assert_array_equal(ops.convert_to_numpy(PixelDequantization(M)(params, screen)), params)
    np.testing.assert_array_equal(ops.convert_to_numpy(PixelDequantization(M, pixels=0.0)(params, screen, training=True)), params)
    with pytest.raises(ValueError, match="pixels must be >= 0"):
        PixelDequantization(M, pixels=-1.0)


def test_config_round_trip_and_save_reload(tmp_path):
    import keras

    layer = PixelDequantization(M, pixels=2.0, seed=5, name="deq")
    clone = PixelDequantization.from_config(layer.get_config())
    assert (clone.num_mixtures, clone.pixels, clone.seed, clone.frame) == (M, 2.0, 5, "screen")
    p_in, s_in = keras.Input((None, 5 * M)), keras.Input((2,))
    model = keras.Model([p_in, s_in], layer(p_in, s_in))
    model.save(tmp_path / "m.keras")
    again = actiongen_keras.load_model(tmp_path / "m.keras")
    params, screen = _params(T=7)
    np.testing.assert_array_equal(ops.convert_to_numpy(again([params, screen])), params)
    assert again.get_layer("deq").pixels == 2.0
