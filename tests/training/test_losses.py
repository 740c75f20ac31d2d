import math

import keras
import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.multi_scale_timing import scale_ranges
from actiongen_keras.training.losses import (
    EventTypeLoss,
    ScaleAwareTimingLoss,
    SeqLenLoss,
    SparseCategoricalLoss,
    XYMixtureLoss,
    eos_consistency,
    eos_hazard,
    event_class_weights,
)

rng = np.random.default_rng(0)


def _np(x):
    return float(ops.convert_to_numpy(x))


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_event_loss_is_weighted_mean_of_cross_entropy():
    logits = rng.normal(size=(2, 3, F.NUM_EVENT_CLASSES)).astype("float32")
    y = np.array([[1, 2, 7], [7, 0, 0]], "int32")
    w = np.array([[1, 1, 1], [1, 0, 0]], "float32")
    ce = -np.take_along_axis(_log_softmax(logits), y[..., None], -1)[..., 0]
    assert _np(EventTypeLoss()(y, logits, w)) == pytest.approx((ce * w).sum() / w.sum(), rel=1e-5)
    # class weights multiply each position by the weight of its true class
    cw = [0, 1, 2, 1, 1, 1, 1, 3]
    assert _np(EventTypeLoss(class_weights=cw)(y, logits, w)) == pytest.approx((ce * w * np.take(cw, y)).sum() / w.sum(), rel=1e-5)


def test_zero_weight_positions_contribute_exactly_nothing():
    logits = rng.normal(size=(2, 4, F.NUM_EVENT_CLASSES)).astype("float32")
    y = rng.integers(0, F.NUM_EVENT_CLASSES, (2, 4)).astype("int32")
    w = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], "float32")
    base = _np(EventTypeLoss()(y, logits, w))
    logits2, y2 = logits.copy(), y.copy()
    logits2[w == 0] = 1e4 * rng.normal(size=logits2[w == 0].shape)
    y2[w == 0] = 3
    assert _np(EventTypeLoss()(y2, logits2, w)) == base
    # garbage targets (NaN timing, far-away xy) at masked positions stay out as well
    t_params = rng.normal(size=(2, 4, 3 + 9 * 3)).astype("float32")
    t_true = np.array([[10, 200, np.nan, np.inf], [50, np.nan, -5, 1e9]], "float32")
    val = _np(ScaleAwareTimingLoss()(t_true, t_params, w))
    assert np.isfinite(val)
    t_true2 = t_true.copy()
    t_true2[w == 0] = 0.0
    assert val == _np(ScaleAwareTimingLoss()(t_true2, t_params, w))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="gradient check uses tf.GradientTape")
def test_zero_weight_positions_get_zero_gradient():
    import tensorflow as tf

    w = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], "float32")
    cases = [
        (EventTypeLoss(), rng.integers(0, 8, (2, 4)).astype("int32"), rng.normal(size=(2, 4, 8))),
        (ScaleAwareTimingLoss(), np.array([[10, 200, np.nan, 1e9], [50, np.nan, -5, 1e9]], "float32"), rng.normal(size=(2, 4, 30))),
        (XYMixtureLoss(4), np.full((2, 4, 2), 1e6, "float32"), rng.normal(size=(2, 4, 20))),
        (SparseCategoricalLoss(), rng.integers(0, 5, (2, 4, 2)).astype("int32"), rng.normal(size=(2, 4, 2, 5))),
    ]
    for loss, y, p in cases:
        p = tf.Variable(p.astype("float32"))
        with tf.GradientTape() as tape:
            val = loss(y, p, w)
        g = tape.gradient(val, p).numpy()
        assert np.isfinite(val.numpy()) and np.isfinite(g).all(), loss.name
        assert np.all(g[w == 0] == 0.0), loss.name
        assert np.any(g[w > 0] != 0.0), loss.name


def test_empty_batch_of_a_head_gives_zero_loss():
    logits = rng.normal(size=(2, 3, F.NUM_BUTTONS)).astype("float32")
    assert _np(SparseCategoricalLoss()(np.zeros((2, 3), "int32"), logits, np.zeros((2, 3), "float32"))) == 0.0


def test_scroll_loss_sums_the_two_axes():
    logits = rng.normal(size=(1, 2, 2, F.NUM_SCROLL_CLASSES)).astype("float32")
    y = np.array([[[2, 3], [0, 4]]], "int32")
    ce = -np.take_along_axis(_log_softmax(logits), y[..., None], -1)[..., 0].sum(-1)
    w = np.array([[1.0, 0.0]], "float32")
    assert _np(SparseCategoricalLoss()(y, logits, w)) == pytest.approx(ce[0, 0], rel=1e-5)


