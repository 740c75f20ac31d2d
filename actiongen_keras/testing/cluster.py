"""Workers of a multi-worker job on loopback, for the tests of ``actiongen train --distributed``."""

from __future__ import annotations

import json
import os
import subprocess

from actiongen_keras.tuning.distributed import free_port


def tf_config(ports, index):
    """``TF_CONFIG`` of worker ``index`` in a cluster of workers on 127.0.0.1 at ``ports``."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}})


def run_workers(argv_of, n=2, backend="tensorflow", timeout=300):
    """Runs ``n`` workers (``argv_of(i)``: worker ``i``'s command) with ``TF_CONFIG`` on
    loopback and ``KERAS_BACKEND=backend``; returns their ``(returncode, output)`` in order.
    All are killed if one outlives ``timeout`` seconds (a worker waiting for a dead peer)."""
    ports = [free_port() for _ in range(n)]
    procs = []
    for i in range(n):
        env = {**os.environ, "TF_CONFIG": tf_config(ports, i), "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2",
               "CUDA_VISIBLE_DEVICES": ""}
        procs.append(subprocess.Popen(argv_of(i), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    out = []
    try:
        for p in procs:
            text, _ = p.communicate(timeout=timeout)
            out.append((p.returncode, text))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return out
