"""The sampling loop, the decoder's key/value cache, batched closed-loop rollouts and `actiongen generate`
on a tiny untrained model (the default backend; other backends: tests/generation/test_backends.py)."""

import argparse
import dataclasses
import math

import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.data.windows import session_windows
from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation.cli import add_evaluation_parsers
from actiongen_keras.generation import rules as R
from actiongen_keras.generation import sampler as S
from actiongen_keras.generation.best_of import anchor_cost
from actiongen_keras.generation.rollout import Generator, rollout, window_seed
from actiongen_keras.layers.context_aware_generator import XY_SIGMA_SHIFT, draw_position, previous_cursor, split_xy_params, xy_point, xy_tail
from actiongen_keras.layers.multi_scale_timing import sample_timing, scale_ranges, timing_cdf
from actiongen_keras.models.steps import DEC_INPUTS, WINDOW_INPUTS, ModelSteps
from actiongen_keras.recordings.session import read_session, write_session
from actiongen_keras.testing.batches import random_batch
from actiongen_keras.testing.generation import check_greedy_window
from actiongen_keras.testing.runs import tiny_config, untrained_run
from actiongen_keras.testing.sessions import synthetic_session

SECONDS = 3.0


def _session(sid="ctx", subject="alice", seed=1, duration_s=20):
    return synthetic_session(sid, subject, source="osu", duration_s=duration_s, rate_hz=30, seed=seed, with_state=True, screen=(512, 384))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    sessions = [_session(), _session("other", "bob", seed=2)]
    return untrained_run(sessions, tiny_config(), run_dir=root / "run")


@pytest.fixture(scope="module")
def gen(run):
    """The compiled loop. XLA compiles it once per batch size and set of sampling options (tens
    of seconds on two busy cores), so the tests below keep to batches of 1 and 2."""
    return Generator(run)


def _windows(run, session, rows):
    ins, _, _, _T = session_windows(session, run.preprocessing)
    w = {k: v[rows] for k, v in ins.items()}
    w["bos_xy"] = w["dec_xy"][:, 0]
    return w


# --------------------------------------------------------------------------- categorical draws


def test_greedy_and_top_k_1_are_the_allowed_argmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (64, 8)).astype("float32")
    allowed = rng.random((64, 8)) < 0.7
    allowed[np.arange(64), rng.integers(8, size=64)] = True
    best = np.argmax(np.where(allowed, logits, -np.inf), axis=-1)
    u = rng.random(64).astype("float32")
    got = ops.convert_to_numpy(S.categorical(logits, np.zeros(64, "float32"), u, allowed=allowed))
    np.testing.assert_array_equal(got, best)
    for t in (0.5, 1.0, 3.0):
        got = ops.convert_to_numpy(S.categorical(logits, np.full(64, t, "float32"), u, top_k=1, allowed=allowed))
        np.testing.assert_array_equal(got, best)


def test_draws_follow_the_filtered_distribution():
    """Inverse-CDF draws with uniform u reproduce softmax(logits / T) over the allowed classes,
    top-k keeps the k largest, top-p the smallest set reaching p; a masked class never comes out."""
    logits = np.array([0.0, 2.0, 1.0, 0.5, -1.0], "float32")
    n = 20000
    u = (np.arange(n, dtype="float32") + 0.5) / n  # a uniform grid: frequencies = probabilities
    L = np.broadcast_to(logits, (n, 5))
    for t in (0.5, 1.0, 2.0):
        draws = ops.convert_to_numpy(S.categorical(L, np.full(n, t, "float32"), u))
        p = np.exp(logits / t) / np.exp(logits / t).sum()
        np.testing.assert_allclose(np.bincount(draws, minlength=5) / n, p, atol=2e-3)
    allowed = np.broadcast_to(np.array([True, False, True, True, True]), (n, 5))
    draws = ops.convert_to_numpy(S.categorical(L, np.ones(n, "float32"), u, allowed=allowed))
    assert 1 not in set(draws.tolist()) and set(draws.tolist()) == {0, 2, 3, 4}
    draws = ops.convert_to_numpy(S.categorical(L, np.ones(n, "float32"), u, top_k=2))
    assert set(draws.tolist()) == {1, 2}
    # softmax: [.08, .56, .21, .13, .03]: top-p 0.5 keeps the first class alone, 0.7 two
    assert set(ops.convert_to_numpy(S.categorical(L, np.ones(n, "float32"), u, top_p=0.5)).tolist()) == {1}
    assert set(ops.convert_to_numpy(S.categorical(L, np.ones(n, "float32"), u, top_p=0.7)).tolist()) == {1, 2}
    # a row with no allowed class ignores the mask instead of producing NaN
    none = np.zeros((1, 5), bool)
    assert int(ops.convert_to_numpy(S.categorical(logits[None], np.zeros(1, "float32"), u[:1], allowed=none))[0]) == 1


def test_timing_draws_follow_the_mixture_cdf():
    """sample_timing by inverse CDF: on a grid of uniforms the empirical CDF equals timing_cdf."""
    rng = np.random.default_rng(3)
    b, M, max_ms = (40.0, 250.0), 3, 60000.0
    params = rng.normal(0, 1.0, (1, 3 + 9 * M))
    rest = params[:, 3:].reshape(1, 3, 3, M)
    r = np.array(scale_ranges(b, max_ms))
    rest[:, :, 1] = r[None, :, :1] + (r[None, :, 1:] - r[None, :, :1]) / (1 + np.exp(-rest[:, :, 1]))
    params = np.concatenate([params[:, :3], rest.reshape(1, -1)], 1).astype("float32")
    n = 30000
    u = rng.random((n, 3)).astype("float32")
    ms = ops.convert_to_numpy(sample_timing(np.repeat(params, n, 0), u, b, M, max_ms))
    for q in (5.0, 40.0, 100.0, 250.0, 1000.0):
        want = float(ops.convert_to_numpy(timing_cdf(ops.convert_to_tensor(params[0]), np.log1p(q), b, M, max_ms)))
        assert abs(np.mean(ms <= q) - want) < 0.01, (q, np.mean(ms <= q), want)


# --------------------------------------------------------------------------- the key/value cache


def test_cached_decoding_equals_the_full_model(run):
    """Step by step with the key/value cache == the whole teacher-forced model, every head, every step."""
    x, _, _ = random_batch(run.meta, 3, seed=4)
    full = {k: ops.convert_to_numpy(v) for k, v in run.model({k: ops.convert_to_tensor(v) for k, v in x.items()}, training=False).items()}
    steps = ModelSteps(run.model)
    w = {k: ops.convert_to_tensor(x[k]) for k in WINDOW_INPUTS if k != "bos_xy"}
    ctx = steps.encode(w)
    cache = steps.empty_cache(3)
    g = steps.generator
    A1 = x["dec_type"].shape[1]
    nxt = np.concatenate([x["dec_type"][:, 1:], np.full((3, 1), F.EOS)], axis=1)
    prev = ops.convert_to_numpy(previous_cursor(ops.convert_to_tensor(x["dec_xy"]), ops.convert_to_tensor(x["hist_xy"]),
                                                ops.convert_to_tensor(x["hist_type"])))
    for i in range(A1):
        token = {k: ops.convert_to_tensor(x[k][:, i]) for k in DEC_INPUTS}
        _, h, pointer, event_logits, cache = steps.step(ctx, token, i, cache)
        np.testing.assert_allclose(ops.convert_to_numpy(event_logits), full["event_type"][:, i], atol=1e-5, rtol=1e-5)
        attrs = g.attributes(h, ops.convert_to_tensor(nxt[:, i : i + 1].astype("int32")), token["dec_xy"][:, None, :], pointer,
                             ops.convert_to_tensor(prev[:, i : i + 1]))
        for head, a in zip(("timing", "xy", "button", "key", "scroll", "dwell"), attrs):
            # the heads sit one more dense layer above the decoder: float32 differences of 1e-5 there reach ~2e-5
            np.testing.assert_allclose(ops.convert_to_numpy(a)[:, 0], full[head][:, i], atol=5e-5, rtol=1e-5, err_msg=f"{head} step {i}")


