"""Data pipeline throughput: windows/s for building (session -> windows) and iterating.

    python benchmarks/bench_data.py [SESSIONS_DIR] [--sources osu] [--batch 64] [--out DIR] [--beam-workers 1,2]

Without SESSIONS_DIR it uses /tmp/osu_sessions when present (the osu! importer's output
of /work/shared/data/osu), else synthetic sessions. It prints:

* ``window``: NumPy windowing (tokenize + vectorised cut) of every session, windows/s;
* ``build``: the whole ``build_dataset`` (read, split, fit, window, TFDS write), windows/s;
* ``beam N``: the same build on Apache Beam's DirectRunner with N local workers (1: in this
  process; more: worker processes), windows/s, and whether its per-split checksums of the
  serialised examples equal the single-process build's (``--beam-workers``, default 1,2;
  ``--beam-workers ''`` skips it);
* ``iterate``: one pass over ``make_dataset(..., "train", batch_size=64)``, windows/s
  (the target is >= 5,000 windows/s), plus a second, cached pass.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actiongen_keras.config import DataConfig  # noqa: E402
from actiongen_keras.data.normalize import fit_preprocessing  # noqa: E402
from actiongen_keras.data.windows import check_session, windows_from_sessions  # noqa: E402
from actiongen_keras.recordings.session import iter_sessions, write_session  # noqa: E402


def synthetic(out_dir, n=12, seconds=240):
    from actiongen_keras.testing.sessions import synthetic_session

    for i in range(n):
        s = synthetic_session(f"syn{i}", f"person{i}", source="osu", duration_s=seconds, rate_hz=60, seed=i, with_state=True, game="osu!")
        write_session(s, Path(out_dir) / s.session_id)
    return out_dir


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sessions_dir", nargs="?")
    ap.add_argument("--sources", default=None, help="builder config (osu, sapimouse, ...); default all")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=None, help="dataset folder (default: a temporary one)")
    ap.add_argument("--beam-workers", default="1,2", help="DirectRunner worker counts to time ('' for none)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_data_"))
    src = args.sessions_dir
    if src is None:
        src = "/tmp/osu_sessions" if Path("/tmp/osu_sessions").is_dir() else synthetic(tmp / "sessions")
    print(f"sessions: {src}")
    config = DataConfig()
    t = time.perf_counter()
    sessions = [s for s, _ in iter_sessions(src, on_error="skip") if s is not None and check_session(s, config) is None]
    if args.sources:
        sessions = [s for s in sessions if s.source == args.sources]
    t_read = time.perf_counter() - t
    n_events = sum(len(s.events) for s in sessions)
    print(f"read     {len(sessions)} usable sessions, {n_events:,} events in {t_read:.2f} s")
    prep = fit_preprocessing([(s, None) for s in sessions], config)
    t = time.perf_counter()
    _, tgs, _ = windows_from_sessions(sessions, prep)
    dt = time.perf_counter() - t
    n = len(tgs["seq_len"])
    print(f"window   {n:,} windows in {dt:.2f} s: {n / dt:,.0f} windows/s (NumPy, session -> windows)")
    del tgs

    from actiongen_keras.data.build import build_dataset, split_checksums
    from actiongen_keras.data.pipeline import make_dataset

    out = Path(args.out) if args.out else tmp / "data"
    t = time.perf_counter()
    summary = build_dataset(src, out, config=config, sources=args.sources, progress=False, overwrite=True)
    dt = time.perf_counter() - t
    total = sum(summary.windows.values())
    print(f"build    {total:,} windows ({summary.windows}) in {dt:.2f} s: {total / dt:,.0f} windows/s (read+split+fit+TFDS write)")
    sums = split_checksums(out)
    for workers in [int(w) for w in args.beam_workers.split(",") if w.strip()]:
        t = time.perf_counter()
        build_dataset(src, tmp / f"beam{workers}", config=config, sources=args.sources, progress=False, overwrite=True,
                      beam_runner="DirectRunner", workers=workers)
        dt = time.perf_counter() - t
        same = "same examples" if split_checksums(tmp / f"beam{workers}") == sums else "DIFFERENT examples"
        print(f"beam {workers:<4}{total:,} windows in {dt:.2f} s: {total / dt:,.0f} windows/s (DirectRunner, {workers} worker(s); {same})")
        shutil.rmtree(tmp / f"beam{workers}", ignore_errors=True)
    for cached in (False, True):
        ds = make_dataset(out, "train", batch_size=args.batch, shuffle=True, cache=cached, seed=0)
        if cached:
            for _ in ds:  # fill the cache
                pass
        t = time.perf_counter()
        count = 0
        for _, y, _ in ds:
            count += int(y["seq_len"].shape[0])
        dt = time.perf_counter() - t
        label = "iterate" + (" (cached)" if cached else "")
        print(f"{label:<17}{count:,} windows in {dt:.2f} s: {count / dt:,.0f} windows/s (batch {args.batch}, shuffled)")
    if not args.out:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
