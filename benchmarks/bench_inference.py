"""Batch-1 inference latency of a run, every way it can be served, pinned to one CPU core.

    python benchmarks/bench_inference.py RUN_DIR [--saved-model saved_models/<name>/<v>] [--reps 200]

Rows (each in its own subprocess, ``KERAS_BACKEND`` set, ``os.sched_setaffinity`` to one
core, one intra/inter-op thread):

* Keras eager (each backend) and compiled: TensorFlow ``tf.function(jit_compile=True)``,
  JAX ``jax.jit``, PyTorch (eager under ``no_grad``; torch.compile is not used): one
  forward pass = the whole model (teacher forcing over ``A + 1`` steps, what
  ``model.predict`` does);
* SavedModel ``serving_default`` (raw request -> next-event heads) and ``generate`` (the
  full 600 ms sampling loop, greedy and temperature 1; XLA-compiled, the default export) and,
  when the benchmark exports the run itself, ``generate`` of an ``--no-xla`` export;
* TFLite float32 and dynamic-range quantised (``next_event_encoded``, one thread).

Without ``--saved-model`` the run is exported to a temporary folder first. Prints the
machine (CPU model, load average), a Markdown table (p50 / p99 ms) and the sizes on disk.
Run it pinned (``taskset -c 0``) and more than once on a shared machine: the spread between
runs is the noise.
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


def _pin():
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass


def _time(fn, reps, warm=3):
    import numpy as np

    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000.0)
    return {"p50": float(np.percentile(ts, 50)), "p99": float(np.percentile(ts, 99))}


def _raw(prep, batch=1):
    from actiongen_keras.export.serving import warmup_windows

    return warmup_windows(prep, batch)


def _encoded(prep):
    """The model inputs (batch 1) of the benchmark window, encoded by the export graph's encoder."""
    import numpy as np
    import tensorflow as tf

    from actiongen_keras.export import graph as G

    raw = _raw(prep)
    enc = G.encode_raw({k: tf.constant(v if v.dtype != object else v.astype(bytes)) for k, v in raw.items()}, prep, G.make_tables(prep))
    enc = {k: v.numpy() for k, v in enc.items()}
    A1 = prep.data_config.max_actions + 1
    x = {k: enc[k] for k in prep.input_signature() if not k.startswith("dec_")}
    x["dec_type"] = np.zeros((1, A1), np.int32)
    x["dec_type"][0, 0] = 8
    for k in ("dec_button", "dec_key"):
        x[k] = np.zeros((1, A1), np.int32)
    x["dec_scroll"] = np.zeros((1, A1, 2), np.int32)
    x["dec_scroll"][0, 0] = 2
    for k in ("dec_dt", "dec_t_after"):
        x[k] = np.zeros((1, A1), np.float32)
    x["dec_xy"] = np.zeros((1, A1, 2), np.float32)
    x["dec_xy"][0, 0] = enc["bos_xy"][0]
    return x, enc


