"""Parallel scheduled sampling (``train.self_feed``): which positions are replaced, by what,
that pass 1 gets no gradient, that 0 is plain training, and that the run saves the plain model."""


import keras
import numpy as np
import pytest

from actiongen_keras.config import Config
from actiongen_keras.data import features as F
from actiongen_keras.errors import ConfigError
from actiongen_keras.models import build_model
from actiongen_keras.testing.batches import random_batch
from actiongen_keras.testing.runs import tiny_config
from actiongen_keras.training.self_feed import SelfFeed, self_fed_positions, self_feeding
from actiongen_keras.training.train import compile_model

META = {"num_state_numeric": 2, "state_categorical_vocab_sizes": [4], "num_keys": 6, "max_history_events": 8, "max_actions": 16, "history_ticks": 3}
M = 4


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _mixture(B, A1, means, logits, sigma):
    """xy params ``[B, A1, 5M]`` of the same mixture at every step: component means
    ``means [M]`` (both axes), ``logits [M]``, every sigma ``sigma`` (the head's output holds log sigma)."""
    row = np.concatenate([logits, means, means, np.full(2 * M, np.log(sigma))]).astype("float32")
    return np.broadcast_to(row, (B, A1, 5 * M)).copy()


def test_only_move_inputs_are_replaced_at_the_rate():
    x, _, _ = random_batch(META, 256, seed=3)
    A1 = x["dec_type"].shape[1]
    params = _mixture(256, A1, np.full(M, 0.5), np.zeros(M), 0.05)
    for rate in (0.2, 0.7):
        xy, replaced, shift = self_fed_positions(x["dec_type"], x["dec_xy"], params, M, rate, keras.random.SeedGenerator(1))
        xy, replaced = _np(xy), _np(replaced)
        assert not _np(shift).any()  # recovery 1: the targets stay
        changed = np.any(xy != x["dec_xy"], axis=-1)
        move = x["dec_type"] == F.MOVE
        move[:, 0] = False  # BOS (never a move anyway)
        assert np.array_equal(changed, replaced)
        assert not changed[~move].any()  # BOS, presses, releases, keys, scrolls, padding keep their positions
        assert move.sum() > 1000
        assert abs(changed[move].mean() - rate) < 0.04
        # the draws are the mixture's: mean 0.5, spread 0.05
        d = xy[changed]
        assert abs(d.mean() - 0.5) < 0.01 and abs(d.std() - 0.05) < 0.005


def test_replaced_positions_are_draws_of_the_previous_steps_mixture():
    """Step i+1 takes a draw of output step i: with four well-separated components whose
    weights differ from step to step, each replaced position lies at one of that step's
    components, chosen with that step's weights."""
    B, means, sigma = 512, np.array([0.1, 0.35, 0.6, 0.85]), 1.5e-3
    x, _, _ = random_batch(META, B, seed=5)
    x["dec_type"][:, 1:] = F.MOVE  # every step a move
    A1 = x["dec_type"].shape[1]
    params = _mixture(B, A1, means, np.zeros(M), sigma)
    favourite = np.arange(A1) % M  # output step i puts 95% of its weight on component i % M
    params[:, np.arange(A1), favourite] = np.log(0.95 / 0.05 * 3)
    xy, replaced, _ = (_np(a) for a in self_fed_positions(x["dec_type"], x["dec_xy"], params, M, 0.5, keras.random.SeedGenerator(2)))
    steps = np.nonzero(replaced)[1]
    comp = np.abs(xy[replaced][:, 0, None] - means[None, :]).argmin(-1)
    assert np.abs(xy[replaced][:, 0] - means[comp]).max() < 6 * sigma  # at a component's mean, within its spread
    assert np.abs(xy[replaced][:, 1] - means[comp]).max() < 6 * sigma  # the same component on both axes
    assert abs(np.mean(comp == favourite[steps - 1]) - 0.95) < 0.02  # the previous step's mixture, not its own
    assert np.mean(comp == favourite[steps % A1]) < 0.2


