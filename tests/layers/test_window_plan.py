import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers import ContextAwareActionGenerator, WindowPlan, window_end_cursor, xy_log_prob
from actiongen_keras.layers.context_aware_generator import xy_point

RNG = np.random.default_rng(3)


def test_the_window_ends_at_the_last_decoder_inputs_position():
    """Decoder input i > 0 is target event i - 1: the last real one is the cursor after the
    window's last event; a window without events ends at BOS, the cursor at T."""
    dec_type = np.array([[F.BOS, F.MOVE, F.PRESS, F.PAD, F.PAD], [F.BOS, F.PAD, F.PAD, F.PAD, F.PAD],
                         [F.BOS, F.MOVE, F.MOVE, F.MOVE, F.RELEASE]], "int32")
    dec_xy = RNG.random((3, 5, 2)).astype("float32")
    end = ops.convert_to_numpy(window_end_cursor(dec_type, dec_xy))
    np.testing.assert_array_equal(end, dec_xy[[0, 1, 2], [2, 0, 4]])


def test_each_step_sees_the_plan_from_its_cursor_and_the_time_left():
    """What a step sees of the plan depends on the offset from its cursor and the time left
    only: the same offset anywhere on the screen is the same feature; another offset or
    another time is not."""
    layer = WindowPlan(8, 3, target_ms=600.0)
    layer.build((2, 32), (2, 2), (2, 2))
    plan = np.array([[0.8, 0.2], [0.5, 0.5]], "float32")
    dec_xy = np.array([[[0.7, 0.1], [0.8, 0.2], [0.1, 0.1], [0.7, 0.1]], [[0.4, 0.4], [0.5, 0.5], [0.0, 0.0], [0.4, 0.4]]], "float32")
    t = np.array([[0, 150, 300, 300]] * 2, "float32")
    f = ops.convert_to_numpy(layer.step_context(plan, dec_xy, t))
    assert f.shape == (2, 4, 8)
    np.testing.assert_allclose(f[0, 0], f[1, 0], atol=1e-6)  # offset (0.1, 0.1), the whole window left, on either row
    np.testing.assert_allclose(f[0, 3], f[1, 3], atol=1e-6)
    assert np.abs(f[0, 0] - f[0, 3]).max() > 1e-4  # the same offset, half the window gone
    assert np.abs(f[0, 0] - f[0, 2]).max() > 1e-4  # another offset


def test_the_plans_means_start_at_the_cursor_and_follow_the_pointer():
    """Every mean is the cursor plus a free offset plus a learned share of the anchor pointer:
    with the head's outputs zeroed they all lie on the cursor; a pointer gain of 1 moves them
    onto the anchor."""
    M = 3
    layer = WindowPlan(8, M)
    bos = np.array([[0.2, 0.3], [0.6, 0.6]], "float32")
    pointer = np.array([[0.1, -0.2], [0.0, 0.0]], "float32")
    layer(RNG.normal(size=(2, 32)).astype("float32"), bos, pointer)
    kernel, bias = layer.head.kernel, layer.head.bias
    kernel.assign(np.zeros(kernel.shape, "float32"))
    params = ops.convert_to_numpy(layer(RNG.normal(size=(2, 32)).astype("float32"), bos, pointer))
    np.testing.assert_allclose(params[:, M : 2 * M], np.repeat(bos[:, :1], M, 1), atol=1e-6)
    np.testing.assert_allclose(params[:, 2 * M : 3 * M], np.repeat(bos[:, 1:], M, 1), atol=1e-6)
    bias.assign(np.concatenate([np.zeros(5 * M), np.ones(M)]).astype("float32"))
    params = ops.convert_to_numpy(layer(RNG.normal(size=(2, 32)).astype("float32"), bos, pointer))
    np.testing.assert_allclose(params[:, M], bos[:, 0] + pointer[:, 0], atol=1e-6)
    np.testing.assert_allclose(params[:, 2 * M], bos[:, 1] + pointer[:, 1], atol=1e-6)


def _generator_inputs(B=2, T=5, H=6, P=3):
    dec_type = np.array([[F.BOS, F.MOVE, F.MOVE, F.MOVE, F.PAD], [F.BOS, F.MOVE, F.PRESS, F.PAD, F.PAD]], "int32")
    return [RNG.normal(size=(B, T, 8)).astype("float32"), RNG.normal(size=(B, 8)).astype("float32"), RNG.normal(size=(B, 8)).astype("float32"),
            dec_type, np.cumsum(RNG.exponential(50, (B, T)), 1).astype("float32"), RNG.exponential(30, (B, T)).astype("float32"),
            RNG.random((B, T, 2)).astype("float32"), np.full((B, H), F.MOVE, "int32"), RNG.exponential(30, (B, H)).astype("float32"),
            np.sort(RNG.exponential(300, (B, H)))[:, ::-1].astype("float32"), RNG.random((B, H, 2)).astype("float32"),
            np.array([[1920, 1080], [1280, 720]], "float32"), RNG.random((B, P, 2)).astype("float32"), RNG.normal(200, 300, (B, P)).astype("float32"),
            np.array([[1, 1, 0], [1, 0, 0]], "float32")]


def test_the_plan_is_taught_by_the_windows_end_and_never_leaks_it_at_inference():
    """The generator adds the plan's NLL of the window's true end to its losses. In training
    the steps see that end (teacher forcing); at inference they see the plan head's most
    probable point, so moving the last event changes nothing before it."""
    M = 3
    g = ContextAwareActionGenerator(8, 5, num_xy_mixtures=M, num_timing_components=2, num_anchors=3, xy_plan=True)
    x = _generator_inputs()
    g(*x)
    moved = [a.copy() for a in x]
    moved[6][0, 3] += 0.3  # the last event of row 0
    moved[6][1, 2] -= 0.2  # the last event of row 1
    inference = [ops.convert_to_numpy(o) for o in g(*x)]
    inference_moved = [ops.convert_to_numpy(o) for o in g(*moved)]
    for a, b in zip(inference, inference_moved):  # steps before the moved input are unchanged
        np.testing.assert_allclose(a[0, :3], b[0, :3], atol=1e-6)
        np.testing.assert_allclose(a[1, :2], b[1, :2], atol=1e-6)
    training = ops.convert_to_numpy(g(*x, training=True)[0])
    training_moved = ops.convert_to_numpy(g(*moved, training=True)[0])
    assert np.abs(training[:, 0] - training_moved[:, 0]).max() > 1e-4  # step 0 already sees the end
    # the added loss is the plan's NLL of the true end
    window = g.window_context(x[1], x[2], x[7], x[8], x[9], x[10], x[11])
    plan = g.plan_params(window, x[6][:, 0], x[12], x[13], x[14])
    end = np.stack([x[6][0, 3], x[6][1, 2]])
    g(*x)
    np.testing.assert_allclose(float(ops.convert_to_numpy(g.losses[-1])), -np.mean(ops.convert_to_numpy(xy_log_prob(end, plan, M))), rtol=1e-5)
    assert ops.convert_to_numpy(xy_point(plan, M)).shape == (2, 2)
