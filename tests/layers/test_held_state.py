"""The held state (layers/held_state.py): its replay step by step and all at once, the rules'
tables naming the same events, and a model that reads it (model.held_state): the cached step
decoding equals the full model, the greedy sampling loop equals the model on its own prefix,
and what is held changes what the model says."""

import dataclasses

import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.generation import rules as R
from actiongen_keras.generation.rollout import Generator
from actiongen_keras.layers.held_state import (
    HELD_AFTER,
    NAMES_BUTTON,
    HeldStateEmbedding,
    held_after_each,
    held_from_history,
    update_held,
)
from actiongen_keras.models.steps import DEC_INPUTS, WINDOW_INPUTS, ModelSteps
from actiongen_keras.testing.batches import random_batch
from actiongen_keras.testing.generation import check_greedy_window
from actiongen_keras.testing.runs import tiny_config, untrained_run
from actiongen_keras.testing.sessions import synthetic_session

LEFT, RIGHT = F.BUTTONS.index("left"), F.BUTTONS.index("right")


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def test_the_rules_tables_name_the_events_the_held_state_replays():
    assert np.array_equal(NAMES_BUTTON, R.BUTTON_NEED >= 0) and np.array_equal(R.NAMES_KEY, R.KEY_NEED >= 0)
    assert R.HELD_AFTER is HELD_AFTER and R.held_from_history is held_from_history


def test_held_after_each_event_of_a_drag_and_a_right_click():
    types = np.array([[F.PAD, F.MOVE, F.PRESS, F.MOVE, F.MOVE, F.PRESS, F.RELEASE, F.MOVE, F.RELEASE, F.BOS]], "int32")
    buttons = np.array([[0, 0, LEFT, 0, 0, RIGHT, LEFT, 0, RIGHT, 0]], "int32")
    held = _np(held_after_each(types, buttons, F.NUM_BUTTONS, NAMES_BUTTON))[0]
    want = [set(), set(), {LEFT}, {LEFT}, {LEFT}, {LEFT, RIGHT}, {RIGHT}, {RIGHT}, set(), set()]
    assert [set(np.flatnonzero(row)) for row in held] == want


def test_held_after_each_equals_the_step_by_step_replay_on_random_streams():
    """Random streams, with presses of held buttons and releases of free ones (what a bad
    recording holds): the running maximum and the sampler's one-event update agree at every
    position, and the last position is held_from_history."""
    rng = np.random.default_rng(3)
    B, L = 8, 40
    types = rng.choice([F.PAD, F.MOVE, F.PRESS, F.RELEASE, F.KEY_DOWN, F.KEY_UP], size=(B, L)).astype("int32")
    ids = rng.integers(0, 4, size=(B, L)).astype("int32")
    for n, names in ((F.NUM_BUTTONS, NAMES_BUTTON), (4, R.NAMES_KEY)):
        all_at_once = _np(held_after_each(types, ids, n, names))
        held = ops.zeros((B, n), "bool")
        for j in range(L):
            held = update_held(held, types[:, j], ids[:, j], ops.ones((B,), "bool"), names)
            np.testing.assert_array_equal(all_at_once[:, j], _np(held), err_msg=f"position {j}")
        np.testing.assert_array_equal(all_at_once[:, -1], _np(held_from_history(types, ids, n, names)))


def test_the_embedding_of_the_inputs_is_the_embedding_of_the_replayed_state():
    layer = HeldStateEmbedding(6, num_keys=4, kernel_initializer="glorot_uniform")
    hist_type = np.array([[F.MOVE, F.PRESS, F.KEY_DOWN]], "int32")
    hist_button, hist_key = np.array([[0, LEFT, 0]], "int32"), np.array([[0, 0, 3]], "int32")
    dec_type = np.array([[F.BOS, F.RELEASE, F.KEY_UP, F.PRESS]], "int32")
    dec_button, dec_key = np.array([[0, LEFT, 0, RIGHT]], "int32"), np.array([[0, 0, 3, 0]], "int32")
    out = _np(layer(hist_type, hist_button, hist_key, dec_type, dec_button, dec_key))
    b, k = np.zeros((4, F.NUM_BUTTONS), bool), np.zeros((4, 4), bool)
    b[0, LEFT] = k[0, 3] = k[1, 3] = b[3, RIGHT] = True  # BOS: left and key 3; after the release: key 3; then nothing; then right
    np.testing.assert_allclose(out[0], _np(layer.embed_state(b, k)), atol=1e-6)
    assert np.all(np.abs(out[0, 2]) < 1e-7) and np.all(np.abs(out[0, 0] - out[0, 3]) > 0)
    # zeros at the start: a model given the layer begins as the model without it
    assert not np.any(_np(HeldStateEmbedding(6, num_keys=4)(hist_type, hist_button, hist_key, dec_type, dec_button, dec_key)))


# --------------------------------------------------------------------------- a model that reads it


def _session(sid, subject, seed):
    return synthetic_session(sid, subject, source="osu", duration_s=20, rate_hz=30, seed=seed, with_state=True, screen=(512, 384))