# --------------------------------------------------------------------------- one window


def test_greedy_window_is_the_models_point_prediction_on_its_own_prefix(gen, run):
    """Greedy decoding (compiled) equals argmax / median / most-probable-position decoding of the
    full model on the generated prefix, row by row, held buttons and keys included."""
    checked, stops = 0, set()
    for rows in ([1, 4], [7, 10], [13, 16], [19, 22]):
        w = _windows(run, _session("busy", "carol", seed=9), np.array(rows))
        out = gen.sampler()(w, 0.0, 0)
        checked += sum(check_greedy_window(run.model, w, out, row=b) for b in range(2))
        stops |= {S.STOPS[int(s)] for s in out["stop"]}
    assert checked >= 20, checked
    assert stops & {"eos", "time"}


@pytest.mark.parametrize("frame,step_context", [("polar", False), ("polar_factored", False), ("polar", True)])
def test_greedy_window_of_a_polar_head_is_its_median_point(frame, step_context):
    """With ``model.xy_frame="polar"`` (or ``"polar_factored"``) greedy decoding still equals the
    full model's point prediction on its own prefix: the loop and the metrics share xy_point's
    median step; with ``model.step_context`` the loop's last step is the model's."""
    config = tiny_config()
    config.model.xy_frame = frame
    config.model.step_context = step_context
    session = _session("busy", "carol", seed=9)
    run = untrained_run([session], config)
    w = _windows(run, session, np.array([1, 4]))
    with _biased(run, {F.MOVE: 6.0}):  # an untrained head would stop at once
        out = Generator(run, jit=False).sampler(S.SamplingConfig())(w, 0.0, 0)
        moves = int(np.sum(out["event_type_id"] == F.MOVE))
        assert moves >= 4 and sum(check_greedy_window(run.model, w, out, row=b) for b in range(2)) >= 4


def test_greedy_window_of_a_model_with_the_anchors_event_bias():
    """With ``model.anchor_event_bias`` the loop draws the event type from the event head
    plus the anchors' bias, as the full model does: greedy decoding still equals the full
    model's point predictions on its own prefix, and a bias that decides the event decides
    the loop's (a loop that read the event head alone would go on moving)."""
    config = tiny_config()
    config.model.anchor_event_bias = True
    session = _session("busy", "carol", seed=9)
    run = untrained_run([session], config)
    q = run.model.get_layer("generator").anchor_query
    rng = np.random.default_rng(2)
    q.event_bias.kernel.assign(rng.normal(0, 0.5, q.event_bias.kernel.shape).astype("float32"))
    w = _windows(run, session, np.array([1, 4]))
    assert np.all(w["anchor_mask"].sum(-1) > 0)  # every row sees an anchor at T
    sampler = Generator(run, jit=False).sampler(S.SamplingConfig())
    with _biased(run, {F.MOVE: 6.0}):
        out = sampler(w, 0.0, 0)
        assert sum(check_greedy_window(run.model, w, out, row=b) for b in range(2)) >= 4
        assert np.all(out["count"] >= 4)
        bias = np.array(q.event_bias.bias.numpy())
        q.event_bias.bias.assign(bias + 40.0 * (np.arange(bias.shape[0]) == F.EOS))  # each anchor says: stop
        stopped = Generator(run, jit=False).sampler(S.SamplingConfig())(w, 0.0, 0)
        q.event_bias.bias.assign(bias)
    np.testing.assert_array_equal(stopped["count"], [0, 0])
    assert [S.STOPS[int(s)] for s in stopped["stop"]] == ["eos", "eos"]
    steps = ModelSteps(run.model)
    ctx = steps.encode({k: ops.convert_to_tensor(v) for k, v in w.items() if k in WINDOW_INPUTS})
    token = {k: ops.convert_to_tensor(w[k][:, 0]) for k in DEC_INPUTS}
    _, h, _, logits, _ = steps.step(ctx, token, 0, steps.empty_cache(2))
    head_alone = ops.convert_to_numpy(steps.generator.event_head(h)[:, 0])
    assert np.abs(ops.convert_to_numpy(logits) - head_alone).max() > 0.05


def test_window_seed_temperature_and_batch_independence(gen, run):
    w = _windows(run, _session(), np.array([3, 8]))
    sampler = gen.sampler()
    a = sampler(w, 1.0, [3, 4])
    b = sampler(w, 1.0, [3, 4])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    c = sampler(w, 1.0, [103, 104])
    assert not np.array_equal(a["t_ms"], c["t_ms"])
    one = sampler({k: v[1:2] for k, v in w.items()}, 1.0, [4])  # a row alone == the same row in the batch
    n = int(one["count"][0])
    assert n == a["count"][1] and n > 0
    np.testing.assert_array_equal(one["event_type_id"][0], a["event_type_id"][1])
    np.testing.assert_allclose(one["t_ms"][0], a["t_ms"][1], atol=1e-3)
    g1, g2 = sampler(w, 0.0, [3, 4]), sampler(w, 0.0, [10, 11])  # greedy ignores the seed
    np.testing.assert_array_equal(g1["t_ms"], g2["t_ms"])
    A = gen.data_config.max_actions
    for o in (a, c, g1):
        for r in range(2):
            n = int(o["count"][r])
            t = o["t_ms"][r, :n]
            assert np.all(np.diff(t) >= 0) and np.all(t >= 0) and np.all(t < 600.0) and n <= A
            assert np.all(o["event_type_id"][r, :n] != F.PAD) and np.all(o["event_type_id"][r, n:] == 0)


def test_a_compiled_sampler_keeps_the_weights_it_was_built_with(run):
    """Every backend compiles the weights into the loop as constants (TensorFlow: frozen_weights;
    jax.jit and the PyTorch graphs close over them): inference only, a later change of the
    weights needs a new sampler, which reads them."""
    g = Generator(run.path)  # a model of its own, loaded again: the module's run.model is shared
    w = _windows(run, _session(), np.array([3]))
    sampler = g.sampler()
    before = sampler(w, 0.0, [0])
    model = sampler.steps.model
    model.set_weights([1.5 * x for x in model.get_weights()])
    again = sampler(w, 0.0, [0])
    for k in before:
        np.testing.assert_array_equal(again[k], before[k], err_msg=k)
    fresh = S.WindowSampler(model, target_ms=float(g.data_config.target_ms))(w, 0.0, [0])
    assert not all(np.array_equal(fresh[k], before[k]) for k in ("t_ms", "xy", "event_type_id"))


