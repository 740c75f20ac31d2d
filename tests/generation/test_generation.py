"""Sampler, incremental decoding, closed-loop rollout and `actiongen generate` on a tiny untrained model."""

import argparse

import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.data.windows import session_windows
from actiongen_keras.generation import sampler as S
from actiongen_keras.generation.cli import add_generation_parsers
from actiongen_keras.generation.incremental import IncrementalDecoder
from actiongen_keras.generation.rollout import Generator, rollout
from actiongen_keras.generation.testing import tiny_config, untrained_run
from actiongen_keras.layers.context_aware_generator import next_step_types
from actiongen_keras.layers.multi_scale_timing import scale_ranges, timing_quantile
from actiongen_keras.models.dummy_data import random_batch
from actiongen_keras.recordings.session import read_session, write_session
from datasets.actiongen_sessions.make_dummy_data import synthetic_session

SECONDS = 3.0


def _session(sid="ctx", subject="alice", seed=1):
    return synthetic_session(sid, subject, source="osu", duration_s=20, rate_hz=30, seed=seed, with_state=True, screen=(512, 384))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    sessions = [_session(), _session("other", "bob", seed=2)]
    return untrained_run(sessions, tiny_config(), run_dir=root / "run", time_feedback=0.1)


@pytest.fixture(scope="module")
def gen(run):
    return Generator(run)


# --------------------------------------------------------------------------- sampler


def test_top_k_1_and_greedy_are_the_argmax():
    rng = np.random.default_rng(0)
    for _ in range(50):
        logits = rng.normal(0, 3, 8)
        allowed = rng.random(8) < 0.7
        allowed[rng.integers(8)] = True
        best = int(np.argmax(np.where(allowed, logits, -np.inf)))
        assert S.sample_categorical(logits, rng, temperature=0.0, allowed=allowed) == best
        for t in (0.5, 1.0, 3.0):
            assert S.sample_categorical(logits, np.random.default_rng(int(rng.integers(1 << 30))), temperature=t, top_k=1, allowed=allowed) == best


def test_correlated_position_noise_keeps_the_marginal():
    rng = np.random.default_rng(0)
    z, zs = None, []
    for _ in range(20000):
        z = S.correlated_normal(z, 0.9, rng)
        zs.append(z)
    zs = np.array(zs)
    np.testing.assert_allclose(zs.std(axis=0), 1.0, atol=0.05)  # each draw still N(0, 1)
    np.testing.assert_allclose(zs.mean(axis=0), 0.0, atol=0.1)
    lag1 = [np.corrcoef(zs[1:, k], zs[:-1, k])[0, 1] for k in (0, 1)]
    np.testing.assert_allclose(lag1, 0.9, atol=0.02)
    # sample_xy with a given z is the chosen component's mu + sigma * z (one component here)
    params = np.array([0.0, 0.25, 0.5, 0.0, 0.0])
    from actiongen_keras.layers.context_aware_generator import XY_SIGMA_FLOOR, XY_SIGMA_SHIFT

    sig = XY_SIGMA_FLOOR + np.logaddexp(0.0, -XY_SIGMA_SHIFT)
    np.testing.assert_allclose(S.sample_xy(params, 1, rng, 1.0, z=[1.0, -0.5]), [0.25 + sig, 0.5 - 0.5 * sig])
    with pytest.raises(ValueError, match="xy_noise_corr"):
        S.SamplingConfig(xy_noise_corr=1.0)