def worker_keras(run_dir, reps):
    import keras
    import numpy as np

    from actiongen_keras.export.saved_model import load_run

    backend = keras.backend.backend()
    model, prep = load_run(Path(run_dir) / "model.keras")
    x, _ = _encoded(prep)
    res = {}
    if backend == "torch":
        import torch

        torch.set_num_threads(1)
        xt = {k: keras.ops.convert_to_tensor(v) for k, v in x.items()}

        def eager():
            with torch.no_grad():
                return model(xt, training=False)

        res["Keras eager (torch)"] = _time(eager, reps // 4)
        res["Keras compiled (torch, no_grad)"] = res["Keras eager (torch)"]
        return res
    xt = {k: keras.ops.convert_to_tensor(v) for k, v in x.items()}
    res[f"Keras eager ({backend})"] = _time(lambda: model(xt, training=False), max(reps // 4, 10))
    if backend == "tensorflow":
        import tensorflow as tf

        f = tf.function(lambda d: model(d, training=False), jit_compile=True)
        res["Keras compiled (tensorflow, XLA)"] = _time(lambda: {k: v.numpy() for k, v in f(xt).items()}, reps)
    elif backend == "jax":
        import jax

        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        f = jax.jit(lambda tv, ntv, d: model.stateless_call(tv, ntv, d, training=False)[0])
        res["Keras compiled (jax, jit)"] = _time(lambda: jax.block_until_ready(f(tv, ntv, xt)), reps)
    return {k: v for k, v in res.items() if np.isfinite(v["p50"])}


def worker_export(run_dir, saved_model, reps, only_generate=False, tag=""):
    import numpy as np

    from actiongen_keras.data.normalize import Preprocessing
    from actiongen_keras.export import requests as R
    from actiongen_keras.export.saved_model import load_saved_model, read_export_meta
    from actiongen_keras.export.tflite import TFLiteRunner

    meta = read_export_meta(saved_model)
    prep = Preprocessing.from_dict(meta["preprocessing"])
    loaded = load_saved_model(saved_model)
    raw = _raw(prep)
    import tensorflow as tf

    def tensors(d, spec):
        return {k: tf.constant(v if spec[k][1] != "string" else v.astype(bytes), dtype=tf.as_dtype(spec[k][1])) for k, v in d.items()}

    sd = loaded.signatures["serving_default"]
    gen = loaded.signatures["generate"]
    xs = tensors(raw, R.signature_spec(meta, "serving_default"))
    graw = dict(raw, temperature=np.zeros(1, np.float32), seed=np.zeros(1, np.int64), recorder=np.zeros((1, 5), np.float32))
    xg = tensors(graw, R.signature_spec(meta, "generate"))
    res = {} if only_generate else {"SavedModel serving_default": _time(lambda: sd(**xs), reps)}
    n_events = int(gen(**xg)["count"].numpy()[0])
    res[f"SavedModel generate{tag} (greedy, {n_events} events)"] = _time(lambda: gen(**xg), max(reps // 2, 10))
    seeds = [dict(xg, temperature=tf.ones([1], tf.float32), seed=tf.constant([s], tf.int64)) for s in range(20)]
    counts = [int(gen(**x)["count"].numpy()[0]) for x in seeds]
    it = iter(range(10**9))
    res[f"SavedModel generate{tag} (temperature 1, 20 seeds, {np.mean(counts):.1f} events on average)"] = _time(
        lambda: gen(**seeds[next(it) % len(seeds)]), max(reps // 2, 20))
    if only_generate:
        return res
    _, enc = _encoded(prep)
    for name, f in (("TFLite float32", "f32"), ("TFLite dynamic-range int8", "dq")):
        path = Path(saved_model).parent / f"bench_{f}.tflite"
        if path.exists():
            r = TFLiteRunner(path, num_threads=1)
            feed = {k: enc[k] for k in r.input_details}
            res[name] = _time(lambda r=r, feed=feed: r(feed), reps)
    return res


def _subprocess(args, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false",
               CUDA_VISIBLE_DEVICES="")
    p = subprocess.run([sys.executable, __file__] + args, env=env, capture_output=True, text=True, check=False)
    for line in p.stdout.splitlines()[::-1]:
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"[{backend} {args[-1] if args else ''}] failed:\n{p.stderr[-2000:]}", file=sys.stderr)
    return {}


def _machine():
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{cpu}, {os.cpu_count()} cores, load average {load}"


def _size(p):
    p = Path(p)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--saved-model", help="an existing export (saved_models/<name>/<v>); default: export to a temp folder")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--worker", choices=["keras", "export", "export-generate"], help=argparse.SUPPRESS)
    ap.add_argument("--tag", default="", help=argparse.SUPPRESS)
    ap.add_argument("--backends", default="tensorflow,jax,torch")
    a = ap.parse_args(argv)
    if a.worker:
        _pin()
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        if a.worker == "keras":
            res = worker_keras(a.run_dir, a.reps)
        else:
            res = worker_export(a.run_dir, a.saved_model, a.reps, only_generate=a.worker == "export-generate", tag=a.tag)
        print("RESULT " + json.dumps(res))
        return 0
    tmp = None
    sm = a.saved_model
    sm_noxla = None
    if not sm:
        tmp = tempfile.mkdtemp(prefix="bench_export_")
        sm = str(Path(tmp) / "actiongen" / "1")
        sm_noxla = str(Path(tmp) / "actiongen_noxla" / "1")
        from actiongen_keras.export.saved_model import export_saved_model

        export_saved_model(Path(a.run_dir) / "model.keras", sm, log=lambda m: print(m, file=sys.stderr))
        export_saved_model(Path(a.run_dir) / "model.keras", sm_noxla, warmup=False, jit_compile=False,
                           log=lambda m: print(m, file=sys.stderr))
    from actiongen_keras.export.tflite import convert_tflite

    for f, q in (("f32", None), ("dq", "dynamic")):
        p = Path(sm).parent / f"bench_{f}.tflite"
        if not p.exists():
            convert_tflite(sm, p, quantize=q)
    rows = {}
    for b in a.backends.split(","):
        rows.update(_subprocess([a.run_dir, "--worker", "keras", "--reps", str(a.reps)], b))
    rows.update(_subprocess([a.run_dir, "--worker", "export", "--saved-model", sm, "--reps", str(a.reps)], "tensorflow"))
    if sm_noxla:
        rows.update(_subprocess([a.run_dir, "--worker", "export-generate", "--saved-model", sm_noxla, "--reps", str(a.reps),
                                 "--tag", " --no-xla"], "tensorflow"))
    print(f"machine: {_machine()}\n")
    print("| path (batch 1, one core) | p50 ms | p99 ms |\n|---|---:|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v['p50']:.2f} | {v['p99']:.2f} |")
    print("\n| artifact | size |\n|---|---:|")
    for name, p in (("model.keras", Path(a.run_dir) / "model.keras"), ("SavedModel version folder", sm),
                    ("TFLite float32", Path(sm).parent / "bench_f32.tflite"), ("TFLite dynamic-range", Path(sm).parent / "bench_dq.tflite")):
        print(f"| {name} | {_size(p) / 1024:.0f} KiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