def test_timing_nll_lowest_when_the_truth_is_at_the_mode():
    M = 1
    p = np.zeros((1, 1, 3 + 9 * M), "float32")
    lo, hi = scale_ranges((100, 300))[1]
    mode = 0.5 * (lo + hi)
    p[..., :3] = [0.0, 4.0, 0.0]
    p[..., 3 + 3 * M + 1] = mode  # medium loc
    p[..., 3 + 3 * M + 2] = -2.0
    loss = ScaleAwareTimingLoss((100, 300), M)
    vals = [_np(loss(np.array([[d]], "float32"), p)) for d in (math.expm1(mode), 150.0, 290.0, 50.0, 2000.0)]
    assert vals[0] == min(vals)
    assert vals[3] > vals[1] and vals[4] > vals[1]  # other scales cost the scale cross-entropy
    # exact value at the mode: -log P(medium) - log f(0) + log(F(hi) - F(lo))
    s = 0.01 + math.log1p(math.exp(-2.0))
    log_p_scale = 4.0 - math.log(2 + math.exp(4.0))
    norm = 1 / (1 + math.exp(-(hi - mode) / s)) - 1 / (1 + math.exp(-(lo - mode) / s))
    expected = -log_p_scale - (-math.log(s) - 2 * math.log(2.0) - math.log(norm))
    assert vals[0] == pytest.approx(expected, rel=1e-4)


def test_xy_nll_single_component_known_value():
    M = 1
    p = np.zeros((1, 1, 5), "float32")
    p[..., 1], p[..., 2] = 0.4, 0.6
    s = 0.05
    p[..., 3], p[..., 4] = math.log(s), math.log(s)  # the layout carries log sigma
    y = np.array([[[0.5, 0.5]]], "float32")
    expected = 0.5 * (0.1 / s) ** 2 * 2 + 2 * math.log(s) + math.log(2 * math.pi)
    assert _np(XYMixtureLoss(M)(y, p)) == pytest.approx(expected, rel=1e-5)


def test_xy_nll_in_the_motion_frame_is_the_turned_gaussian():
    """A motion-frame head's spreads lie along and across its direction u: the NLL equals the
    2-D Gaussian with covariance R diag(s_along^2, s_across^2) R^T (R the turn to u), and a
    residual along u costs what the same residual along x costs a screen-frame head."""
    M = 2
    rng = np.random.default_rng(0)
    p = rng.normal(size=(3, 4, 5 * M)).astype("float32") * 0.1
    p[..., 3 * M :] = np.log(rng.uniform(0.01, 0.2, size=(3, 4, 2 * M)))
    ang = rng.uniform(-np.pi, np.pi, size=(3, 4))
    u = np.stack([np.cos(ang), np.sin(ang)], -1).astype("float32")
    y = rng.uniform(0, 1, size=(3, 4, 2)).astype("float32")
    got = ops.convert_to_numpy(XYMixtureLoss(M, reduction=None)(y, np.concatenate([p, u], -1)))
    logits, mu = p[..., :M], np.stack([p[..., M : 2 * M], p[..., 2 * M : 3 * M]], -1)
    sa, sc = np.exp(p[..., 3 * M : 4 * M]), np.exp(p[..., 4 * M : 5 * M])
    want = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            R = np.array([[u[i, j, 0], -u[i, j, 1]], [u[i, j, 1], u[i, j, 0]]])
            w = np.exp(logits[i, j] - logits[i, j].max())
            w /= w.sum()
            dens = 0.0
            for m in range(M):
                cov = R @ np.diag([sa[i, j, m] ** 2, sc[i, j, m] ** 2]) @ R.T
                d = y[i, j] - mu[i, j, m]
                dens += w[m] * np.exp(-0.5 * d @ np.linalg.solve(cov, d)) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
            want[i, j] = -np.log(dens)
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # one component, sigma (0.05 along, 0.5 across): a residual of 0.1 along u = (0, 1) costs
    # what 0.1 along x costs the screen-frame head with sigma (0.05, 0.5)
    q = np.zeros((1, 1, 5), "float32")
    q[..., 3], q[..., 4] = math.log(0.05), math.log(0.5)
    motion = _np(XYMixtureLoss(1)(np.array([[[0.0, 0.1]]], "float32"), np.concatenate([q, [[[0.0, 1.0]]]], -1).astype("float32")))
    screen = _np(XYMixtureLoss(1)(np.array([[[0.1, 0.0]]], "float32"), q))
    assert motion == pytest.approx(screen, rel=1e-6)