def test_masks_top_k_top_p_and_seed():
    logits = np.array([0.0, 2.0, 1.0, 0.5, -1.0])
    allowed = np.array([True, False, True, True, True])
    draws = [S.sample_categorical(logits, np.random.default_rng(i), 1.0, allowed=allowed) for i in range(500)]
    assert 1 not in draws and set(draws) == {0, 2, 3, 4}
    p = S.filtered_probs(logits, 1.0, top_k=2)
    assert np.count_nonzero(p) == 2 and p[1] > p[2] > 0
    p = S.filtered_probs(logits, 1.0, top_p=0.5)  # softmax: [.08,.56,.21,.13,.03] -> the first class alone passes 0.5
    assert np.flatnonzero(p).tolist() == [1]
    a = [S.sample_categorical(logits, r, 1.0) for r in [np.random.default_rng(7)] * 1 for _ in range(20)]
    r = np.random.default_rng(7)
    b = [S.sample_categorical(logits, r, 1.0) for _ in range(20)]
    assert a == b


def test_entropy_of_sampled_types_grows_with_temperature():
    logits = np.array([-9.0, 3.0, 1.0, 0.5, -1.0, 0.0, 0.2, 1.5])
    ent = []
    for t in (0.3, 1.0, 2.0):
        rng = np.random.default_rng(0)
        draws = np.array([S.sample_categorical(logits, rng, t) for _ in range(3000)])
        ent.append(S.entropy(np.bincount(draws, minlength=8) / len(draws)))
        assert abs(ent[-1] - S.entropy(S.filtered_probs(logits, t))) < 0.05
    assert ent[0] + 0.3 < ent[1] and ent[1] + 0.2 < ent[2]


def test_timing_median_matches_timing_quantile():
    rng = np.random.default_rng(3)
    params = rng.normal(0, 1.5, (6, 3 + 9 * 3))
    b = (40.0, 250.0)
    # locations inside each scale's range, as MultiScaleTimingProcessor emits them
    rest = params[:, 3:].reshape(6, 3, 3, 3)
    r = np.array(scale_ranges(b, 60000.0))
    rest[:, :, 1] = r[None, :, :1] + (r[None, :, 1:] - r[None, :, :1]) / (1 + np.exp(-rest[:, :, 1]))
    params = np.concatenate([params[:, :3], rest.reshape(6, -1)], 1).astype("float32")
    ref = ops.convert_to_numpy(timing_quantile(ops.convert_to_tensor(params), 0.5, b, 3, 60000.0, iterations=50))
    got = np.array([S.timing_median_ms(p, b, 3, 60000.0) for p in params])
    np.testing.assert_allclose(got, ref, rtol=2e-3, atol=1e-3)


# --------------------------------------------------------------------------- incremental decoding


@pytest.mark.parametrize("jit", [True, False])
def test_incremental_equals_full_model(run, jit):
    x, _, _ = random_batch(run.meta, 3, seed=4)
    dec = IncrementalDecoder(run.model, buckets=(8,), jit=jit)
    full = dec.full_outputs(x)
    nxt = ops.convert_to_numpy(next_step_types(ops.convert_to_tensor(x["dec_type"])))
    ctx = dec.encode(x)
    rows = np.arange(3)
    for i in range(dec.A1):
        out = dec.step(ctx, x, i)
        np.testing.assert_allclose(out["event_type"], full["event_type"][:, i], atol=2e-4, rtol=1e-4)
        for head in ("timing", "xy", "button", "key", "scroll"):
            # the attribute heads are conditioned on the step's own type: compare that row
            np.testing.assert_allclose(out[head][rows, nxt[:, i]], full[head][:, i], atol=2e-4, rtol=1e-4, err_msg=f"{head} step {i}")


def _window(gen, session, k=3):
    ins, _, _, _T = session_windows(session, gen.preprocessing)
    return {n: v[k : k + 1] for n, v in ins.items()}


