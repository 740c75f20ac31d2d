import keras
import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers import (
    ContextAwareActionGenerator,
    behaviour_features,
    split_xy_params,
)
from actiongen_keras.layers.context_aware_generator import XY_SIGMA_SHIFT

B, T, D, NK, P = 2, 4, 8, 9, 3


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    H = 5
    hist_type = np.array([[0, 1, 2, 1, 3], [0, 0, 0, 0, 0]], "int32")
    return [
        rng.normal(size=(B, T, D)).astype("float32"),
        rng.normal(size=(B, D)).astype("float32"),
        rng.normal(size=(B, D)).astype("float32"),
        np.array([[F.BOS, F.MOVE, F.PRESS, F.MOVE], [F.BOS, F.KEY_DOWN, F.EOS, F.PAD]], "int32"),
        rng.exponential(100, (B, T)).astype("float32"),
        rng.exponential(30, (B, T)).astype("float32"),
        rng.random((B, T, 2)).astype("float32"),
        hist_type,
        rng.exponential(30, (B, H)).astype("float32"),
        rng.exponential(300, (B, H)).astype("float32"),
        rng.random((B, H, 2)).astype("float32"),
        np.array([[1920, 1080], [1280, 720]], "float32"),
        rng.random((B, P, 2)).astype("float32"),
        rng.normal(200, 300, (B, P)).astype("float32"),
        np.array([[1, 1, 0], [0, 0, 0]], "float32"),
    ]


def _layer():
    layer = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P)
    layer(*_inputs())
    return layer


def test_head_shapes():
    outs = [ops.convert_to_numpy(t) for t in _layer()(*_inputs())]
    shapes = [o.shape for o in outs]
    assert shapes == [(B, T, F.NUM_EVENT_CLASSES), (B, T, 3 + 9 * 2), (B, T, 15), (B, T, F.NUM_BUTTONS), (B, T, NK), (B, T, 2, F.NUM_SCROLL_CLASSES),
                      (B, T, 3 + 9 * 2)]
    assert all(np.isfinite(o).all() for o in outs)


def test_xy_means_are_cursor_plus_displacement():
    """Moving the cursor, its history and the anchors together moves the xy means by as much and nothing else."""
    layer = _layer()
    args = _inputs()
    outs = [ops.convert_to_numpy(t) for t in layer(*args)]
    for i in (6, 10, 12):
        args[i] = args[i] + np.array([0.1, -0.2], "float32")
    outs2 = [ops.convert_to_numpy(t) for t in layer(*args)]
    _, mu, sig = (ops.convert_to_numpy(t) for t in split_xy_params(ops.convert_to_tensor(outs[2]), 3))
    _, mu2, sig2 = (ops.convert_to_numpy(t) for t in split_xy_params(ops.convert_to_tensor(outs2[2]), 3))
    np.testing.assert_allclose(mu2 - mu, np.broadcast_to([0.1, -0.2], mu.shape), atol=1e-5)
    np.testing.assert_allclose(sig2, sig, atol=1e-6)
    for i in (0, 1, 3, 4, 5, 6):  # the cursor only shifts the xy means
        np.testing.assert_allclose(outs2[i], outs[i], atol=1e-5)


def test_anchors_reach_every_head_and_absent_ones_do_not():
    layer = _layer()
    args = _inputs()
    outs = [ops.convert_to_numpy(t) for t in layer(*args)]
    moved = list(args)
    moved[12] = args[12] + np.float32(0.3)  # row 0 has anchors 0 and 1; row 1 has none
    moved[13] = args[13] - np.float32(250.0)
    outs2 = [ops.convert_to_numpy(t) for t in layer(*moved)]
    for i in range(7):
        assert not np.allclose(outs2[i][0], outs[i][0], atol=1e-6)
        np.testing.assert_allclose(outs2[i][1], outs[i][1], atol=1e-6)
    absent = list(args)
    absent[12] = args[12].copy()
    absent[12][0, 2] += 0.5  # anchor 2 of row 0 is masked out
    outs3 = [ops.convert_to_numpy(t) for t in layer(*absent)]
    for i in range(7):
        np.testing.assert_allclose(outs3[i], outs[i], atol=1e-6)