def test_the_loop_keeps_input_coherent_under_forced_events(run):
    """With the event head pushed towards release / key_up, the masks decide: nothing is released
    that is not held, and every scroll moves."""
    from actiongen_keras.generation.run import RunFiles

    model = run.model
    bias = model.get_layer("generator").event_head.bias
    saved = np.array(bias.numpy())
    b = saved.copy()
    b[[F.RELEASE, F.KEY_UP, F.SCROLL, F.PRESS, F.KEY_DOWN]] += 3.0
    bias.assign(b)
    try:
        g = Generator(RunFiles(model, run.config, run.preprocessing, run.meta, None))
        ins = _windows(run, synthetic_session("keys", "dan", source="sapimouse", duration_s=20, rate_hz=30, seed=5, keys=True, scroll=True),
                       np.arange(0, 20))
        B = len(ins["hist_type"])
        parts = [g.sampler()({k: v[r : r + 2] for k, v in ins.items()}, 1.3, [r, r + 1]) for r in range(0, B, 2)]
        out = {k: np.concatenate([o[k] for o in parts]) for k in parts[0]}
        w = ins
        hb = np.asarray(ops.convert_to_numpy(R.held_from_history(w["hist_type"], w["hist_button"], F.NUM_BUTTONS, R.NAMES_BUTTON)))
        hk = np.asarray(ops.convert_to_numpy(R.held_from_history(w["hist_type"], w["hist_key"], g.num_keys(), R.NAMES_KEY)))
        seen = set()
        for r in range(B):
            held_b, held_k = set(np.flatnonzero(hb[r])), set(np.flatnonzero(hk[r]))
            cursor = w["bos_xy"][r]
            for j in range(int(out["count"][r])):
                t, btn, key = (int(out[k][r, j]) for k in ("event_type_id", "button_id", "key_id"))
                seen.add(t)
                if t == F.RELEASE:
                    assert btn in held_b
                    held_b.discard(btn)
                elif t == F.PRESS:
                    assert btn >= 1 and btn not in held_b
                    held_b.add(btn)
                elif t == F.KEY_UP:
                    assert key in held_k
                    held_k.discard(key)
                elif t == F.KEY_DOWN:
                    assert key >= R.FIRST_KNOWN_KEY and key not in held_k
                    held_k.add(key)
                elif t == F.SCROLL:
                    assert tuple(out["scroll"][r, j]) != (R.SCROLL_STILL, R.SCROLL_STILL)
                if t != F.MOVE:
                    np.testing.assert_allclose(out["xy"][r, j], cursor, atol=1e-6)
                cursor = out["xy"][r, j]
            np.testing.assert_array_equal(np.flatnonzero(out["held_buttons"][r]), sorted(held_b))
            np.testing.assert_array_equal(np.flatnonzero(out["held_keys"][r]), sorted(held_k))
        assert {F.PRESS, F.RELEASE, F.KEY_DOWN, F.KEY_UP, F.SCROLL} <= seen, seen
    finally:
        bias.assign(saved)


# --------------------------------------------------------------------------- rollout


def _held_violations(events):
    held_b, held_k, bad = set(), set(), 0
    for typ, b, k in zip(events.type, events.button, events.key):
        if typ == "press":
            bad += b in held_b
            held_b.add(b)
        elif typ == "release":
            bad += b not in held_b
            held_b.discard(b)
        elif typ == "key_down":
            bad += k in held_k
            held_k.add(k)
        elif typ == "key_up":
            bad += k not in held_k
            held_k.discard(k)
    return bad


def test_rollout_session_is_valid_and_keeps_the_context(gen, run, tmp_path):
    write_session(_session(), tmp_path / "real")
    real, _ = read_session(tmp_path / "real", "strict")  # as a session folder holds it (times to 1/1000 ms)
    out = rollout(gen, real, seconds=SECONDS, seed=3)
    T0 = out.extra["generated_from_ms"]
    assert T0 == real.events.t_ms[0] + 6000.0
    assert out.source == "generated" and out.subject == real.subject and out.screen == real.screen and out.game == real.game
    assert out.extra["context_session_id"] == real.session_id and out.extra["seed"] == 3 and out.extra["context_ms"] == 6000.0
    assert out.extra["model"] == run.path and sum(out.extra["window_stops"].values()) == 5
    write_session(out, tmp_path / "g")
    back, _ = read_session(tmp_path / "g", "strict")
    ev = back.events
    assert np.all(np.diff(ev.t_ms) >= 0)
    # first 6 s: the real events, unchanged
    ctx = ev.take(ev.t_ms < T0)
    rc = real.events.take(real.events.t_ms < T0)
    assert len(ctx) == len(rc) > 0
    assert np.array_equal(ctx.t_ms, rc.t_ms) and np.array_equal(ctx.x, rc.x) and np.array_equal(ctx.y, rc.y)
    assert list(ctx.type) == list(rc.type) and list(ctx.key) == list(rc.key) and list(ctx.button) == list(rc.button)
    # after: only generated events, inside [T0, T0 + seconds)
    gen_ev = ev.take(ev.t_ms >= T0)
    assert len(gen_ev) > 0 and gen_ev.t_ms.max() < T0 + SECONDS * 1000.0
    assert set(gen_ev.type) <= set(F.EVENT_TYPES[1:7])
    assert np.all((gen_ev.x >= 0) & (gen_ev.x <= 512) & (gen_ev.y >= 0) & (gen_ev.y <= 384))
    assert set(gen_ev.key[gen_ev.type == "key_down"]) <= set(run.preprocessing.key_vocab.values)
    assert _held_violations(ev) == 0
    # non-moves sit where the cursor is (the position of the event before them)
    nonmove = np.flatnonzero(ev.type != "move")
    nonmove = nonmove[(nonmove > 0) & (ev.t_ms[nonmove] >= T0)]
    assert np.array_equal(ev.x[nonmove], ev.x[nonmove - 1]) and np.array_equal(ev.y[nonmove], ev.y[nonmove - 1])
    # state: the real rows up to the end, same columns
    keep = real.state.t_ms <= T0 + SECONDS * 1000.0
    np.testing.assert_allclose(back.state.t_ms, real.state.t_ms[keep])
    assert back.state_columns == real.state_columns
    # same seed, same session; greedy ignores the seed
    again = rollout(gen, real, seconds=SECONDS, seed=3)
    assert len(again.events) == len(out.events) and np.array_equal(again.events.t_ms, out.events.t_ms)
    g1 = rollout(gen, real, seconds=1.2, seed=1, temperature=0.0)
    g2 = rollout(gen, real, seconds=1.2, seed=2, temperature=0.0)
    assert np.array_equal(g1.events.t_ms, g2.events.t_ms) and np.array_equal(g1.events.x, g2.events.x)


def test_click_targets_follow_the_rollouts_own_clicks(gen):
    """A click-target context (recordings/click_targets.py): from T0 on, the rollout's own clicks
    advance its targets (a huge radius here, so that every click of the untrained model does), and
    the session it writes holds the state the model was shown; ``follow_clicks=False`` keeps the person's."""
    from actiongen_keras.recordings import click_targets as CT

    real = CT.with_click_targets(synthetic_session("tasked", "carol", duration_s=20, rate_hz=30, seed=4, screen=(512, 384)))
    T0 = float(real.events.t_ms[0]) + 6000.0

    def task():
        t = CT.ClickTask.from_session(real, T0)
        t.targets.radius[:] = 1e6
        return t

    out = rollout(gen, real, seconds=SECONDS, seed=5, tasks=[task()])
    assert out.extra["generated_from_ms"] == T0
    ev = out.events.take(out.events.t_ms >= T0)
    replay = task()
    replay.observe(ev.t_ms, ev.type, ev.x, ev.y, ev.button)
    done = out.extra["click_task"]["targets_done"]
    assert done == replay.targets_done > 0
    want = replay.state(T0 + SECONDS * 1000.0)
    for name in ("target_x", "target_y", "target_dt_ms"):  # the written event times are rounded to 1/1000 ms
        np.testing.assert_allclose(out.state.columns[name], want.columns[name], atol=1e-2)
    assert list(out.state.columns["target_button"]) == list(want.columns["target_button"])
    # in order, from the target current at T0, none shown again once done (a target clicked within
    # a snapshot step of appearing is never shown)
    first = int(np.searchsorted(replay.targets.done_t, T0, side="right"))
    shown = [x for x in dict.fromkeys(out.state.columns["target_x"][out.state.t_ms >= T0]) if np.isfinite(x)]
    index = [int(np.flatnonzero(replay.targets.x == x)[0]) for x in shown]
    assert index[0] == first and index == sorted(index) and index[-1] == first + done
    assert rollout(gen, real, seconds=SECONDS, seed=5).extra["click_task"]["radius_px"] == CT.TARGET_RADIUS_PX  # the session's own task
    fixed = rollout(gen, real, seconds=SECONDS, seed=5, follow_clicks=False)
    keep = real.state.t_ms <= T0 + SECONDS * 1000.0
    np.testing.assert_array_equal(fixed.state.columns["target_x"], real.state.columns["target_x"][keep])
    assert "click_task" not in fixed.extra


