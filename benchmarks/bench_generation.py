"""Generation latency: milliseconds per 600 ms window (p50/p90) and events/s, greedy and sampled.

    taskset -c 0 python benchmarks/bench_generation.py [--run RUN_DIR] [--session SESSION_DIR]
        [--windows 40] [--backend tensorflow|jax|torch]

Single core: TensorFlow's intra/inter-op pools and XLA's CPU pool are set to one thread
here (``tf.config.threading`` + ``XLA_FLAGS``); run it under ``taskset -c 0`` as well so
NumPy and the Python around the steps share that core. Without ``--run`` it builds a
default-size model (``Config()``: d_model 64, 1 layer per block) with random weights on
synthetic sessions: latency depends on the size and on how many events a window holds,
not on the weights (a random model stops at EOS at random, so its events per window are
reported beside the times).

Rows marked "graph" (TensorFlow backend) run the window as the exported ``generate``
signature's loop, built in memory (one XLA-compiled TF function, the default of
``rollout`` there where top-k / top-p are off); the other rows step the decoder from Python.

Each window is an open-loop window of the session (its real history as context, the
whole 600 ms generated until EOS / time / max_actions); compile time (the first call of
each prefix bucket) is excluded and reported separately.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="RUN_DIR (default: a random default-size model)")
    p.add_argument("--session", help="a session folder for the contexts (default: first session of the run's kind / synthetic)")
    p.add_argument("--windows", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", help="KERAS_BACKEND (set before keras is imported)")
    p.add_argument("--no-jit", action="store_true")
    args = p.parse_args(argv)
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    elif keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    import numpy as np

    from actiongen_keras.data.windows import session_windows
    from actiongen_keras.generation.rollout import Generator
    from actiongen_keras.generation.sampler import SamplingConfig
    from actiongen_keras.recordings.session import read_session

    if args.run:
        gen = Generator(args.run, jit=not args.no_jit)
    else:
        gen = Generator(_random_run(), jit=not args.no_jit)
    if args.session:
        session, _ = read_session(args.session, "repair")
    else:
        from datasets.actiongen_sessions.make_dummy_data import synthetic_session

        session = synthetic_session("bench", "p", duration_s=40.0, rate_hz=60.0, seed=1, with_state=gen.preprocessing.num_numeric > 0)
        if gen.preprocessing.num_numeric == 0:
            session.game = None
    ins, _, _, T = session_windows(session, gen.preprocessing)
    n = min(args.windows, len(T))
    if n == 0:
        raise SystemExit("the session gives no windows")
    pick = np.linspace(0, len(T) - 1, n).astype(int)
    windows = [{k: v[i : i + 1] for k, v in ins.items()} for i in pick]
    t = time.perf_counter()
    gen.decoder.warmup(windows[0])
    compile_s = time.perf_counter() - t
    print(f"backend {keras.backend.backend()}, jit {not args.no_jit}, buckets {gen.decoder.buckets}, "
          f"parameters {gen.model.count_params():,}, compile (all buckets) {compile_s:.1f} s, threads: 1 (taskset -c 0 recommended)")
    print(f"{'mode':<22} {'p50 ms':>8} {'p90 ms':>8} {'mean ms':>8} {'events/win':>10} {'events/s':>9} {'ms/step':>8}")
    rows = [("greedy", SamplingConfig(temperature=0.0), False), ("sampled T=1", SamplingConfig(temperature=1.0), False),
            ("sampled T=1 top_p=.9", SamplingConfig(temperature=1.0, top_p=0.9), False)]
    if gen.use_graph:
        rows += [("greedy (graph)", SamplingConfig(temperature=0.0), True), ("sampled T=1 (graph)", SamplingConfig(temperature=1.0), True)]
        t = time.perf_counter()
        gen.generate_window(windows[0], np.random.default_rng(0), SamplingConfig(temperature=0.0), graph=True)
        print(f"graph path: trace + XLA compile {time.perf_counter() - t:.1f} s (excluded)")
    for name, sc, graph in rows:
        rng = np.random.default_rng(args.seed)
        times, events = [], []
        for w in windows:
            t = time.perf_counter()
            out = gen.generate_window(w, rng, sc, graph=graph)
            times.append((time.perf_counter() - t) * 1000.0)
            events.append(len(out))
        times, events = np.array(times), np.array(events)
        steps = events.sum() + n  # one more step per window (EOS or the event past the window)
        print(f"{name:<22} {np.percentile(times, 50):8.1f} {np.percentile(times, 90):8.1f} {times.mean():8.1f} "
              f"{events.mean():10.1f} {events.sum() / (times.sum() / 1000.0):9.0f} {times.sum() / steps:8.2f}")
    return 0


def _random_run():
    from actiongen_keras.config import Config
    from actiongen_keras.data.normalize import Preprocessing
    from actiongen_keras.data.vocab import Vocabulary
    from actiongen_keras.generation.incremental import RunFiles
    from actiongen_keras.models.builder import build_model
    from actiongen_keras.training.train import dataset_meta_from_preprocessing

    c = Config()
    prep = Preprocessing(data_config=c.data, key_vocab=Vocabulary(["a", "b", "c", "q"]), interval_quantiles_ms={"p50": 16.0})
    meta = dataset_meta_from_preprocessing(prep)
    return RunFiles(build_model(c, meta), c, prep, meta, None)


if __name__ == "__main__":
    sys.exit(main())
