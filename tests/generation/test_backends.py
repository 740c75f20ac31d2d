"""The sampling loop and the decoder's key/value cache on JAX and PyTorch (subprocesses; the
default TensorFlow backend is tests/generation/test_generation.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, sys, numpy as np, keras
    from keras import ops
    from actiongen_keras.data import features as F
    from actiongen_keras.data.windows import session_windows
    from actiongen_keras.generation.sampler import CARRY, STOPS, SamplingConfig, WindowSampler
    from actiongen_keras.testing.generation import check_greedy_window, model_outputs
    from actiongen_keras.testing.runs import tiny_config, untrained_run
    from actiongen_keras.testing.batches import random_batch
    from actiongen_keras.models.steps import DEC_INPUTS, WINDOW_INPUTS, ModelSteps
    from actiongen_keras.testing.sessions import synthetic_session

    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    s = synthetic_session("ctx", "alice", source="osu", duration_s=20, rate_hz=30, seed=9, with_state=True, screen=(512, 384))
    run = untrained_run([s], tiny_config())

    # the key/value cache: step by step == the whole model, to 1e-5
    x, _, _ = random_batch(run.meta, 2, seed=4)
    full = model_outputs(run.model, x)
    steps = ModelSteps(run.model)
    encode, step = steps.encode, steps.step
    if sys.argv[1] == "jax":  # one compile each instead of one per operation (eager JAX)
        import jax
        encode, step = jax.jit(encode), jax.jit(step)
    ctx = encode({k: ops.convert_to_tensor(x[k]) for k in WINDOW_INPUTS if k != "bos_xy"})
    cache = steps.empty_cache(2)
    worst = 0.0
    for i in range(x["dec_type"].shape[1]):
        _, _, _, logits, cache = step(ctx, {k: ops.convert_to_tensor(x[k][:, i]) for k in DEC_INPUTS}, i, cache)
        got = ops.convert_to_numpy(logits)
        np.testing.assert_allclose(got, full["event_type"][:, i], atol=1e-5, rtol=1e-5)
        worst = max(worst, float(np.abs(got - full["event_type"][:, i]).max()))

    # greedy windows (compiled where the backend compiles) == the model's point predictions on
    # their prefix; every call here has a greedy and a sampled row, so PyTorch compiles one step
    # for all of them (it compiles a step per greedy/sampled mix of the batch, a cold Inductor
    # compile each) and the greedy row is checked beside a sampled one
    ins, _, _, _ = session_windows(s, run.preprocessing)
    sampler = WindowSampler(run.model, SamplingConfig())
    checked = 0
    for rows in ([2, 9], [14, 20], [5, 17], [11, 22], [9, 2], [20, 14], [17, 5], [22, 11]):
        w = {k: v[rows] for k, v in ins.items()}
        w["bos_xy"] = w["dec_xy"][:, 0]
        a, b = sampler(w, [0.0, 1.0], [5, 6]), sampler(w, [0.0, 1.0], [5, 6])
        checked += check_greedy_window(run.model, w, a, row=0)
        np.testing.assert_array_equal(a["event_type_id"], b["event_type_id"])
        np.testing.assert_array_equal(a["t_ms"], b["t_ms"])
    assert checked >= 8, checked

    # PyTorch: the compiled loop (start and step traced into ATen graphs, Inductor) == the eager
    # loop on the same seeds: greedy and sampled rows in one batch, a clock, then a carried
    # window; the traced graphs without Inductor run the eager loop's ATen ops: bit for bit
    compared = 0
    if sys.argv[1] == "torch":
        eager = WindowSampler(run.model, SamplingConfig(), jit=False)
        os.environ["ACTIONGEN_TORCH_INDUCTOR"] = "0"
        traced = WindowSampler(run.model, SamplingConfig())
        w = {k: v[[3, 12]] for k, v in ins.items()}
        w["bos_xy"] = w["dec_xy"][:, 0]
        clock = np.array([[1000.0 / 60.0, 3.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0, 0.0]], np.float32)
        first = [sampler(w, [0.0, 1.0], [7, 8], clock=clock), eager(w, [0.0, 1.0], [7, 8], clock=clock)]
        carry = {k: first[0][k] for k in CARRY}
        second = [sampler(w, [0.0, 1.0], [9, 10], carry=carry), eager(w, [0.0, 1.0], [9, 10], carry=carry)]
        for got, want in ((traced(w, [0.0, 1.0], [7, 8], clock=clock), first[1]), (traced(w, [0.0, 1.0], [9, 10], carry=carry), second[1])):
            for k in want:
                np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        del os.environ["ACTIONGEN_TORCH_INDUCTOR"]
        for fast, slow in (first, second):
            assert set(fast) == set(slow)
            for k in fast:
                if k == "xy":
                    np.testing.assert_allclose(fast[k], slow[k], rtol=1e-5, atol=1e-5, err_msg=k)
                elif np.issubdtype(slow[k].dtype, np.floating):
                    # times (ms): Inductor's fused (and, with more than one thread, parallel)
                    # kernels round float32 differently, and the timing and dwell quantiles
                    # (expm1 of an inverse logistic CDF) amplify it in their tails: up to 0.014 ms
                    # measured with two threads (an event at 37.867 against 37.879 ms), one
                    # seventieth of the recorders' 1 ms resolution; the bound is 0.05 ms
                    np.testing.assert_allclose(fast[k], slow[k], rtol=1e-3, atol=0.05, err_msg=k)
                else:
                    np.testing.assert_array_equal(fast[k], slow[k], err_msg=k)
            compared += int(slow["count"].sum())
        assert compared >= 4, compared
    print("OK", sys.argv[1], "cache max|diff|", worst, "greedy events checked", checked, "compiled == eager events", compared)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_sampling_loop_and_cache_on_backend(backend, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=root)
    p = subprocess.run([sys.executable, "-c", SCRIPT, backend], env=env, capture_output=True, text=True, cwd=root, timeout=900, check=False)
    assert p.returncode == 0 and "OK" in p.stdout, (p.stdout[-2000:], p.stderr[-4000:])
    print(p.stdout.strip().splitlines()[-1])