def test_batched_rollout_equals_single_rollouts_and_reports_failures(gen):
    """Contexts of different screens, lengths and start times batch together; a row depends on its
    own context and seed only (context i of a list gets seed s + i); an unusable context is named,
    the others run."""
    a = _session("a", "alice", seed=1)
    b = synthetic_session("b", "bob", source="osu", duration_s=14, rate_hz=45, seed=2, with_state=True, screen=(640, 480))
    c = _session("c", "carl", seed=4)
    short = dataclasses.replace(_session("short", "eve", seed=3), screen=(0, 0))  # no screen: cannot be encoded
    res = rollout(gen, [a, short, b], seconds=[1.8, 1.8, 1.2], seed=10, batch_size=2, start_ms=[None, None, 7000.0])
    assert isinstance(res[1], ActiongenError) and "short" in str(res[1])
    assert res[0].extra["seed"] == 10 and res[2].extra["seed"] == 12
    assert res[2].extra["generated_from_ms"] == 7000.0 and res[2].screen == (640, 480)
    # the same row beside another partner: the same events (the same compiled batch of 2)
    other = rollout(gen, [a, c], seconds=1.8, seed=[10, 99], batch_size=2)
    assert list(other[0].events.type) == list(res[0].events.type)
    np.testing.assert_allclose(other[0].events.t_ms, res[0].events.t_ms, atol=1e-3)
    np.testing.assert_allclose(other[0].events.x, res[0].events.x, atol=1e-3)
    # alone (batch 1, another compilation): the first window agrees (later ones would too, were it not
    # for float32 rounding that an untrained model amplifies from window to window)
    alone = rollout(gen, b, seconds=0.6, seed=12, start_ms=7000.0)
    first = res[2].events.take(res[2].events.t_ms < 7600.0)
    assert len(first) == len(alone.events) and list(first.type) == list(alone.events.type)
    np.testing.assert_allclose(first.t_ms, alone.events.t_ms, atol=1e-2)
    with pytest.raises(ActiongenError, match="seconds"):
        rollout(gen, a, seconds=float("inf"))


def test_best_of_keeps_each_windows_cheapest_candidate(gen, monkeypatch):
    """The first window of a best-of-3 rollout is the candidate, among the three the sampler draws
    with the window's seed and the candidates' seeds, that costs least; best_of 1 is the plain rollout.
    (An untrained model puts every draw at the same clipped point, so the sampler's positions are
    moved here by an amount that depends on the seed: the candidates then differ; generation/best_of.py.)"""
    g, session = gen, _session()
    T0 = float(session.events.t_ms[0]) + 6000.0
    plain = rollout(g, session, seconds=0.6, seed=4, start_ms=T0)
    one = rollout(g, session, seconds=0.6, seed=4, start_ms=T0, best_of=1)
    np.testing.assert_array_equal(plain.events.t_ms, one.events.t_ms)
    assert one.extra["best_of"] == 1

    real_sampler = g.sampler()

    def spread(window, temperature, seed, carry=None, clock=None):
        out = dict(real_sampler(window, temperature, seed, carry, clock))
        shift = (np.asarray(seed, np.int64) % 1000 / 1000.0)[:, None, None] * np.array([1.0, 0.0])
        out["xy"] = np.clip(out["xy"] + shift, 0, 1).astype(np.float32)
        calls.append((window, np.asarray(seed), out))
        return out

    calls = []
    monkeypatch.setattr(g, "sampler", lambda sampling=None: spread)
    best = rollout(g, session, seconds=0.6, seed=4, start_ms=T0, best_of=3, clock=False, pixel_grid=False)
    assert best.extra["best_of"] == 3 and len(calls) == 1
    window, seeds, out = calls[0]
    np.testing.assert_array_equal(seeds, [window_seed(4, 0), window_seed(4, 0, 1), window_seed(4, 0, 2)])
    cost = anchor_cost(out, window, g.data_config.target_ms, np.array([session.screen] * 3, float))
    assert window["anchor_mask"].sum() == 3 and len(set(np.round(cost, 6))) == 3  # the choice is not a tie
    k = int(np.argmin(cost))
    assert k != 0  # a loop that kept the first draw would fail below
    gen_ev = best.events.take(best.events.t_ms >= T0)
    n = int(out["count"][k])
    assert len(gen_ev) == n > 0
    np.testing.assert_allclose(gen_ev.t_ms, T0 + out["t_ms"][k, :n], atol=1e-2)
    np.testing.assert_allclose(gen_ev.x, out["xy"][k, :n, 0] * session.screen[0], atol=1e-2)
    # a window that shows no anchor has nothing to choose by: drawn once, as best_of 1 draws it
    cols = dict(session.state.columns, obj_x=np.full(len(session.state.t_ms), np.nan))
    bare = dataclasses.replace(session, state=dataclasses.replace(session.state, columns=cols))
    calls.clear()
    once = rollout(g, bare, seconds=0.6, seed=4, start_ms=T0, best_of=3, clock=False, pixel_grid=False)
    assert len(calls) == 1 and calls[0][0]["anchor_mask"].sum() == 0 and len(calls[0][1]) == 1
    plain = rollout(g, bare, seconds=0.6, seed=4, start_ms=T0, best_of=1, clock=False, pixel_grid=False)
    np.testing.assert_array_equal(once.events.t_ms, plain.events.t_ms)
    np.testing.assert_array_equal(once.events.x, plain.events.x)
    with pytest.raises(ActiongenError, match="best_of"):
        rollout(g, session, seconds=0.6, best_of=0)


def test_sampling_options_run_in_the_loop(gen):
    """top-k / top-p and correlated position noise are options of the one loop: seeded, within the
    rules, and the correlation shows in consecutive moves' deviations."""
    real = _session("busy", "carol", seed=9)
    opts = {"temperature": 1.0, "top_k": 3, "top_p": 0.9, "xy_noise_corr": 0.9, "xy_top_p": 0.8}
    s1 = rollout(gen, real, seconds=1.8, seed=4, **opts)
    s2 = rollout(gen, real, seconds=1.8, seed=4, **opts)
    s3 = rollout(gen, real, seconds=1.8, seed=5, **opts)
    assert np.array_equal(s1.events.t_ms, s2.events.t_ms) and np.array_equal(s1.events.x, s2.events.x)
    assert not np.array_equal(s1.events.t_ms, s3.events.t_ms)
    assert _held_violations(s1.events) == 0 and s1.extra["top_k"] == 3 and s1.extra["xy_noise_corr"] == 0.9 and s1.extra["xy_top_p"] == 0.8