def test_attributes_are_conditioned_on_the_steps_own_type_only():
    """Step i's attribute heads read dec_type[i + 1] (its own event's type); the event head does not."""
    layer = _layer()
    args = _inputs()
    outs = [ops.convert_to_numpy(t) for t in layer(*args)]
    args[3] = args[3].copy()
    args[3][0, 2] = F.KEY_DOWN  # the type of step 1's own event
    outs2 = [ops.convert_to_numpy(t) for t in layer(*args)]
    np.testing.assert_allclose(outs2[0], outs[0], atol=1e-6)  # event logits unchanged everywhere
    for i in (1, 2, 3, 4, 5, 6):
        np.testing.assert_allclose(np.delete(outs2[i][0], 1, axis=0), np.delete(outs[i][0], 1, axis=0), atol=1e-6)
        assert not np.allclose(outs2[i][0, 1], outs[i][0, 1])
        np.testing.assert_allclose(outs2[i][1], outs[i][1], atol=1e-6)


def test_velocity_head_continues_the_last_step():
    """With the xy head's weights at zero, the velocity head's means are the cursor plus its last
    step (step 0: from the second-last history event; a history of one: no step) and the
    absolute head's are the cursor."""
    args = _inputs()
    args[7] = np.array([[0, 1, 2, 1, 3], [0, 0, 0, 0, F.MOVE]], "int32")  # row 1: one history event
    cursor, hist = args[6], args[10]
    for kind in ("velocity", "absolute"):
        layer = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_head=kind)
        layer(*args)
        layer.xy_head.set_weights([np.zeros_like(w) for w in layer.xy_head.get_weights()])
        _, mu, _ = (ops.convert_to_numpy(t) for t in split_xy_params(layer(*args)[2], 3))
        prev = np.concatenate([np.stack([hist[0, -2], cursor[1, 0]])[:, None], cursor[:, :-1]], axis=1)
        want = cursor + (cursor - prev) if kind == "velocity" else cursor
        np.testing.assert_allclose(mu, np.broadcast_to(want[:, :, None, :], mu.shape), atol=1e-6, err_msg=kind)
    assert ContextAwareActionGenerator.from_config(layer.get_config()).xy_head_kind == "absolute"


def test_motion_frame_appends_the_direction_of_the_last_step():
    """``xy_frame="motion"``: the xy output is the screen head's plus the unit vector of the
    cursor's last step (``(1, 0)`` where it did not move); everything before it is the screen
    head's with the same weights, and the frame survives the config."""
    args = _inputs()
    args[6][0, 2] = args[6][0, 1]  # row 0, step 2: the cursor did not move
    heads = {}
    for frame in ("screen", "motion"):
        layer = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_frame=frame)
        layer(*args)
        if frame == "motion":
            layer.set_weights(heads["screen"].get_weights())
        heads[frame] = layer
    screen, motion = (ops.convert_to_numpy(heads[f](*args)[2]) for f in ("screen", "motion"))
    assert screen.shape == (B, T, 15) and motion.shape == (B, T, 17)
    np.testing.assert_allclose(motion[..., :15], screen, atol=1e-6)
    cursor, hist = args[6], args[10]
    prev = np.concatenate([np.stack([hist[0, -2], cursor[1, 0]])[:, None], cursor[:, :-1]], axis=1)
    step = cursor - prev
    norm = np.linalg.norm(step, axis=-1, keepdims=True)
    want = np.where(norm > 1e-6, step / np.maximum(norm, 1e-6), [1.0, 0.0])
    assert norm[0, 2, 0] == 0.0 and norm[1, 0, 0] == 0.0  # both fallbacks are exercised
    np.testing.assert_allclose(motion[..., 15:], want, atol=1e-5)
    assert ContextAwareActionGenerator.from_config(heads["motion"].get_config()).xy_frame == "motion"
    with pytest.raises(ValueError, match="xy_frame must be one of"):
        ContextAwareActionGenerator(D, NK, xy_frame="spherical")


def test_polar_frame_appends_the_cursor():
    """``xy_frame="polar"``: the screen head's outputs (same weights) plus the step's cursor,
    from which the loss and the sampler measure each component's mean step."""
    args = _inputs()
    screen = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P)
    polar = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_frame="polar")
    screen(*args)
    polar(*args)
    polar.set_weights(screen.get_weights())
    a, b = (ops.convert_to_numpy(layer(*args)[2]) for layer in (screen, polar))
    assert b.shape == (B, T, 17)
    np.testing.assert_allclose(b[..., :15], a, atol=1e-6)
    np.testing.assert_allclose(b[..., 15:], args[6], atol=1e-7)
    assert ContextAwareActionGenerator.from_config(polar.get_config()).xy_frame == "polar"


