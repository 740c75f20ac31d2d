"""Generation speed: ms per 600 ms window (p50/p90), events/s and the real-time factor, per backend and batch size.

    taskset -c 0 python benchmarks/bench_generation.py [--run RUN_DIR] [--session SESSION_DIR]
        [--backends tensorflow,jax,torch] [--batch-sizes 1,16,64] [--windows 30] [--xy-top-p 1] [--json FILE]

Each backend runs in its own process (Keras fixes the backend at import). One core:
TensorFlow's and XLA's thread pools and PyTorch's are set to one thread; run it under
``taskset -c 0`` too so NumPy and Python share that core. Without ``--run`` it builds a
default-size model (``Config()``: d_model 64, one layer per block) with random weights on a
synthetic osu!-like session whose timing head is biased to its fast scale (see
``testing.runs.untrained_run``); speed depends on the size and on the events per
window (reported), not on the weights.

What is timed is :class:`~actiongen_keras.generation.sampler.WindowSampler` (the one
sampling loop: encode the window once, then one cached decoder step per event) on a batch
of ``B`` windows of the session with their real histories (open loop), sampled at
temperature 1 (``--xy-top-p``: the position nucleus, ``SamplingConfig.xy_top_p``);
compilation (the first call of each batch size) is reported apart. The
real-time factor is 600 ms divided by the time one call takes: how many times faster than
real time a batch of ``B`` agents is generated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _one_backend(args):
    os.environ["KERAS_BACKEND"] = args.backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import keras
    import numpy as np

    if args.backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    elif args.backend == "torch":
        import torch

        torch.set_num_threads(1)
    from actiongen_keras.data.windows import session_windows
    from actiongen_keras.generation.rollout import Generator
    from actiongen_keras.generation.sampler import SamplingConfig
    from actiongen_keras.recordings.session import find_sessions, read_session

    assert keras.backend.backend() == args.backend
    if args.run:
        gen = Generator(args.run)
    else:
        from actiongen_keras.config import Config
        from actiongen_keras.testing.runs import untrained_run

        session = _synthetic()
        gen = Generator(untrained_run([session], Config()))
    if args.session:
        session, _ = read_session(find_sessions(args.session)[0], "repair")
    elif args.run:
        raise SystemExit("--run needs --session (a session of the run's kind)")
    ins, _, _, _ = session_windows(session, gen.preprocessing)
    ins["bos_xy"] = ins["dec_xy"][:, 0]
    n_all = len(ins["hist_type"])
    sampler = gen.sampler(SamplingConfig(xy_top_p=args.xy_top_p))
    rows = []
    for B in args.batch_sizes:
        pick = lambda k, B=B: {name: v[(np.arange(B) + k * B) % n_all] for name, v in ins.items()}
        t = time.perf_counter()
        sampler(pick(0), 1.0, np.arange(B))
        compile_s = time.perf_counter() - t
        times, events = [], []
        for k in range(args.windows):
            w = pick(k + 1)
            t = time.perf_counter()
            out = sampler(w, 1.0, np.arange(B) + 1000 * k)
            times.append((time.perf_counter() - t) * 1000.0)
            events.append(int(out["count"].sum()))
        times, events = np.array(times), np.array(events)
        rows.append({"backend": args.backend, "batch": B, "p50_ms": float(np.percentile(times, 50)), "p90_ms": float(np.percentile(times, 90)),
                     "events_per_window": float(events.mean() / B), "events_per_s": float(events.sum() / (times.sum() / 1000.0)),
                     "realtime_factor": float(600.0 / np.percentile(times, 50)), "compile_s": compile_s})
    print("ROWS " + json.dumps(rows))


def _synthetic():
    from actiongen_keras.testing.sessions import synthetic_session

    return synthetic_session("bench", "bench", source="osu", duration_s=60, rate_hz=60, seed=0, with_state=True, screen=(512, 384))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="RUN_DIR (default: a random default-size model)")
    p.add_argument("--session", help="a session folder for the windows (needed with --run)")
    p.add_argument("--backends", default="tensorflow,jax,torch")
    p.add_argument("--batch-sizes", default="1,16,64")
    p.add_argument("--windows", type=int, default=30, help="timed calls per batch size")
    p.add_argument("--xy-top-p", type=float, default=1.0, help="nucleus over the position mixture (default 1: off)")
    p.add_argument("--json", help="also write the rows to this file")
    p.add_argument("--backend", help=argparse.SUPPRESS)  # the per-backend child process
    args = p.parse_args(argv)
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",")]
    if args.backend:
        return _one_backend(args)
    rows = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, __file__, "--backend", backend, "--batch-sizes", ",".join(map(str, args.batch_sizes)), "--windows",
               str(args.windows), "--xy-top-p", str(args.xy_top_p)] + (["--run", args.run] if args.run else []) + (["--session", args.session] if args.session else [])
        p_ = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = [ln for ln in p_.stdout.splitlines() if ln.startswith("ROWS ")]
        if p_.returncode or not line:
            print(f"{backend}: failed\n{p_.stderr[-2000:]}", file=sys.stderr)
            continue
        rows += json.loads(line[-1][5:])
    print(f"{'backend':<11} {'batch':>5} {'p50 ms':>8} {'p90 ms':>8} {'events/win':>10} {'events/s':>9} {'x realtime':>10} {'compile s':>9}")
    for r in rows:
        print(f"{r['backend']:<11} {r['batch']:>5} {r['p50_ms']:8.1f} {r['p90_ms']:8.1f} {r['events_per_window']:10.1f} "
              f"{r['events_per_s']:9.0f} {r['realtime_factor']:10.1f} {r['compile_s']:9.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