def test_position_draws_lie_along_and_across_the_motion_frame():
    """draw_position (layers/, shared with self-fed training): a screen-frame head's noise has covariance diag(sx^2, sy^2); a motion-frame
    head's (spreads along / across u) has R diag(sa^2, sc^2) R^T, R the turn to u."""
    rng = np.random.default_rng(0)
    n, M = 20000, 2
    p = np.zeros((n, 5 * M), "float32")
    p[:, 0] = 30.0  # component 0 always
    p[:, M], p[:, 2 * M] = 0.3, 0.6  # its mean
    sa, sc = 0.02, 0.002
    p[:, 3 * M], p[:, 4 * M] = np.log(sa), np.log(sc)
    one = np.zeros((n, M, 1), "float32")
    one[:, 0] = 1.0
    u = rng.random((n, 2)).astype("float32")
    z = ops.convert_to_numpy(S.box_muller(u[:, 0], u[:, 1]))
    def draw(params, frame="screen"):
        _, mu, sigma = split_xy_params(params, M)
        return ops.convert_to_numpy(draw_position(mu, sigma, one, z, frame, xy_tail(params, M))) - [0.3, 0.6]

    screen = draw(p)
    np.testing.assert_allclose(np.cov(screen.T), np.diag([sa**2, sc**2]), atol=0.03 * sa**2)
    ang = 2.0
    d = np.array([np.cos(ang), np.sin(ang)], "float32")
    motion = draw(np.concatenate([p, np.broadcast_to(d, (n, 2))], -1), "motion")
    R = np.array([[d[0], -d[1]], [d[1], d[0]]])
    np.testing.assert_allclose(np.cov(motion.T), R @ np.diag([sa**2, sc**2]) @ R.T, atol=0.03 * sa**2)
    # the same standard normal pair: the noise is turned, its length kept
    np.testing.assert_allclose(np.linalg.norm(motion, axis=-1), np.linalg.norm(screen, axis=-1), atol=1e-6)  # float32 of a mean at 0.3-0.6


def test_polar_draws_keep_the_heading_of_the_mean_step():
    """A polar head's draw: length |m| exp(s_r z_0 - s_r^2 / 2) (mean |m|), turn s_t z_1 from m's
    heading, wrapped; its reversals (a turn over a quarter) are as rare as the turn spread says."""
    rng = np.random.default_rng(0)
    n, M = 20000, 2
    p = np.zeros((n, 5 * M + 2), "float32")
    p[:, 0] = 30.0  # component 0 always
    cursor, step = np.array([0.4, 0.5], "float32"), np.array([-0.01, 0.02], "float32")
    p[:, M], p[:, 2 * M] = cursor + step
    s_r, s_t = 0.4, 0.5
    p[:, 3 * M], p[:, 4 * M] = np.log(s_r), np.log(s_t)
    p[:, 5 * M :] = cursor
    one = np.zeros((n, M, 1), "float32")
    one[:, 0] = 1.0
    u = rng.random((n, 2)).astype("float32")
    z = ops.convert_to_numpy(S.box_muller(u[:, 0], u[:, 1]))
    _, mu, sigma = split_xy_params(p, M)
    d = ops.convert_to_numpy(draw_position(mu, sigma, one, z, "polar", xy_tail(p, M))) - cursor
    log_r = np.log(np.linalg.norm(d, axis=-1))
    turn = np.arctan2(step[0] * d[:, 1] - step[1] * d[:, 0], step @ d.T)
    np.testing.assert_allclose(log_r, np.log(np.linalg.norm(step)) + s_r * z[:, 0] - s_r**2 / 2, atol=1e-4)  # the same normal pair, exactly
    assert np.exp(log_r).mean() == pytest.approx(np.linalg.norm(step), rel=0.01)  # the mean length is the mean step's
    np.testing.assert_allclose(turn, s_t * z[:, 1], atol=1e-3)
    # the greedy point (xy_point) is the median draw: on m's heading, at the median length
    point = ops.convert_to_numpy(xy_point(p[:1], M, "polar"))[0] - cursor
    assert np.linalg.norm(point) == pytest.approx(np.median(np.linalg.norm(d, axis=-1)), rel=0.02)
    np.testing.assert_allclose(point / np.linalg.norm(point), step / np.linalg.norm(step), atol=1e-5)
    reversing = np.mean(np.abs(turn) > np.pi / 2)
    assert reversing == pytest.approx(2 * 0.5 * math.erfc(np.pi / 2 / s_t / math.sqrt(2)), abs=0.001)  # 0.0017


def test_factored_polar_draws_take_the_length_and_the_turn_from_their_own_components():
    """``polar_factored``: ``one [..., M, 2]`` names the length's component (column 0) and the
    turn's (column 1): a draw is as long as the first's mean step says and turns about the
    second's heading by the second's spread; xy_point takes the most probable length's median
    along the most probable turn's heading."""
    rng = np.random.default_rng(1)
    n, M = 20000, 2
    cursor = np.array([0.4, 0.5], "float32")
    steps = np.array([[0.03, 0.0], [0.0, 0.01]], "float32")  # component 0: long, along x; 1: short, along y
    p = np.zeros((n, 6 * M + 2), "float32")
    p[:, M : 2 * M], p[:, 2 * M : 3 * M] = cursor[0] + steps[:, 0], cursor[1] + steps[:, 1]
    p[:, 3 * M : 4 * M], p[:, 4 * M : 5 * M] = np.log([0.3, 0.9]), np.log([1.5, 0.2])
    p[:, 5 * M : 5 * M + 2] = cursor
    p[:, 0], p[:, 5 * M + 3] = 5.0, 5.0  # most probable: length 0, turn 1
    one = np.zeros((n, M, 2), "float32")
    one[:, 0, 0] = one[:, 1, 1] = 1.0
    z = rng.standard_normal((n, 2)).astype("float32")
    _, mu, sigma = split_xy_params(p, M)
    d = ops.convert_to_numpy(draw_position(mu, sigma, one, z, "polar_factored", xy_tail(p, M))) - cursor
    np.testing.assert_allclose(np.log(np.linalg.norm(d, axis=-1)), np.log(0.03) + 0.3 * z[:, 0] - 0.3**2 / 2, atol=1e-4)
    turn = np.arctan2(d[:, 0] * -1.0, d[:, 1])  # from the y axis (component 1's heading), counter-clockwise
    np.testing.assert_allclose(turn, 0.2 * z[:, 1], atol=1e-3)
    point = ops.convert_to_numpy(xy_point(p[:1], M, "polar_factored"))[0] - cursor
    np.testing.assert_allclose(point, [0.0, 0.03 * math.exp(-0.3**2 / 2)], atol=1e-6)


def _sampled_move_steps(run, session, sampling):
    """The steps (screen units) of moves sampled for three windows of ``session`` with the
    event head pushed to moves, one array per window, up to its first position clipped at an
    edge; each window must give at least 4 moves."""
    w = _windows(run, session, np.array([3, 8, 13]))
    with _biased(run, {F.MOVE: 12.0}):
        out = Generator(run, jit=False).sampler(sampling)(w, 1.0, [0, 1, 2])
    rows = []
    for r in range(3):
        n = out["count"][r]
        assert n >= 4 and np.all(out["event_type_id"][r, :n] == F.MOVE)
        xy = out["xy"][r, :n]
        edge = np.flatnonzero(np.any((xy <= 0.0) | (xy >= 1.0), axis=-1))
        xy = xy[: edge[0] if len(edge) else n]
        rows.append(np.diff(np.concatenate([w["bos_xy"][r][None], xy]), axis=0))
    return rows