def test_generate_window_seeded_and_greedy_deterministic(gen):
    w = _window(gen, _session())
    a = gen.generate_window(w, np.random.default_rng(5), S.SamplingConfig(temperature=1.0))
    b = gen.generate_window(w, np.random.default_rng(5), S.SamplingConfig(temperature=1.0))
    c = gen.generate_window(w, np.random.default_rng(6), S.SamplingConfig(temperature=1.0))
    assert len(a) == len(b) and np.array_equal(a.type, b.type) and np.array_equal(a.t_rel, b.t_rel) and np.array_equal(a.xy, b.xy)
    assert not (len(a) == len(c) and np.array_equal(a.t_rel, c.t_rel))
    g1 = gen.generate_window(w, np.random.default_rng(1), S.SamplingConfig(temperature=0.0))
    g2 = gen.generate_window(w, np.random.default_rng(2), S.SamplingConfig(temperature=0.0))
    assert np.array_equal(g1.type, g2.type) and np.array_equal(g1.t_rel, g2.t_rel) and np.array_equal(g1.xy, g2.xy)
    for ev in (a, c, g1):
        assert np.all(np.diff(ev.t_rel) >= 0) and np.all(ev.t_rel >= 0) and np.all(ev.t_rel < 600.0)
        assert np.all(ev.type != F.PAD) and len(ev) <= gen.decoder.A1 - 1


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
    assert out.extra["model"] == run.path
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
    real_after = {(round(t, 3), ty, round(x, 3), round(y, 3)) for t, ty, x, y in zip(real.events.t_ms, real.events.type, real.events.x, real.events.y) if t >= T0}
    assert not any((round(t, 3), ty, round(x, 3), round(y, 3)) in real_after for t, ty, x, y in zip(gen_ev.t_ms, gen_ev.type, gen_ev.x, gen_ev.y))
    assert set(gen_ev.type) <= set(F.EVENT_TYPES[1:7])
    assert np.all((gen_ev.x >= 0) & (gen_ev.x <= 512) & (gen_ev.y >= 0) & (gen_ev.y <= 384))
    assert set(gen_ev.key[gen_ev.type == "key_down"]) <= set(run.preprocessing.key_vocab.values)
    # presses/releases and key downs/ups pair up (the context pairs them too)
    assert _held_violations(ev) == 0
    # non-moves sit where the cursor is (the position of the event before them)
    nonmove = np.flatnonzero(ev.type != "move")
    nonmove = nonmove[(nonmove > 0) & (ev.t_ms[nonmove] >= T0)]
    assert len(nonmove) and np.array_equal(ev.x[nonmove], ev.x[nonmove - 1]) and np.array_equal(ev.y[nonmove], ev.y[nonmove - 1])
    # state: the real rows up to the end, same columns
    end = T0 + SECONDS * 1000.0
    keep = real.state.t_ms <= end
    np.testing.assert_allclose(back.state.t_ms, real.state.t_ms[keep])
    assert back.state_columns == real.state_columns
    np.testing.assert_allclose(back.state.columns["obj_dt_ms"], real.state.columns["obj_dt_ms"][keep])
    assert list(back.state.columns["obj_kind"]) == list(real.state.columns["obj_kind"][keep])
    # same seed, same session; greedy twice, same session
    again = rollout(gen, real, seconds=SECONDS, seed=3)
    assert len(again.events) == len(out.events) and np.array_equal(again.events.t_ms, out.events.t_ms)
    g1 = rollout(gen, real, seconds=1.2, seed=1, temperature=0.0)
    g2 = rollout(gen, real, seconds=1.2, seed=2, temperature=0.0)
    assert np.array_equal(g1.events.t_ms, g2.events.t_ms) and np.array_equal(g1.events.x, g2.events.x)