def _polar_params(components, cursor):
    """A polar head's layout for one event: ``components`` = [(weight, mean step (dx, dy),
    sigma_log_r, sigma_turn)], ``cursor`` (x, y); ``[1, 1, 5M + 2]``."""
    M = len(components)
    p = np.zeros((1, 1, 5 * M + 2), "float32")
    for k, (w, (dx, dy), s_r, s_t) in enumerate(components):
        p[..., k], p[..., M + k], p[..., 2 * M + k] = math.log(w), cursor[0] + dx, cursor[1] + dy
        p[..., 3 * M + k], p[..., 4 * M + k] = math.log(s_r), math.log(s_t)
    p[..., 5 * M :] = cursor
    return p


def test_polar_density_integrates_to_one_over_the_screen():
    """The polar NLL is a density per unit of screen area: summed over a fine grid it gives 1,
    for a sharp heading, a turn spread wide enough to wrap (the five windings), and a
    mixture; its log-length is centred on the mean step's."""
    h = 1.0 / 1500
    g = (np.arange(1500) + 0.5) * h
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(1, -1, 2).astype("float32")
    cases = {
        "sharp": [(1.0, (0.1, 0.05), 0.3, 0.2)],
        "wrapping": [(1.0, (0.0, -0.12), 0.25, 2.5)],
        "mixture": [(0.7, (0.08, 0.0), 0.2, 0.3), (0.3, (0.0, 0.03), 0.8, 1.5)],
    }
    dens = {}
    for name, comps in cases.items():
        p = _polar_params(comps, (0.5, 0.5))
        nll = XYMixtureLoss(len(comps), frame="polar", reduction=None)(grid, np.broadcast_to(p, (1, grid.shape[1], p.shape[-1])))
        dens[name] = np.exp(-ops.convert_to_numpy(nll)[0])
        assert dens[name].sum() * h * h == pytest.approx(1.0, abs=0.01), name
    # the sharp case: the mean length is |m| (the log length's mean log |m| - s^2 / 2), the mean heading m's
    d = grid[0] - 0.5
    w = dens["sharp"] / dens["sharp"].sum()
    assert np.sum(w * np.hypot(d[:, 0], d[:, 1])) == pytest.approx(math.hypot(0.1, 0.05), rel=0.01)
    assert np.sum(w * np.log(np.hypot(d[:, 0], d[:, 1]))) == pytest.approx(math.log(math.hypot(0.1, 0.05)) - 0.3**2 / 2, abs=0.01)
    assert np.sum(w * np.arctan2(d[:, 1], d[:, 0])) == pytest.approx(math.atan2(0.05, 0.1), abs=0.01)


def _factored(components, turn_weights, cursor):
    """:func:`_polar_params` with the factored frame's turn logits appended: ``[1, 1, 6M + 2]``."""
    return np.concatenate([_polar_params(components, cursor), np.log(np.asarray(turn_weights, "float32"))[None, None]], -1)


def test_factored_polar_density_draws_its_turn_from_its_own_mixture():
    """``polar_factored``: a density per unit area (sums to 1 over a fine grid); where every
    component has the same heading and turn spread it is the joint polar density, whatever
    the turn weights; otherwise the share of steps that reverse (the backward half-plane of
    the mean heading) is the turn mixture's alone, not the length weights'. The case a joint
    mixture cannot make: a short, broad-length component that is often drawn (0.6) beside a
    turn that reverses rarely (a wide turn component of weight 0.02)."""
    h = 1.0 / 1500
    g = (np.arange(1500) + 0.5) * h
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(1, -1, 2).astype("float32")

    def density(p, frame):
        nll = XYMixtureLoss(p.shape[-1] // 6 if frame == "polar_factored" else (p.shape[-1] - 2) // 5, frame=frame, reduction=None)(
            grid, np.broadcast_to(p, (1, grid.shape[1], p.shape[-1])))
        return np.exp(-ops.convert_to_numpy(nll)[0])

    same_turn = [(0.7, (0.08, 0.0), 0.2, 0.3), (0.3, (0.03, 0.0), 0.8, 0.3)]
    np.testing.assert_allclose(density(_factored(same_turn, [0.1, 0.9], (0.5, 0.5)), "polar_factored"),
                               density(_polar_params(same_turn, (0.5, 0.5)), "polar"), rtol=1e-3, atol=1e-3)
    comps = [(0.4, (0.1, 0.0), 0.2, 0.2), (0.6, (0.02, 0.0), 1.0, 2.0)]
    dens = density(_factored(comps, [0.98, 0.02], (0.5, 0.5)), "polar_factored")
    assert dens.sum() * h * h == pytest.approx(1.0, abs=0.01)
    back = (grid[0, :, 0] < 0.5).astype(float)
    theta = np.linspace(-np.pi, np.pi, 20001)
    wrapped = lambda s: sum(np.exp(-0.5 * ((theta + k * 2 * np.pi) / s) ** 2) for k in range(-2, 3)) / (s * math.sqrt(2 * math.pi))
    turn = 0.98 * wrapped(0.2) + 0.02 * wrapped(2.0)
    expected = np.sum(turn[np.abs(theta) > np.pi / 2]) * (theta[1] - theta[0])  # ~0.0085
    assert np.sum(dens * back) * h * h == pytest.approx(expected, abs=0.002)
    joint = density(_polar_params(comps, (0.5, 0.5)), "polar")
    assert np.sum(joint * back) * h * h > 0.2  # the joint mixture: the broad component's weight carries its turn