def test_factored_polar_frame_appends_its_own_turn_logits():
    """``xy_frame="polar_factored"``: the polar head's outputs plus M turn logits of their own
    (the xy Dense has M more units, the last ones); with those units' weights zero every turn
    component is equally likely, whatever the length's weights say."""
    from actiongen_keras.layers.context_aware_generator import xy_turn_logits, xy_width

    args = _inputs()
    polar = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_frame="polar")
    factored = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_frame="polar_factored")
    polar(*args)
    factored(*args)
    weights = [np.pad(w, [(0, 0)] * (w.ndim - 1) + [(0, 3)]) if w.shape[-1] == 21 and "xy_head" in v.path else w
               for w, v in zip(polar.get_weights(), polar.weights, strict=True)]
    factored.set_weights(weights)
    a, b = (ops.convert_to_numpy(layer(*args)[2]) for layer in (polar, factored))
    assert b.shape == (B, T, xy_width(3, "polar_factored")) == (B, T, 20)
    np.testing.assert_allclose(b[..., :17], a, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(xy_turn_logits(b, 3)), 0.0, atol=1e-7)
    assert xy_turn_logits(a, 3) is None
    assert ContextAwareActionGenerator.from_config(factored.get_config()).xy_frame == "polar_factored"


@pytest.mark.parametrize("frame", ["screen", "motion", "polar", "polar_factored"])
def test_translated_params_score_translated_positions_alike(frame):
    """translate_xy_params (self-fed targets, training/self_feed.py): the log density of y under
    the params moved by d is that of y - d under the params, in every frame; a motion head's
    direction stays, the other parts move by d or not at all."""
    from actiongen_keras.layers.context_aware_generator import translate_xy_params, xy_log_prob

    rng = np.random.default_rng(4)
    n, M = 200, 3
    cursor = rng.uniform(0.2, 0.8, (n, 2))
    params = np.concatenate([rng.normal(size=(n, M)), cursor[:, :1] + rng.normal(0, 0.02, (n, M)),
                             cursor[:, 1:] + rng.normal(0, 0.02, (n, M)), rng.uniform(-5, -2, (n, 2 * M))], axis=-1)
    if frame == "motion":
        u = rng.normal(size=(n, 2))
        params = np.concatenate([params, u / np.linalg.norm(u, axis=-1, keepdims=True)], axis=-1)
    elif frame == "polar":
        params = np.concatenate([params, cursor], axis=-1)
    elif frame == "polar_factored":
        params = np.concatenate([params, cursor, rng.normal(size=(n, M))], axis=-1)
    params = params.astype("float32")
    y = (cursor + rng.normal(0, 0.02, (n, 2))).astype("float32")
    d = rng.normal(0, 0.01, (n, 2)).astype("float32")
    moved = ops.convert_to_numpy(translate_xy_params(params, d, M, frame))
    np.testing.assert_allclose(ops.convert_to_numpy(xy_log_prob(y + d, moved, M, frame)), ops.convert_to_numpy(xy_log_prob(y, params, M, frame)),
                               rtol=1e-4, atol=2e-3)
    np.testing.assert_allclose(moved[:, 3 * M : 5 * M], params[:, 3 * M : 5 * M])  # spreads and weights stay
    np.testing.assert_allclose(moved[:, :M], params[:, :M])
    if frame == "motion":
        np.testing.assert_allclose(moved[:, 5 * M :], params[:, 5 * M :])
    if frame == "polar_factored":
        np.testing.assert_allclose(moved[:, 5 * M + 2 :], params[:, 5 * M + 2 :])  # the turn logits stay