@pytest.fixture(scope="module")
def held_run(tmp_path_factory):
    config = tiny_config()
    config.model = dataclasses.replace(config.model, held_state=True)
    run = untrained_run([_session("ctx", "alice", 1), _session("other", "bob", 2)], config, run_dir=tmp_path_factory.mktemp("held") / "run")
    layer = run.model.get_layer("held_state")
    layer.projection.kernel.assign(np.random.default_rng(0).normal(0, 1.0, layer.projection.kernel.shape).astype("float32"))
    return run


def test_cached_decoding_with_the_held_state_equals_the_full_model(held_run):
    x, _, _ = random_batch(held_run.meta, 3, seed=4)
    full = {k: _np(v) for k, v in held_run.model({k: ops.convert_to_tensor(v) for k, v in x.items()}, training=False).items()}
    steps = ModelSteps(held_run.model)
    ctx = steps.encode({k: ops.convert_to_tensor(x[k]) for k in WINDOW_INPUTS if k != "bos_xy"})
    cache = steps.empty_cache(3)
    nk = steps.generator.num_keys
    types = np.concatenate([x["hist_type"], x["dec_type"]], axis=1)
    held_b = _np(held_after_each(types, np.concatenate([x["hist_button"], x["dec_button"]], axis=1), F.NUM_BUTTONS, NAMES_BUTTON))
    held_k = _np(held_after_each(types, np.concatenate([x["hist_key"], x["dec_key"]], axis=1), nk, R.NAMES_KEY))
    H = x["hist_type"].shape[1]
    assert held_b[:, H:].any(), "the random batch holds no button: the test would not see the layer"
    for i in range(x["dec_type"].shape[1]):
        token = {k: ops.convert_to_tensor(x[k][:, i]) for k in DEC_INPUTS}
        _, h, _, cache = steps.step(ctx, token, i, cache, held=(held_b[:, H + i], held_k[:, H + i]))
        np.testing.assert_allclose(_np(steps.generator.event_logits(h)[:, 0]), full["event_type"][:, i], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="held"):
        steps.step(ctx, {k: ops.convert_to_tensor(x[k][:, 0]) for k in DEC_INPUTS}, 0, steps.empty_cache(3))


def test_what_is_held_changes_what_the_model_says(held_run):
    """The same window with the history's last press released or not: the held state is the
    only input that differs, and the event head's logits move."""
    x, _, _ = random_batch(held_run.meta, 1, seed=7)
    x = {k: np.array(v) for k, v in x.items()}
    x["hist_type"][0, -2:] = [F.MOVE, F.PRESS]
    x["hist_button"][0, -2:] = [0, LEFT]
    x["dec_type"][0] = np.where(np.isin(x["dec_type"][0], [F.PRESS, F.RELEASE]), F.MOVE, x["dec_type"][0])
    held = _np(held_run.model({k: ops.convert_to_tensor(v) for k, v in x.items()}, training=False)["event_type"])
    x["hist_button"][0, -1] = 0  # a press of no button: nothing held
    x["hist_type"][0, -1] = F.MOVE
    free = _np(held_run.model({k: ops.convert_to_tensor(v) for k, v in x.items()}, training=False)["event_type"])
    assert np.max(np.abs(held[0, 0] - free[0, 0])) > 1e-3


def test_greedy_window_with_the_held_state_is_the_models_point_prediction(held_run):
    """The sampling loop gives the model the held state it tracks for its rules: greedy
    decoding equals the full model on the generated prefix (testing/generation.py), over
    windows in which buttons are pressed and released."""
    from actiongen_keras.data.windows import session_windows

    bias = held_run.model.get_layer("generator").event_head.bias
    before = np.array(bias.numpy())
    b = np.zeros_like(before)
    b[[F.MOVE, F.PRESS, F.RELEASE]] = [6.0, 5.0, 5.0]  # an untrained head would stop at once
    bias.assign(b)
    try:
        ins, _, _, _ = session_windows(_session("busy", "carol", 9), held_run.preprocessing)
        w = {k: v[[1, 4]] for k, v in ins.items()}
        w["bos_xy"] = w["dec_xy"][:, 0]
        out = Generator(held_run, jit=False).sampler()(w, 0.0, 0)
        checked = sum(check_greedy_window(held_run.model, w, out, row=r) for r in range(2))
    finally:
        bias.assign(before)
    assert checked >= 8 and np.sum(out["event_type_id"] == F.PRESS) >= 2, (checked, out["event_type_id"])


def test_the_held_state_model_compiles_to_the_same_outputs(held_run):
    """Compiled (XLA on TensorFlow, jit on JAX) as fit and predict run it: the running maximum
    keeps its static shapes, and the outputs are the eager model's."""
    x, _, _ = random_batch(held_run.meta, 2, seed=5)
    eager = _np(held_run.model({k: ops.convert_to_tensor(v) for k, v in x.items()}, training=False)["event_type"])
    held_run.model.compile(jit_compile=True)
    np.testing.assert_allclose(held_run.model.predict(x, verbose=0)["event_type"], eager, atol=1e-4, rtol=1e-4)