def test_xy_loss_frame_defaults():
    """Without a frame (losses saved before it was an argument) a [5M + 2] layout is the motion
    frame's; an unknown frame is refused; the frame survives the config."""
    loss = XYMixtureLoss(2, frame="polar")
    assert XYMixtureLoss.from_config(loss.get_config()).frame == "polar"
    with pytest.raises(ValueError, match="frame must be one of"):
        XYMixtureLoss(2, frame="spherical")
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.normal(size=(2, 3, 10)) * 0.1, np.broadcast_to([0.0, 1.0], (2, 3, 2))], -1).astype("float32")
    y = rng.uniform(size=(2, 3, 2)).astype("float32")
    assert _np(XYMixtureLoss(2)(y, p)) == pytest.approx(_np(XYMixtureLoss(2, frame="motion")(y, p)), rel=1e-6)


def test_xy_loss_reloads_from_configs_saved_with_a_sigma_floor():
    # models saved before the floor moved into the layer stored it in the loss's config
    loss = XYMixtureLoss.from_config({"num_mixtures": 3, "sigma_floor": 1e-3, "name": "xy_loss"})
    assert loss.num_mixtures == 3 and "sigma_floor" not in loss.get_config()


def test_seq_len_loss_and_eos_consistency():
    logits = rng.normal(size=(3, 5)).astype("float32")
    y = np.array([0, 4, 2], "int32")
    ce = -_log_softmax(logits)[np.arange(3), y]
    assert _np(SeqLenLoss()(y, logits, np.ones(3, "float32"))) == pytest.approx(ce.mean(), rel=1e-5)
    h = ops.convert_to_numpy(eos_hazard(logits))
    p = np.exp(_log_softmax(logits))
    np.testing.assert_allclose(h[:, 0], p[:, 0], rtol=1e-5)
    np.testing.assert_allclose(h[:, -1], 1.0, rtol=1e-5)
    # event logits whose EOS probability equals the hazard: consistency term ~0
    ev = np.zeros((3, 5, F.NUM_EVENT_CLASSES), "float32")
    hc = np.clip(h, 1e-4, 1 - 1e-4)
    ev[..., F.EOS] = np.log(hc / (1 - hc)) + np.log(F.NUM_EVENT_CLASSES - 1)
    assert _np(eos_consistency(ev, logits, np.ones((3, 5)))) == pytest.approx(0.0, abs=1e-3)
    assert _np(eos_consistency(np.zeros_like(ev), logits, np.ones((3, 5)))) > 0.01


@pytest.mark.parametrize(
    "loss",
    [EventTypeLoss(class_weights=[1.0] * 8, label_smoothing=0.1), ScaleAwareTimingLoss((50, 400), 2, 30000.0), XYMixtureLoss(3), SparseCategoricalLoss(name="key_loss"), SeqLenLoss()],
)
def test_config_round_trip(loss):
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss)).get_config() == loss.get_config()


def test_event_class_weights():
    w = event_class_weights([0, 100, 10, 10, 1, 5, 5, 20], power=1.0, max_weight=50)
    assert w[0] == 0.0 and w[1] < w[2] < w[4]


def test_event_decision_bias_is_the_log_class_weight():
    from actiongen_keras.training.losses import event_class_weights, event_decision_bias

    counts = [0, 900, 100, 100, 0, 0, 0, 100]
    bias = event_decision_bias(counts)
    w = np.asarray(event_class_weights(counts))
    np.testing.assert_allclose(bias[[1, 2, 3, 7]], np.log(w[[1, 2, 3, 7]]), rtol=1e-6)
    assert (bias[[0, 4, 5, 6]] < -1e8).all()  # classes never seen in training are never decided
    # A calibrated 60/40 move-vs-press belief becomes a press decision after adjustment.
    logits = np.log(np.array([1e-9, 0.6, 0.4, 1e-9, 1e-9, 1e-9, 1e-9, 1e-9]))
    assert logits.argmax() == 1 and (logits + bias).argmax() == 2