def test_step_features_known_values():
    """The last step's scaled log length (1 px of a 1920-px screen, 30 px, a cursor at rest),
    whether it stood still, and its direction (the screen's x axis at rest)."""
    from actiongen_keras.layers.context_aware_generator import step_features

    prev = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], "float32")
    cur = prev + np.array([[1 / 1920, 0.0], [0.0, -30 / 1920], [0.0, 0.0]], "float32")
    f = ops.convert_to_numpy(step_features(cur, prev))
    np.testing.assert_allclose(f[:, 0], (np.log(np.array([1 / 1920, 30 / 1920, 0.0]) + 1e-5) + 6.5) / 3.0, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(f[:, 1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(f[:, 2:], [[1.0, 0.0], [0.0, -1.0], [1.0, 0.0]], atol=1e-3)


def test_step_context_starts_as_a_no_op_and_lets_the_heads_hear_the_last_step():
    """Built with the same seed, a layer with ``step_context`` starts with the same weights and
    outputs as one without (the step processor's features pass a zero-kernel gate, and neither
    draws from the global seed), so untrained models stay as they were. Without it the xy
    head's weights and spreads do not depend on the cursor's last step (only the means continue
    it); once the gate has weights (as training gives it), a step of one pixel more changes
    them; the flag survives the config."""
    args = _inputs()
    M = 3
    h = ops.convert_to_tensor(args[0])
    xy = args[6]
    prev = xy - np.float32(2 / 1920)
    types = np.full((B, T), F.MOVE, "int32")
    pointer = np.zeros((B, T, 2), "float32")
    layers, outputs = {}, {}
    for flag in (False, True):
        keras.utils.set_random_seed(5)
        layer = layers[flag] = ContextAwareActionGenerator(D, NK, num_xy_mixtures=M, num_timing_components=2, num_anchors=P,
                                                           step_context=flag)
        layer(*args)
        outputs[flag] = [ops.convert_to_numpy(o) for o in layer.attributes(h, types, xy, pointer, prev)]
    for a, b in zip(outputs[False], outputs[True]):
        np.testing.assert_array_equal(a, b)

    def change(layer):
        a, b = (ops.convert_to_numpy(layer.attributes(h, types, xy, pointer, p)[1]) for p in (prev, prev - np.float32(1 / 1920)))
        return np.abs(a[..., :M] - b[..., :M]).max(), np.abs(a[..., 3 * M : 5 * M] - b[..., 3 * M : 5 * M]).max()

    assert max(change(layers[False])) == 0.0
    assert max(change(layers[True])) == 0.0  # the no-op start
    kernel = layers[True].step_gate.kernel
    kernel.assign(np.random.default_rng(0).normal(0.0, 0.5, kernel.shape).astype("float32"))
    assert min(change(layers[True])) > 1e-4, change(layers[True])
    assert ContextAwareActionGenerator.from_config(layers[True].get_config()).step_context


def test_a_step_context_saved_before_its_gate_loads_in_its_own_layout():
    """A config saved before ``step_gate`` existed (``step_context`` on, no ``step_gate`` key)
    rebuilds the ungated layout those models hold (the step processor's kernel and bias, no
    gate), so their files still load and warm-start; new configs keep the gate."""
    args = _inputs()
    new = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, step_context=True)
    config = new.get_config()
    assert config["step_gate"] is True
    old_config = {k: v for k, v in config.items() if k != "step_gate"}
    old = ContextAwareActionGenerator.from_config(old_config)
    old(*args)
    assert old.step_gate is None and old.get_config()["step_gate"] is False
    assert sorted(w.path.split("/", 1)[1] for w in old.weights if "step" in w.path) == ["step_processor/bias", "step_processor/kernel"]
    assert ContextAwareActionGenerator.from_config(config).step_gate is not None


def test_behaviour_features_known_values():
    hist_type = np.array([[0, 0, F.MOVE, F.PRESS, F.MOVE, F.MOVE]], "int32")
    hist_dt = np.array([[999, 999, 9.0, 99.0, 3.0, 19.0]], "float32")
    hist_tb = np.array([[0, 0, 130.0, 121.0, 22.0, 19.0]], "float32")
    hist_xy = np.array([[[9, 9], [9, 9], [0.0, 0.0], [0.3, 0.4], [0.3, 0.4], [0.3, 0.4]]], "float32")
    f = ops.convert_to_numpy(behaviour_features(hist_type, hist_dt, hist_tb, hist_xy, np.array([[1000.0, 1000.0]], "float32")))[0]
    ld = np.log1p([9.0, 99.0, 3.0, 19.0])
    assert f.shape == (14,)
    np.testing.assert_allclose(f[0], np.log1p(4), rtol=1e-5)
    np.testing.assert_allclose(f[1], ld.mean(), rtol=1e-5)
    np.testing.assert_allclose(f[3], np.log1p(9.0), rtol=1e-5)  # lower median of 4 values
    np.testing.assert_allclose(f[4], np.log1p(19.0), rtol=1e-5)  # time since last event
    speeds = np.log1p([0.5 * 1000 / 99.0, 0.0, 0.0])
    np.testing.assert_allclose(f[5], speeds.mean(), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(f[6:10], [0.75, 0.25, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(f[11:], [1.0, 0.0, 0.0], atol=1e-6)
    empty = ops.convert_to_numpy(behaviour_features(np.zeros((1, 3), "int32"), np.ones((1, 3), "float32"), np.ones((1, 3), "float32"), np.ones((1, 3, 2), "float32"), np.array([[1000.0, 1000.0]], "float32")))
    np.testing.assert_allclose(empty, 0.0, atol=2e-3)  # std carries a 1e-6 variance epsilon


def test_offsets_are_the_raw_outputs_times_the_offset_scale():
    """A raw offset of (1, -2) moves every mean by (1, -2) x ``xy_offset_scale`` from cursor + last step,
    and the scale travels in the config (a reloaded model keeps its means)."""
    args = _inputs()
    means = []
    for scale in (1.0, 0.01):
        layer = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_offset_scale=scale)
        layer(*args)
        kernel, bias = (np.zeros_like(w) for w in layer.xy_head.get_weights())
        bias[3:6], bias[6:9] = 1.0, -2.0  # the x and y offsets of the 3 components
        layer.xy_head.set_weights([kernel, bias])
        _, mu, _ = (ops.convert_to_numpy(t) for t in split_xy_params(layer(*args)[2], 3))
        means.append(mu)
        assert ContextAwareActionGenerator.from_config(layer.get_config()).xy_offset_scale == scale
    np.testing.assert_allclose(means[0] - means[1], np.broadcast_to([0.99, -1.98], means[0].shape), atol=1e-5)


def test_sigmas_are_the_floor_plus_softplus_and_the_floor_is_saved():
    """Raw sigma outputs r give sigma = floor + softplus(r - XY_SIGMA_SHIFT); far below the
    shift, exactly the floor (not the old fixed 1e-3), and the floor survives the config."""
    args = _inputs()
    for floor in (1e-3, 5e-5):
        layer = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, xy_sigma_floor=floor)
        layer(*args)
        kernel, bias = (np.zeros_like(w) for w in layer.xy_head.get_weights())
        bias[9:12], bias[12:15] = XY_SIGMA_SHIFT, -50.0  # x: softplus(0) = log 2; y: nothing left
        layer.xy_head.set_weights([kernel, bias])
        _, _, sig = (ops.convert_to_numpy(t) for t in split_xy_params(layer(*args)[2], 3))
        np.testing.assert_allclose(sig[..., 0], floor + np.log(2.0), rtol=1e-5)
        np.testing.assert_allclose(sig[..., 1], floor, rtol=1e-4)
        assert ContextAwareActionGenerator.from_config(layer.get_config()).xy_sigma_floor == floor
    with pytest.raises(ValueError, match="xy_sigma_floor must be > 0"):
        ContextAwareActionGenerator(D, NK, xy_sigma_floor=0.0)


def test_config_round_trip():
    layer = _layer()
    clone = ContextAwareActionGenerator.from_config(layer.get_config())
    args = _inputs()
    clone(*args)
    clone.set_weights(layer.get_weights())
    for a, b in zip(layer(*args), clone(*args)):
        np.testing.assert_allclose(ops.convert_to_numpy(b), ops.convert_to_numpy(a), atol=1e-5)


def test_output_changing_settings_are_saved_in_the_config():
    """The sigma shift, the anchor query's feature scales and the time encodings' settings are
    arguments saved in the config, so a layer rebuilt from it computes what the saved one did
    whatever the module defaults are then; a clone with the defaults computes something else."""
    args = _inputs()
    custom = dict(xy_sigma_shift=0.5, anchor_dist_scale=2.0, anchor_time_scale_ms=40.0, time_encoding={"scales_ms": [5.0, 50.0]})
    layer = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, **custom)
    layer(*args)
    config = layer.get_config()
    assert config["time_encoding"] == {"num_frequencies": 8, "scales_ms": [5.0, 50.0], "min_frequency": 0.25, "max_frequency": 32.0}
    clone = ContextAwareActionGenerator.from_config(config)
    clone(*args)
    clone.set_weights(layer.get_weights())
    assert (clone.anchor_query.dist_scale, clone.anchor_query.time_scale_ms, clone.dt_encoding.scales_ms) == (2.0, 40.0, (5.0, 50.0))
    for a, b in zip(layer(*args), clone(*args)):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(b), atol=1e-6)
    default = ContextAwareActionGenerator(D, NK, num_xy_mixtures=3, num_timing_components=2, num_anchors=P, time_encoding={"scales_ms": [5.0, 50.0]})
    default(*args)
    default.set_weights(layer.get_weights())
    assert not np.allclose(ops.convert_to_numpy(default(*args)[2]), ops.convert_to_numpy(layer(*args)[2]), atol=1e-4)
    with pytest.raises(ValueError, match="unknown time encoding settings"):
        ContextAwareActionGenerator(D, NK, time_encoding={"scale": [1.0]})