def test_greedy_rollout_graph_path_equals_python_path(gen):
    """TensorFlow: the in-graph window loop (``generate``'s, built in memory) == the Python step
    loop, greedy, over a short closed-loop rollout: same events, times / positions within
    0.05 ms / px. (Short, and not exact: float noise of the two compiled forward passes, ~1e-5
    relative, grows as generated events feed back into the history; the Python loop with and
    without XLA differs by as much.)"""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the in-graph window loop is the TensorFlow backend's")
    real = _session()
    assert gen.use_graph and gen.graph_supports(S.SamplingConfig(temperature=0.0))
    assert not gen.graph_supports(S.SamplingConfig(temperature=1.0, top_p=0.9))
    assert not gen.graph_supports(S.SamplingConfig(temperature=1.0, top_k=3))
    py = rollout(gen, real, seconds=1.2, seed=0, temperature=0.0, graph=False)
    gr = rollout(gen, real, seconds=1.2, seed=0, temperature=0.0, graph=True)
    assert rollout(gen, real, seconds=1.2, seed=0, temperature=0.0).events.t_ms.tolist() == gr.events.t_ms.tolist()  # default: graph
    a, b = py.events, gr.events
    assert len(a) == len(b) and (a.t_ms >= py.extra["generated_from_ms"]).sum() > 5
    assert list(a.type) == list(b.type) and list(a.button) == list(b.button) and list(a.key) == list(b.key)
    np.testing.assert_array_equal(a.scroll_dx, b.scroll_dx)
    np.testing.assert_array_equal(a.scroll_dy, b.scroll_dy)
    for col in ("t_ms", "x", "y"):
        np.testing.assert_allclose(getattr(b, col), getattr(a, col), atol=0.05, rtol=0, err_msg=col)
    assert py.extra == gr.extra and py.session_id == gr.session_id and py.screen == gr.screen
    # sampled through the graph: seeded (a per-window seed from the rollout's generator), within the rules
    s1 = rollout(gen, real, seconds=1.2, seed=4, temperature=1.0)
    s2 = rollout(gen, real, seconds=1.2, seed=4, temperature=1.0)
    assert np.array_equal(s1.events.t_ms, s2.events.t_ms) and _held_violations(s1.events) == 0
    assert set(s1.extra) == set(py.extra) and sum(s1.extra["window_stops"].values()) == 2
    # correlated position noise runs the Python loop, seeded
    assert not gen.graph_supports(S.SamplingConfig(temperature=1.0, xy_noise_corr=0.9))
    c1 = rollout(gen, real, seconds=1.2, seed=4, temperature=1.0, xy_noise_corr=0.9)
    c2 = rollout(gen, real, seconds=1.2, seed=4, temperature=1.0, xy_noise_corr=0.9)
    assert np.array_equal(c1.events.x, c2.events.x) and c1.extra["xy_noise_corr"] == 0.9 and _held_violations(c1.events) == 0


def test_releases_follow_presses_of_the_same_button(gen):
    """Many sampled windows at a high temperature: the masks keep every release/key_up paired."""
    real = _session("busy", "carol", seed=9)
    out = rollout(gen, real, seconds=9.0, seed=11, temperature=1.3)
    ev = out.events.take(out.events.t_ms >= out.extra["generated_from_ms"])
    assert len(ev) > 20, out.extra["window_stops"]
    assert {"press", "release", "key_down", "key_up"} <= set(ev.type)  # the check below has something to check
    assert _held_violations(out.events) == 0


def test_cli_generate_writes_a_session(run, tmp_path, capsys):
    real = _session()
    write_session(real, tmp_path / "ctx")
    p = argparse.ArgumentParser()
    p.add_argument("-q", "--quiet", action="store_true")
    add_generation_parsers(p.add_subparsers(dest="command"))
    args = p.parse_args(["-q", "generate", "--model", run.path, "--context", str(tmp_path / "ctx"), "--seconds", "1.2", "--out",
                         str(tmp_path / "out"), "--seed", "4", "--temperature", "0.8", "--top-k", "5", "--top-p", "0.95"])
    assert args.func(args) == 0
    s, _ = read_session(tmp_path / "out", "strict")
    assert s.source == "generated" and s.extra["context_session_id"] == "ctx" and s.extra["top_k"] == 5
    assert (s.events.t_ms >= s.extra["generated_from_ms"]).any()
    assert "generated events" in capsys.readouterr().out