def test_a_motion_frame_model_samples_along_its_path():
    """The loop turns the draws into the head's frame: with the xy head's means at cursor + last
    step (weights zero) and only the sigma floor across the motion (motion frame) or as the turn
    (polar frame), every sampled step leaves the last one's line by floor-sized noise (its
    length varies freely); the screen-frame head with the same spreads leaves it by the along
    spread."""
    session = synthetic_session("line", "eve", source="sapimouse", duration_s=20, rate_hz=30, seed=7)
    across = {}
    for frame in ("motion", "polar", "screen"):
        config = tiny_config()
        config.model.xy_frame = frame
        run = untrained_run([session], config)
        head = run.model.get_layer("generator").xy_head
        kernel, bias = (np.zeros_like(w) for w in head.get_weights())
        M = config.model.num_xy_mixtures
        bias[3 * M : 4 * M] = np.log(np.expm1(0.003)) + XY_SIGMA_SHIFT  # 0.003 screens along (motion) or along x (screen)
        bias[4 * M : 5 * M] = -50.0  # the floor across (motion) or along y (screen)
        head.set_weights([kernel, bias])
        for steps in _sampled_move_steps(run, session, S.SamplingConfig()):
            prev, step = steps[:-1], steps[1:]
            norm = np.linalg.norm(prev, axis=-1)
            keep = norm > 1e-6  # a still cursor has no direction (the frame falls back to x, y)
            cross = step[keep, 0] * prev[keep, 1] - step[keep, 1] * prev[keep, 0]
            across.setdefault(frame, []).extend(np.abs(cross) / norm[keep])  # screen units off the last step's line
    floor = tiny_config().model.xy_sigma_floor
    assert len(across["motion"]) >= 6 and max(across["motion"]) < 6 * floor
    # polar: the turn's spread is the floor (radians): off the line by a step times 6e-5 at most
    assert len(across["polar"]) >= 6 and max(across["polar"]) < 6 * floor
    assert np.median(across["screen"]) > 10 * floor


def test_the_position_nucleus_draws_only_the_main_components():
    """``xy_top_p``: each move's mixture component is drawn within the nucleus. A screen-frame head
    (means at cursor + last step, weights zero) whose main component (weight 0.7) has the sigma
    floor and whose three others are 0.05 screens wide: at ``xy_top_p`` 0.5 every step continues
    the last within floor-sized noise; with the whole mixture about a third of them jump."""
    session = synthetic_session("line", "eve", source="sapimouse", duration_s=20, rate_hz=30, seed=7)
    config = tiny_config()
    M = config.model.num_xy_mixtures
    run = untrained_run([session], config)
    head = run.model.get_layer("generator").xy_head
    kernel, bias = (np.zeros_like(w) for w in head.get_weights())
    bias[:M] = np.log([0.7] + [0.1] * (M - 1))
    for lo in (3 * M, 4 * M):
        bias[lo] = -50.0  # the floor
        bias[lo + 1 : lo + M] = np.log(np.expm1(0.05)) + XY_SIGMA_SHIFT
    head.set_weights([kernel, bias])
    floor = config.model.xy_sigma_floor
    off = {}
    for p in (0.5, 1.0):
        for steps in _sampled_move_steps(run, session, S.SamplingConfig(xy_top_p=p)):
            off.setdefault(p, []).extend(np.linalg.norm(steps[1:] - steps[:-1], axis=-1))  # screen units off the mean
    assert len(off[0.5]) >= 9 and max(off[0.5]) < 6 * floor
    assert 0.1 < np.mean(np.array(off[1.0]) > 100 * floor) < 0.6
    with pytest.raises(ValueError, match="xy_top_p"):
        S.SamplingConfig(xy_top_p=0.0)


def test_correlated_noise_correlates_consecutive_draws():
    """The loop's AR(1) position noise (``sampler.ar1`` on ``box_muller`` draws): each pair N(0, 1),
    lag-1 correlation rho."""
    rng = np.random.default_rng(0)
    n, rho = 20000, 0.9
    u = rng.random((n, 2)).astype("float32")
    e = ops.convert_to_numpy(S.box_muller(u[:, 0], u[:, 1]))
    np.testing.assert_allclose(e.std(axis=0), 1.0, atol=0.03)
    z = [e[0]]
    for i in range(1, n):
        z.append(ops.convert_to_numpy(S.ar1(z[-1], e[i], rho)))
    z = np.array(z)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.08)
    np.testing.assert_allclose([np.corrcoef(z[1:, k], z[:-1, k])[0, 1] for k in (0, 1)], rho, atol=0.02)
    with pytest.raises(ValueError, match="xy_noise_corr"):
        S.SamplingConfig(xy_noise_corr=1.0)
    with pytest.raises(ValueError, match="temperature"):
        S.SamplingConfig(temperature=-1.0)


def test_cli_generate_writes_a_session_per_context(run, tmp_path, capsys):
    """A folder of contexts gives one generated session each (a single session folder gives one
    session at --out: the same code path with one row)."""
    write_session(_session("ctx2", "bob", seed=2), tmp_path / "many" / "ctx2")
    write_session(_session("ctx3", "carl", seed=3), tmp_path / "many" / "ctx3")
    p = argparse.ArgumentParser()
    p.add_argument("-q", "--quiet", action="store_true")
    add_evaluation_parsers(p.add_subparsers(dest="command"))
    args = p.parse_args(["-q", "generate", "--model", run.path, "--context", str(tmp_path / "many"), "--seconds", "1.2", "--out",
                         str(tmp_path / "outs"), "--seed", "4", "--batch-size", "2", "--temperature", "0.8", "--top-k", "5", "--top-p", "0.95"])
    assert args.func(args) == 0
    ids = sorted(q.name for q in (tmp_path / "outs").iterdir())
    assert ids == ["ctx2.gen4", "ctx3.gen5"]
    for sid in ids:
        s, _ = read_session(tmp_path / "outs" / sid, "strict")
        assert s.source == "generated" and s.extra["context_session_id"] == sid.split(".")[0] and s.extra["top_k"] == 5
        assert (s.events.t_ms >= s.extra["generated_from_ms"]).any()
    out = capsys.readouterr().out
    assert "generated events" in out and "2 of 2 contexts generated" in out


# --------------------------------------------------------------------------- press durations and the clock


def _biased(run, events=None, fast_dwell=False):
    """Context manager: the event head's bias raised for some types, the dwell head pushed to its fast scale."""
    import contextlib

    g = run.model.get_layer("generator")
    ev_bias, sel_bias = g.event_head.bias, g.dwell.selector.bias
    saved = (np.array(ev_bias.numpy()), np.array(sel_bias.numpy()))

    @contextlib.contextmanager
    def ctx():
        b = saved[0].copy()
        for t, v in (events or {}).items():
            b[t] += v
        ev_bias.assign(b)
        if fast_dwell:
            sel_bias.assign(saved[1] + np.array([8.0, 0.0, 0.0], "float32"))
        try:
            yield
        finally:
            ev_bias.assign(saved[0])
            sel_bias.assign(saved[1])

    return ctx()


def _hold_times(types, buttons, times):
    """``[(press time, release time)]`` of the presses released inside the window."""
    pressed, out = {}, []
    for t, b, ms in zip(types, buttons, times):
        if t == F.PRESS:
            pressed[b] = ms
        elif t == F.RELEASE and b in pressed:
            out.append((pressed.pop(b), ms))
    return out