def test_a_factored_polar_head_draws_its_turn_with_its_own_weights():
    """``polar_factored``: the replaced position's heading follows the previous step's turn
    weights (95% on the component heading +x), not its length weights (uniform over four
    headings), as the sampling loop draws it (draw_position with both components)."""
    B, cursor, r = 512, np.array([0.5, 0.5], "float32"), 0.05
    x, _, _ = random_batch(META, B, seed=5)
    x["dec_type"][:, 1:] = F.MOVE
    A1 = x["dec_type"].shape[1]
    heads = np.array([[r, 0.0], [-r, 0.0], [0.0, r], [0.0, -r]], "float32")
    row = np.concatenate([np.zeros(M), cursor[0] + heads[:, 0], cursor[1] + heads[:, 1], np.full(2 * M, np.log(0.01)), cursor,
                          np.log([0.95, 0.05 / 3, 0.05 / 3, 0.05 / 3])]).astype("float32")
    params = np.broadcast_to(row, (B, A1, 6 * M + 2)).copy()
    xy, replaced, _ = (_np(a) for a in self_fed_positions(x["dec_type"], x["dec_xy"], params, M, 0.5, keras.random.SeedGenerator(2),
                                                          frame="polar_factored"))
    d = xy[replaced] - cursor
    assert np.abs(np.hypot(d[:, 0], d[:, 1]) - r).max() < 0.01  # every length is a component's 0.05
    assert abs(np.mean(d[:, 0] > 0.04) - 0.95) < 0.03  # headed +x as the turn weights say


def test_with_partial_recovery_a_deviation_fades_from_later_inputs_and_targets():
    """``recovery`` r < 1: a drawn position's deviation moves every later step's input and
    target, fading by (1 - r) per step; the inputs also hold the deviation drawn at their
    own step, the targets only the earlier ones'."""
    B, r = 64, 0.25
    x, _, _ = random_batch(META, B, seed=7)
    x["dec_type"][:, 1:] = F.MOVE
    x["dec_type"][:, -3:] = F.PAD  # padding keeps its position
    A1 = x["dec_type"].shape[1]
    params = _mixture(B, A1, np.full(M, 0.5), np.zeros(M), 1e-7)  # every draw at (0.5, 0.5)
    xy, replaced, shift = (_np(a) for a in self_fed_positions(x["dec_type"], x["dec_xy"], params, M, 0.5, keras.random.SeedGenerator(3),
                                                             recovery=r))
    real = x["dec_xy"].astype("float64")
    offset = np.zeros((B, 2))
    expect_in, expect_shift = [real[:, 0]], [np.zeros((B, 2))]
    for j in range(1, A1):
        expect_shift.append((1 - r) * offset)  # target j - 1: what is left before step j's own draw
        offset = (1 - r) * offset + np.where(replaced[:, j, None], 0.5 - real[:, j], 0.0)
        expect_in.append(np.clip(real[:, j] + offset, 0, 1) if j < A1 - 3 else real[:, j])
    # shift[:, i] moves target i, the position of step i + 1
    np.testing.assert_allclose(shift[:, :-1], np.stack(expect_shift, 1)[:, 1:], atol=1e-6)
    np.testing.assert_allclose(xy, np.stack(expect_in, 1), atol=1e-6)
    assert replaced[:, 1:-3].mean() > 0.4 and not replaced[:, -3:].any()


def test_with_recovery_the_trained_mixture_is_moved_against_the_targets_shift():
    """SelfFeed with recovery < 1 scores pass 2's mixture moved by minus the targets' shift: the
    loss then sees each real target as if moved by the shift (the same log density), the sign
    that makes the model steer back, not away."""
    from actiongen_keras.layers.context_aware_generator import xy_log_prob

    config = tiny_config(max_actions=META["max_actions"], max_history_events=META["max_history_events"])
    config.model.xy_dequantize_px = 0.0  # no training-time draws in the model itself
    model = build_model(config, META)
    fed = SelfFeed(model, 0.5, M, seed=3, recovery=0.3)
    x, y, _ = random_batch(META, 8, seed=4)
    x["dec_type"][:, 1:] = F.MOVE
    state = _np(fed.seed_generator.state)
    out = _np(fed(x, training=True)["xy"])
    fed.seed_generator.state.assign(state)  # the same draws again
    mixed, shift = fed.self_fed(x)
    inner = _np(model(mixed, training=True)["xy"])
    shift = _np(shift)
    assert np.abs(shift).max() > 1e-3
    np.testing.assert_allclose(_np(xy_log_prob(y["xy"], out, M)), _np(xy_log_prob(y["xy"] + shift, inner, M)), rtol=1e-4, atol=1e-3)


