"""Training throughput of the default model, per backend, and the input pipeline beside it.

    python benchmarks/bench_train.py [--data DATA_DIR] [--steps 20] [--repeats 2] [--json OUT.json]
                                     [--default-only] [--self-feed P [--self-feed-recovery R]]

Without ``--data`` the embedded sample (``datasets/sample``) is imported and built into a
temporary DATA_DIR first. Each backend runs in its own subprocess (``KERAS_BACKEND`` is fixed
at import). For every configuration -- backend x ``jit_compile`` (XLA on TensorFlow, ``jax.jit``,
``torch.compile``) x batch size x precision -- it builds the default model, compiles it with the
package's losses (:func:`~actiongen_keras.training.train.compile_model`), runs ``--warmup`` steps
(tracing/compiling), then times ``--steps`` training steps ``--repeats`` times over a cached,
repeated set of training batches and keeps the best repeat (windows/s = steps x batch / seconds). The
input is decoded once and held in memory (:func:`cached_batches`) so that only the training step is measured; the tf.data pipeline is measured on its own,
uncached and shuffled, as ``make_dataset`` feeds ``fit`` (one full pass, ``--repeats`` times).

``--intra-op-threads N`` sets TensorFlow's threads per op (``train.intra_op_threads``, default:
the config's, 1; 0 = TensorFlow's choice; on the JAX and PyTorch backends it reaches only the
input pipeline). ``--default-only`` measures only the configuration ``actiongen train`` uses by default (the
config's ``jit_compile``, float32, batch 64); ``--self-feed P`` trains self-fed
(``train.self_feed``, :mod:`~actiongen_keras.training.self_feed`: its first pass is the cost), with
``--self-feed-recovery R`` (``train.self_feed_recovery``) below 1 for fading deviations.

Prints a Markdown table and writes the rows as JSON. On a shared machine run it more than once:
the spread between runs is the noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from actiongen_keras.config import TrainConfig  # noqa: E402  (light: imports no backend)

BATCHES = (32, 64, 128)
# (jit_compile, precision, batches) per backend; jit off on JAX is eager op-by-op (very slow).
CONFIGS = {
    "tensorflow": [(False, "float32", BATCHES), (True, "float32", BATCHES), (False, "mixed_bfloat16", (64,)),
                   (True, "mixed_bfloat16", (64,))],
    "jax": [(True, "float32", BATCHES), (False, "float32", (64,)), (True, "mixed_bfloat16", (64,))],
    "torch": [(False, "float32", BATCHES), (True, "float32", (64,)), (False, "mixed_bfloat16", (64,))],
}


def build_sample(out):
    """Import the embedded sample and build it into ``out/data``; returns DATA_DIR."""
    from actiongen_keras.data.build import build_dataset
    from actiongen_keras.recordings.importers import osu, sapimouse

    sample = ROOT / "datasets" / "sample"
    osu.import_folder(sample / "osu", out / "sessions" / "osu", repair=True, progress=False)
    sapimouse.import_folder(sample / "sapimouse", out / "sessions" / "sapimouse", repair=False, progress=False)
    build_dataset(out / "sessions", out / "data", progress=False)
    return out / "data"


def pipeline_rate(data_dir, batch, repeats):
    """Windows/s of one uncached, shuffled pass of ``make_dataset`` (best of ``repeats``)."""
    from actiongen_keras.data.pipeline import make_dataset

    best = 0.0
    for r in range(repeats):
        ds = make_dataset(data_dir, "train", batch_size=batch, shuffle=True, seed=r)
        t = time.perf_counter()
        n = sum(int(y["seq_len"].shape[0]) for _, y, _ in ds)
        best = max(best, n / (time.perf_counter() - t))
    return best


DEFAULT_CONFIG = (TrainConfig().jit_compile, "float32", (TrainConfig().batch_size,))
"""``actiongen train``'s defaults (``TrainConfig``'s ``jit_compile`` and batch size)."""


CACHED_BATCHES = 16
"""Distinct training batches the timed steps cycle through."""


def cached_batches(data_dir, batch, n):
    """The first ``n`` shuffled training batches, decoded once and then repeated from memory.

    Each ``fit`` call opens a new iterator. Over ``make_dataset(..., cache=True, repeat=True)``
    that iterator read and parsed the TFRecords again and refilled the 4,096-window shuffle
    buffer first (a cache that no iterator has read to its end is discarded, and the timed
    steps never reach the end of the training split): on one core that was several seconds
    of every 20 timed steps. ``take(n).cache()`` read once to its end holds the batches."""
    from actiongen_keras.data.pipeline import make_dataset

    ds = make_dataset(data_dir, "train", batch, shuffle=True, seed=0, drop_remainder=True).take(n).cache()
    for _ in ds:  # one full pass completes the cache
        pass
    return ds.repeat()


def measure(data_dir, jit, precision, batch, steps, warmup, repeats, self_feed=0.0, recovery=1.0):
    """Best-of-``repeats`` training windows/s of one configuration (this process's backend)."""
    import keras

    from actiongen_keras.config import Config
    from actiongen_keras.data.normalize import load_preprocessing
    from actiongen_keras.models import build_model
    from actiongen_keras.models.dataset_meta import DatasetMeta
    from actiongen_keras.training.self_feed import self_feeding
    from actiongen_keras.training.train import compile_model

    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(0)
    config = Config()
    config.train.jit_compile = jit
    config.train.self_feed = self_feed
    config.train.self_feed_recovery = recovery
    prep = load_preprocessing(data_dir)
    config.data = prep.data_config
    meta = DatasetMeta.from_preprocessing(prep)
    model = compile_model(self_feeding(build_model(config, meta), config), config, meta)
    ds = cached_batches(data_dir, batch, CACHED_BATCHES)
    t = time.perf_counter()
    hist = model.fit(ds, steps_per_epoch=warmup, epochs=1, shuffle=False, verbose=0)
    warm_s = time.perf_counter() - t
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        hist = model.fit(ds, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        best = max(best, steps * batch / (time.perf_counter() - t))
    keras.mixed_precision.set_global_policy("float32")
    return {"windows_per_s": best, "warmup_s": warm_s, "loss": float(hist.history["loss"][-1])}


def worker(args):
    """Measure every configuration of ``args.backend``; one JSON line per row on stdout."""
    from actiongen_keras.training.threads import set_intra_op_threads

    set_intra_op_threads(args.intra_op_threads, log=lambda m: print(m, file=sys.stderr))  # before TensorFlow starts
    for jit, precision, batches in [DEFAULT_CONFIG] if args.default_only else CONFIGS[args.backend]:
        for batch in batches:
            row = {"backend": args.backend, "jit_compile": jit, "precision": precision, "batch": batch, "self_feed": args.self_feed,
                   "self_feed_recovery": args.self_feed_recovery, "intra_op_threads": args.intra_op_threads}
            try:
                row.update(measure(args.data, jit, precision, batch, args.steps, args.warmup, args.repeats, args.self_feed,
                                   args.self_feed_recovery))
            except Exception as e:  # a configuration the backend cannot run is a row, not a crash
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            print("ROW " + json.dumps(row), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="DATA_DIR (default: the embedded sample, built into a temporary folder)")
    ap.add_argument("--backends", default="tensorflow,jax,torch")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (tracing, compiling)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--default-only", action="store_true", help="only the configuration actiongen train uses by default")
    ap.add_argument("--self-feed", type=float, default=0.0, help="train.self_feed of the measured model (default 0)")
    ap.add_argument("--self-feed-recovery", type=float, default=1.0, help="train.self_feed_recovery of the measured model (default 1)")
    ap.add_argument("--intra-op-threads", type=int, default=TrainConfig().intra_op_threads,
                    help="TensorFlow threads per op (train.intra_op_threads; default the config's; 0 = TensorFlow's choice)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)

    data = Path(args.data) if args.data else build_sample(Path(tempfile.mkdtemp(prefix="bench_train_")))
    rows = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, __file__, "--worker", "--backend", backend, "--data", str(data), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--self-feed", str(args.self_feed),
               "--self-feed-recovery", str(args.self_feed_recovery), "--intra-op-threads", str(args.intra_op_threads)]
        cmd += ["--default-only"] if args.default_only else []
        env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT))
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
            for line in proc.stdout:  # rows as they come: a long run shows its progress
                if not line.startswith("ROW "):
                    continue
                r = json.loads(line[4:])
                rows.append(r)
                print(f"  {r['backend']:<10} jit={r['jit_compile']!s:<5} {r['precision']:<14} batch {r['batch']:>3}: "
                      + (f"{r['windows_per_s']:7.0f} windows/s" if "error" not in r else r["error"]), flush=True)
        if proc.returncode != 0:
            print(f"{backend}: exited {proc.returncode}", file=sys.stderr)
    pipe = pipeline_rate(data, 64, args.repeats)
    ok = [r for r in rows if "error" not in r]
    fastest = max(ok, key=lambda r: r["windows_per_s"]) if ok else None

    print("\n| backend | jit_compile | precision | batch | TF threads per op | training windows/s | first steps s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        rate = f"{r['windows_per_s']:,.0f}" if "error" not in r else "failed: " + r["error"]
        print(f"| {r['backend']} | {r['jit_compile']} | {r['precision']} | {r['batch']} | {r['intra_op_threads'] or 'auto'} | {rate} "
              f"| {r.get('warmup_s', 0):.1f} |")
    print(f"\ntf.data pipeline (make_dataset, batch 64, shuffled, uncached): {pipe:,.0f} windows/s")
    if fastest:
        print(f"fastest training step: {fastest['backend']} jit={fastest['jit_compile']} {fastest['precision']} "
              f"batch {fastest['batch']}: {fastest['windows_per_s']:,.0f} windows/s; pipeline / fastest step = "
              f"{pipe / fastest['windows_per_s']:.1f}x")
    result = {"rows": rows, "pipeline_windows_per_s": pipe, "data": str(data), "steps": args.steps, "repeats": args.repeats,
              "load_average": os.getloadavg()}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
