"""KerasTuner's chief/worker mode on one machine: a chief and N workers as subprocesses.

Every process runs the same ``actiongen tune`` command (``python -m
actiongen_keras.tuning.cli``) with the environment KerasTuner reads:

* ``KERASTUNER_TUNER_ID``: ``chief`` for the oracle server, ``tuner0``, ``tuner1``, ... for
  the workers;
* ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT``: where the chief serves the oracle
  over gRPC (here 127.0.0.1 and a free port).

The chief only serves the oracle (no training); each worker asks it for a trial, trains,
reports, and stops when the oracle says the search is over. KerasTuner's chief then exits
once no worker has a trial in flight (it polls every 20 s) and writes ``results.csv``,
``results.md`` and ``best_config.json``. All processes share ``OUT/kt/`` (on several
machines that folder must be on a shared file system: Hyperband's later rounds load the
checkpoints of earlier ones).

Every subprocess is bounded by ``timeout``; whatever is still running then is terminated
(and killed 10 s later). If the chief did not get to write the results, they are written
here from the trial files that exist (``partial: True``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from actiongen_keras.config import Config
from actiongen_keras.errors import ActiongenError
from actiongen_keras.tuning.search import write_results


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _stop(proc, grace=10.0):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def run_distributed(tune_args, out_dir, workers=2, timeout=600.0, host="127.0.0.1", port=None, threads=None,
                    python=None, log=print):
    """Run one chief and ``workers`` workers of ``actiongen tune TUNE_ARGS --out OUT_DIR``.

    ``tune_args``: the ``tune`` options except ``--out`` (e.g. ``["--data", D, "--tuner",
    "random", "--max-trials", "4", "--epochs", "1"]``). ``threads``: TensorFlow threads per
    process (``--threads``). Returns ``{"returncodes": {id: rc}, "timed_out", "partial",
    "seconds", "port", "logs", "results"}`` where ``results`` is ``OUT/results.csv``'s rows.
    """
    out = Path(out_dir)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = int(port or free_port(host))
    cmd = [python or sys.executable, "-m", "actiongen_keras.tuning.cli", "-q", *map(str, tune_args), "--out", str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    started = time.time()
    deadline = time.monotonic() + float(timeout)
    procs = {}
    ids = ["chief"] + [f"tuner{i}" for i in range(int(workers))]
    timed_out = False
    with contextlib.ExitStack() as files:
        try:
            for tid in ids:
                env = dict({"TF_CPP_MIN_LOG_LEVEL": "2"}, **os.environ, KERASTUNER_TUNER_ID=tid, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port))
                f = files.enter_context(open(logs / f"{tid}.log", "w"))
                procs[tid] = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                log(f"started {tid} (pid {procs[tid].pid}) on {host}:{port}")
            for tid in ids[1:] + ["chief"]:  # workers first: the chief ends after them
                try:
                    procs[tid].wait(max(0.0, deadline - time.monotonic()))
                    log(f"{tid} exited with {procs[tid].returncode} after {time.time() - started:.0f} s")
                except subprocess.TimeoutExpired:
                    timed_out = True
                    log(f"{tid}: still running after {timeout:.0f} s; stopping every process")
                    break
        finally:
            for p in procs.values():
                _stop(p)

    results = out / "results.csv"
    partial = False
    if not results.exists() or results.stat().st_mtime < started:
        partial = True
        _write_partial(out, log)
    rows = []
    if results.exists():
        with open(results, newline="") as f:
            rows = list(csv.DictReader(f))
    return {
        "returncodes": {tid: p.returncode for tid, p in procs.items()},
        "timed_out": timed_out,
        "partial": partial,
        "seconds": time.time() - started,
        "port": port,
        "logs": str(logs),
        "results": rows,
    }


def _write_partial(out, log):
    """Results from whatever trial files exist (the chief did not write them)."""
    try:
        search = json.loads((out / "search.json").read_text())
        base = Config.from_json(out / "base_config.json")
    except (OSError, ValueError, ActiongenError) as e:
        log(f"no results: {e}")
        return
    project = out / "kt" / search["tuner"]
    if project.is_dir():
        write_results(out, project, base, title=f"{search['tuner']} search (partial: the chief did not finish)")
        log(f"wrote partial results from {project}")