def test_press_durations_are_decided_at_the_press(run):
    """With releases made far more likely than anything else, a press is still held for its dwell:
    the greedy window releases each button at press + the dwell head's median (check_greedy_window
    replays the schedule) and never earlier; without dwell the release comes at the next step."""
    from actiongen_keras.generation.run import RunFiles

    w = _windows(run, synthetic_session("clicks", "dan", source="sapimouse", duration_s=20, rate_hz=30, seed=5), np.array([2, 9]))
    with _biased(run, {F.PRESS: 6.0, F.RELEASE: 12.0}, fast_dwell=True):
        g = Generator(RunFiles(run.model, run.config, run.preprocessing, run.meta, None))
        on = g.sampler(S.SamplingConfig(temperature=0.0))(w, 0.0, [0, 1])
        off = g.sampler(S.SamplingConfig(temperature=0.0, dwell=False))(w, 0.0, [0, 1])
        checked = sum(check_greedy_window(run.model, w, on, row=r) for r in range(2))
    assert checked > 0
    held_on = [p for r in range(2) for p in _hold_times(*(on[k][r, : on["count"][r]] for k in ("event_type_id", "button_id", "t_ms")))]
    held_off = [p for r in range(2) for p in _hold_times(*(off[k][r, : off["count"][r]] for k in ("event_type_id", "button_id", "t_ms")))]
    assert held_on and held_off
    # without dwell the release is the very next event; with it, presses of other buttons come between
    off_types = [list(off["event_type_id"][r, : off["count"][r]]) for r in range(2)]
    assert all(a != F.PRESS or b == F.RELEASE for ts in off_types for a, b in zip(ts, ts[1:]))
    on_types = [list(on["event_type_id"][r, : on["count"][r]]) for r in range(2)]
    assert any(a == F.PRESS and b == F.PRESS for ts in on_types for a, b in zip(ts, ts[1:]))


def test_clock_ticks_and_rounding():
    """on_clock: the nearest tick, never before the previous event nor T, rounded to the resolution;
    a zero clock leaves times alone."""
    t = np.array([5.0, 20.0, 24.0, 1.0, 0.2, 33.3, 7.4], "float32")
    prev = np.array([-3.0, 0.0, 0.0, 0.0, -1.0, 10.0, 0.0], "float32")
    clock = np.array([[16.6667, 3.0, 1.0, 0.0]] * 5 + [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], "float32")
    got = ops.convert_to_numpy(S.on_clock(t, prev, clock))
    # ticks at 3, 19.67, 36.33 ...: 5 -> 3; 20 -> 19.67 -> 20; 24 -> 19.67 -> 20; 1 -> 3 (not before T... -13.67 < 0);
    # 0.2 -> 3; no period: 33.3 -> 33; nothing: 7.4 stays
    np.testing.assert_allclose(got, [3.0, 20.0, 20.0, 3.0, 3.0, 33.0, 7.4], atol=1e-4)
    # not before the previous event: the next tick after it
    np.testing.assert_allclose(ops.convert_to_numpy(S.on_clock(np.array([21.0], "float32"), np.array([25.0], "float32"),
                                                               np.array([[16.6667, 3.0, 1.0, 0.0]], "float32"))), [36.0], atol=1e-4)
    # a click is only rounded unless the recorder's clicks tick too
    click = np.array([[16.6667, 3.0, 1.0, 0.0], [16.6667, 3.0, 1.0, 1.0]], "float32")
    got = ops.convert_to_numpy(S.on_clock(np.array([24.2, 24.2], "float32"), np.zeros(2, "float32"), click, np.array([False, False])))
    np.testing.assert_allclose(got, [24.0, 20.0], atol=1e-4)


def test_estimated_clock_of_recorders():
    from actiongen_keras.generation.clock import clock_at, estimate_clock, recorder_input

    rng = np.random.default_rng(0)
    ticks = np.sort(rng.choice(np.arange(3000), 1500, replace=False))
    frames = np.round(1234.4 + ticks * (1000.0 / 60.0))  # 60 Hz frames stamped in whole ms, some skipped
    clicks = np.round(frames[::50] + 7.3)  # clicks stamped when they happen, not on the frame
    period, phase, res, others = estimate_clock(frames, others_ms=clicks)
    assert abs(period - 1000.0 / 60.0) < 0.002 and res == 1.0 and others == 0.0
    assert estimate_clock(frames, others_ms=frames[::50])[3] == 1.0  # buttons stored per frame (osu!-like)
    on_tick = (frames - phase) / period
    assert np.abs(on_tick - np.round(on_tick)).max() * period < 0.6  # every stamp within rounding of a tick
    mouse = 17.0 + 8.0 * np.sort(rng.choice(np.arange(2000), 600, replace=False)) + rng.normal(0, 0.2, 600)  # 125 Hz, float stamps
    p2, ph2, r2, _ = estimate_clock(mouse)
    assert abs(p2 - 8.0) < 0.002 and r2 == 0.0 and abs(((17.0 - ph2 + 4.0) % 8.0) - 4.0) < 0.1
    cont = np.cumsum(rng.exponential(16.0, 800))
    assert estimate_clock(cont) == (0.0, 0.0, 0.0, 0.0)
    assert estimate_clock(np.round(cont)) == (0.0, 0.0, 1.0, 0.0)
    assert estimate_clock(frames[:10])[0] == 0.0  # too few events to tell
    assert clock_at((16.0, 5.0, 1.0, 0.0), 1000.0) == (16.0, (5.0 - 1000.0) % 16.0, 1.0, 0.0)
    # the sampler's per-window recorder row (rollouts and the SavedModel's requests): clock at T, then grid; off = zeros
    assert recorder_input((16.0, 5.0, 1.0, 1.0), 1.0, 1000.0) == (16.0, (5.0 - 1000.0) % 16.0, 1.0, 1.0, 1.0)
    assert recorder_input((16.0, 5.0, 1.0, 1.0), 1.0, 1000.0, use_clock=False, use_grid=False) == (0.0,) * 5


def test_rollout_keeps_the_context_clock(gen, tmp_path):
    """A context stamped on a 60 Hz whole-ms clock gives generated events on the same ticks; without
    the clock the times are continuous."""
    s = _session("ticks", "tia", seed=6)
    ev = s.events
    t = np.round(np.round((ev.t_ms - ev.t_ms[0]) / (1000.0 / 60.0)) * (1000.0 / 60.0) + 500.0)
    s = dataclasses.replace(s, events=dataclasses.replace(ev, t_ms=t))
    on = rollout(gen, s, seconds=SECONDS, seed=3)
    off = rollout(gen, s, seconds=SECONDS, seed=3, clock=False)
    c = on.extra["clock"]
    assert abs(c["period_ms"] - 1000.0 / 60.0) < 0.01 and c["resolution_ms"] == 1.0 and off.extra["clock"] is None
    g_on = generated_part_times(on)
    g_off = generated_part_times(off)
    assert len(g_on) > 10 and len(g_off) > 10
    assert np.all(g_on == np.round(g_on))
    moves = on.events.type[on.events.t_ms >= on.extra["generated_from_ms"]] == "move"
    k = (g_on[moves] - c["phase_ms"]) / c["period_ms"]
    assert np.abs(k - np.round(k)).max() * c["period_ms"] <= 0.5 + 1e-6
    assert np.mean(g_off != np.round(g_off)) > 0.5