def _models(seed=0):
    config = tiny_config(max_actions=META["max_actions"], max_history_events=META["max_history_events"])
    keras.utils.set_random_seed(seed)
    return config, build_model(config, META)


def _fit(model, config, x, y, w):
    compile_model(model, config, META)
    model.run_eagerly = True  # tracing the train step takes far longer than one eager step
    model.fit(x, y, sample_weight=w, batch_size=len(x["dec_type"]), epochs=1, shuffle=False, verbose=0)


@pytest.mark.slow  # three fits: ~50 s on this loaded 2-core machine
def test_rate_zero_is_plain_teacher_forcing_and_a_rate_trains_on_other_inputs():
    config, model = _models()
    start = [_np(v) for v in model.variables]  # the weights and the random state (pixel dequantization's draws)
    x, y, w = random_batch(META, 8, seed=1)
    assert self_feeding(model, config) is model  # the default adds nothing

    def restore():
        for v, value in zip(model.variables, start, strict=True):
            v.assign(value)

    def trained(wrap):
        restore()
        _fit(wrap(model), config, x, y, w)
        return model.get_weights()

    plain = trained(lambda m: m)
    for a, b in zip(plain, trained(lambda m: SelfFeed(m, 0.0, M, seed=0)), strict=True):
        np.testing.assert_array_equal(a, b)
    config.train.self_feed = 0.5
    fed = self_feeding(model, config)
    assert isinstance(fed, SelfFeed) and fed.rate == 0.5
    restore()
    np.testing.assert_array_equal(_np(model(x)["xy"]), _np(fed(x)["xy"]))  # outside training: the model itself
    assert any(not np.array_equal(a, b) for a, b in zip(plain, trained(lambda m: fed), strict=True))


@pytest.mark.slow  # ~16 s on this loaded 2-core machine
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="gradient check uses tf.GradientTape")
def test_no_gradient_flows_into_the_first_pass():
    """The gradient through SelfFeed is the plain model's on the mixed inputs: the draws are
    inputs, not a path back into pass 1 (without stop_gradient they would add to it)."""
    import tensorflow as tf

    _, model = _models()
    fed = SelfFeed(model, 0.9, M, seed=7)
    x, _, _ = random_batch(META, 8, seed=2)
    x = {k: tf.constant(v) for k, v in x.items()}
    state = _np(fed.seed_generator.state)
    mixed, _ = fed.self_fed(x)
    assert not np.array_equal(_np(mixed["dec_xy"]), _np(x["dec_xy"]))
    fed.seed_generator.state.assign(state)  # the same draws again

    def grads(fn):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(fn()["xy"])
        return tape.gradient(loss, model.trainable_variables)

    through = grads(lambda: fed(x, training=True))
    plain = grads(lambda: model(mixed, training=True))
    for a, b in zip(through, plain, strict=True):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-7)


def test_config_rate_out_of_range_is_refused():
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="train.self_feed"):
            Config.from_dict({"train": {"self_feed": bad}})
    assert Config.from_dict({"train": {"self_feed": 0.5}}).train.self_feed == 0.5
    for bad in (1.5, -0.1):
        with pytest.raises(ConfigError, match="train.self_feed_recovery"):
            Config.from_dict({"train": {"self_feed_recovery": bad}})
    config = Config.from_dict({"train": {"self_feed": 0.5, "self_feed_recovery": 0.2}})
    fed = self_feeding(build_model(config, META), config)
    assert fed.recovery == 0.2 and SelfFeed.from_config(fed.get_config()).recovery == 0.2


def test_the_tuner_refuses_self_feed():
    from actiongen_keras.tuning.hypermodel import train_and_score

    config = Config()
    config.train.self_feed = 0.5
    with pytest.raises(ConfigError, match="train.self_feed is not supported by the tuner"):
        train_and_score(None, config, None, None, None, epochs=1)
