"""``actiongen train --distributed`` on the JAX backend: Keras's DataParallel over two
``jax.distributed`` processes on loopback (gloo), whatever backend runs the tests."""

import csv
import os
import re
import subprocess
import sys

import pytest

from actiongen_keras.testing.cluster import run_workers
from actiongen_keras.testing.runs import tiny_train_config

EPOCHS = 2


def _train_argv(data, run, config, distributed=True):
    return [sys.executable, "-m", "actiongen_keras.cli", "-q", "train", "--data", str(data), "--out", str(run), "--config", str(config),
            "--epochs", str(EPOCHS), "--no-gru"] + (["--distributed"] if distributed else [])


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_two_jax_processes_train_in_step_like_one(dummy_data_dir, tmp_path):
    config = tiny_train_config()
    config.train.batch_size = 64  # the global batch: 32 windows in each process
    config.to_json(tmp_path / "config.json")
    results = run_workers(lambda i: _train_argv(dummy_data_dir, tmp_path / "run", tmp_path / "config.json"), 2, "jax")
    for code, text in results:
        assert code == 0, text[-3000:]
    digests = [re.findall(r"weights digest ([0-9a-f]{16})", text)[-1] for _, text in results]
    assert digests[0] == digests[1]  # the same weights in both processes
    assert not list(tmp_path.glob(".run.*"))  # the other process's scratch folder is gone
    two = _history(tmp_path / "run")
    assert len(two) == EPOCHS and float(two[-1]["loss"]) < float(two[0]["loss"])
    # one JAX process with the same global batch: the same loss curve within 2%
    one = subprocess.run(_train_argv(dummy_data_dir, tmp_path / "one", tmp_path / "config.json", distributed=False),
                         env={**os.environ, "KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": ""},
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-2000:]
    for a, b in zip(two, _history(tmp_path / "one")):
        for key in ("loss", "val_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=0.02), (key, a[key], b[key])