def test_rollout_keeps_the_context_pixel_grid(gen):
    """A context recorded in whole pixels gives generated positions in whole pixels (the model
    reads them back as it read its training data); without the grid, and after a sub-pixel
    context, they are continuous."""
    s = _session("pixels", "pia", seed=6)
    ev = s.events
    s = dataclasses.replace(s, events=dataclasses.replace(ev, x=np.round(ev.x), y=np.round(ev.y)))
    on = rollout(gen, s, seconds=SECONDS, seed=3)
    off = rollout(gen, s, seconds=SECONDS, seed=3, pixel_grid=False)
    sub = rollout(gen, _session("sub", "pia", seed=6), seconds=SECONDS, seed=3)
    assert (on.extra["pixel_grid_px"], off.extra["pixel_grid_px"], sub.extra["pixel_grid_px"]) == (1.0, None, 0.0)

    def generated_xy(session):
        e = session.events
        new = e.t_ms >= session.extra["generated_from_ms"]  # every event is at a (sampled) cursor position
        return np.concatenate([e.x[new], e.y[new]])

    g_on, g_off, g_sub = generated_xy(on), generated_xy(off), generated_xy(sub)
    assert len(g_on) > 20 and len(g_off) > 20 and len(g_sub) > 20, (len(g_on), len(g_off), len(g_sub))
    np.testing.assert_array_equal(g_on, np.round(g_on))
    assert np.mean(g_off != np.round(g_off)) > 0.5 and np.mean(g_sub != np.round(g_sub)) > 0.5


def test_rollout_leaves_out_moves_that_stand_still(gen, monkeypatch):
    """Where the context's recorder reports moves on change, a generated move at the position of
    the event before it is left out of the stream and of the history the next window reads, whose
    intervals still run from each kept event to the one before it; ``moves_on_change=False``
    keeps the sampler's stream as it was. The sampler's output is bent so that every other event
    is such a move (an untrained model moves too little to test on)."""
    s = _session("still", "sia", seed=6)
    ev = s.events
    s = dataclasses.replace(s, events=dataclasses.replace(ev, x=np.round(ev.x), y=np.round(ev.y)))
    orig, calls = gen.sampler, []

    def bent(sampling):
        inner = orig(sampling)

        def call(window, temperature, seeds, carry, clock):
            out = {k: np.array(v) for k, v in inner(window, temperature, seeds, carry, clock).items()}
            out["event_type_id"][:] = F.MOVE
            out["xy"][:, 1::2] = out["xy"][:, 0::2][:, : out["xy"].shape[1] // 2]  # odd events stand still
            calls.append({"window": window, "last_t_rel": np.array(carry["last_t_rel"]), "out": out})
            return out

        return call

    monkeypatch.setattr(gen, "sampler", bent)
    kept = rollout(gen, s, seconds=SECONDS, seed=3, moves_on_change=False)
    n_kept_calls = len(calls)
    on = rollout(gen, s, seconds=SECONDS, seed=3)
    assert (kept.extra["moves_on_change"], on.extra["moves_on_change"]) == (False, True)

    def still_count(session):
        e = session.events
        new = np.flatnonzero(e.t_ms >= session.extra["generated_from_ms"])
        prev = new - 1  # the event before each (the context's last one before the first)
        return int(np.sum((e.type[new] == "move") & (e.x[new] == e.x[prev]) & (e.y[new] == e.y[prev]))), len(new)

    still_kept, n_kept = still_count(kept)
    still_on, n_on = still_count(on)
    assert still_kept >= 10 and still_on == 0, (still_kept, still_on)
    # the bent odd events within the span went (and any the model put on its last position itself)
    T0, end = on.extra["generated_from_ms"], on.extra["generated_from_ms"] + SECONDS * 1000.0
    bent_still = sum(int(np.sum((np.arange(int(c["out"]["count"][0])) % 2 == 1) & (T0 + k * 600.0 + c["out"]["t_ms"][0, : int(c["out"]["count"][0])] < end)))
                     for k, c in enumerate(calls[n_kept_calls:]))
    assert on.extra["still_moves_dropped"] >= bent_still > 0 and n_on >= 2
    # each later window reads intervals from kept event to kept event, and its last_t from the last kept one
    for c in calls[n_kept_calls + 1:]:
        w = c["window"]
        ok = w["hist_type"][0] != F.PAD
        before = w["hist_t_before"][0][ok]
        np.testing.assert_allclose(w["hist_dt"][0][ok][1:], before[:-1] - before[1:], atol=1e-3)
        np.testing.assert_allclose(c["last_t_rel"][0], -before[-1], atol=1e-3)


def test_moves_on_change_of_recorders():
    from actiongen_keras.generation.clock import MIN_EVENTS, STILL_MAX, moves_on_change, still_moves

    rng = np.random.default_rng(0)
    x, y = np.cumsum(rng.integers(1, 4, 500)), np.cumsum(rng.integers(-3, 4, 500))  # a browser: every move moves
    moves = np.full(500, "move", dtype=object)
    assert moves_on_change(moves, x, y)
    stand = rng.random(499) < STILL_MAX + 0.05  # a poller: the cursor repeated while it stands
    px, py = np.r_[x[0], np.where(stand, 0, np.diff(x))].cumsum(), np.r_[y[0], np.where(stand, 0, np.diff(y))].cumsum()
    assert not moves_on_change(moves, px, py)
    assert not moves_on_change(moves[:MIN_EVENTS], x[:MIN_EVENTS], y[:MIN_EVENTS])  # MIN_EVENTS - 1 compared: too few to tell
    # a move at the position of the event before it, whatever that event; a press there is no move;
    # the first compared with the position before the window, or not at all; NaN never stands still
    types = np.array([F.MOVE, F.MOVE, F.PRESS, F.MOVE, F.MOVE, F.MOVE])
    xy = np.array([[0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.1, 0.2], [0.3, 0.2], [np.nan, np.nan]])
    still, compared = still_moves(types, xy, [0.1, 0.2], F.MOVE)
    np.testing.assert_array_equal(still, [True, True, False, True, False, False])
    np.testing.assert_array_equal(compared, [True, True, False, True, True, False])
    still, compared = still_moves(types, xy, None, F.MOVE)
    np.testing.assert_array_equal(still, [False, True, False, True, False, False])
    assert not compared[0]
    # the same pixel a float32 step apart (x / width against the loop's grid): still within atol only
    assert not still_moves(types[:1], [[0.1 + 1e-8, 0.2]], [0.1, 0.2], F.MOVE)[0][0]
    assert still_moves(types[:1], [[0.1 + 1e-8, 0.2]], [0.1, 0.2], F.MOVE, atol=1e-6)[0][0]


def test_pixel_grid_of_recorders():
    from actiongen_keras.generation.clock import MIN_EVENTS, pixel_grid

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1920, 500), rng.uniform(0, 1080, 500)
    assert pixel_grid(np.round(x), np.round(y)) == 1.0
    assert pixel_grid(x, y) == 0.0  # sub-pixel (osu! replays)
    assert pixel_grid(np.round(x), y) == 0.0
    assert pixel_grid(np.r_[np.nan, np.round(x)], np.r_[3.5, np.round(y)]) == 1.0  # off-screen (NaN) samples say nothing
    assert pixel_grid(np.round(x[: MIN_EVENTS - 1]), np.round(y[: MIN_EVENTS - 1])) == 0.0  # too few to tell


def generated_part_times(session):
    return session.events.t_ms[session.events.t_ms >= session.extra["generated_from_ms"]]
