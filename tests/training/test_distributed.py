"""Multi-worker training (``actiongen train --distributed``, training/distributed.py): TF_CONFIG
parsing, the Keras compatibility patch, and two workers on loopback that train in step, match
one worker's loss curve at the same global batch, write one run, and resume together after a kill."""

import csv
import inspect
import json
import re
import sys

import keras
import pytest

from actiongen_keras.errors import ConfigError
from actiongen_keras.testing.cluster import run_workers, tf_config
from actiongen_keras.testing.runs import tiny_train_config
from actiongen_keras.training import distributed as D

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MultiWorkerMirroredStrategy is TensorFlow's")

EPOCHS = 2
# a worker that dies at the end of its first epoch (after the epoch's backup), as a killed job does
KILLED = ("import sys; from pathlib import Path; from actiongen_keras.config import Config; "
          "from actiongen_keras.testing.runs import KillAtEpochEnd; from actiongen_keras.training.train import train; "
          "train(sys.argv[1], sys.argv[2], Config.from_json(sys.argv[3]), epochs=int(sys.argv[4]), progress=False, "
          "gru_baseline=False, callbacks=[KillAtEpochEnd(1)], distributed=True)")


def _workers(argv_of):
    return run_workers(argv_of, 2, "tensorflow")


def _cli(data, run, config_path, epochs=EPOCHS):
    return lambda i: [sys.executable, "-m", "actiongen_keras.cli", "-q", "train", "--data", str(data), "--out", str(run),
                      "--config", str(config_path), "--epochs", str(epochs), "--distributed"]


def _digest(text):
    found = re.findall(r"weights digest ([0-9a-f]{16})", text)
    assert found, text[-3000:]
    return found[-1]


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def _config(root):
    config = tiny_train_config()
    config.train.batch_size = 64  # the global batch: 32 windows on each worker
    config.to_json(root / "config.json")
    return config


def test_cluster_spec_reads_tf_config_and_names_what_is_wrong(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 1))
    assert D.cluster_spec() == ("worker", 1, 2)
    assert D.is_chief("worker", 0, False) and not D.is_chief("worker", 1, False)
    assert D.is_chief("chief", 0, True) and not D.is_chief("worker", 0, True)
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ConfigError, match="--distributed needs TF_CONFIG"):
        D.cluster_spec()
    for bad in ("not json", json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
                json.dumps({"task": {"type": "worker", "index": 0}})):
        monkeypatch.setenv("TF_CONFIG", bad)
        with pytest.raises(ConfigError, match="TF_CONFIG: not a cluster with this task in it"):
            D.cluster_spec()


def test_keras_still_needs_the_multi_worker_patch():
    """The day this fails, Keras fits under MultiWorkerMirroredStrategy by itself
    (keras-team/keras#20585): drop patch_keras_multi_worker."""
    from keras.src.backend.tensorflow import trainer as T

    def source(name, now):
        return re.sub(r"\s+", "", inspect.getsource(D.ORIGINAL.get(name, now)))

    build = source("_maybe_symbolic_build", T.TensorFlowTrainer._maybe_symbolic_build)
    reduce = source("reduce_per_replica", T.reduce_per_replica)
    assert 'self.distribute_strategy.reduce("MEAN",' in build, "Keras changed its symbolic build: re-check keras-team/keras#20585"
    assert 'strategy.reduce("MEAN",v,axis=0)' in reduce, "Keras changed its per-replica reduction: re-check keras-team/keras#20585"


@pytest.mark.slow
def test_two_workers_killed_and_restarted_train_in_step_like_one_and_write_one_run(dummy_data_dir, tmp_path):
    """TensorFlow (MultiWorkerMirroredStrategy): both workers die at the end of epoch 1 (after
    its backup) and are started again; they resume from the same epoch, end with the same
    weights, the chief alone has written the run, and the loss curve is one worker's at the
    same global batch within 2% (the two workers' batches hold other windows: data sharding)."""
    config = _config(tmp_path)
    run = tmp_path / "run"
    killed = _workers(lambda i: [sys.executable, "-c", KILLED, str(dummy_data_dir), str(run), str(tmp_path / "config.json"), str(EPOCHS)])
    for code, text in killed:
        assert code != 0 and "killed" in text, text[-3000:]
    assert len(_history(tmp_path / ".run.partial")) == 1  # one epoch done, then killed
    assert (tmp_path / ".run.partial" / "backup").is_dir() and (tmp_path / ".run.worker-1.partial" / "backup").is_dir()
    again = _workers(_cli(dummy_data_dir, run, tmp_path / "config.json"))
    for code, text in again:
        assert code == 0, text[-3000:]
    assert _digest(again[0][1]) == _digest(again[1][1])  # the same weights on both workers
    assert "worker done" in again[1][1]
    # the chief wrote the run; the other worker's scratch folder is gone
    assert {"model.keras", "metrics.json", "history.csv", "config.json"} <= {p.name for p in run.iterdir()}
    assert not list(tmp_path.glob(".run.*")), list(tmp_path.glob(".run.*"))
    two = _history(run)
    assert len(two) == EPOCHS and float(two[-1]["loss"]) < float(two[0]["loss"])
    from actiongen_keras.training.train import train

    train(dummy_data_dir, tmp_path / "one", config, epochs=EPOCHS, progress=False, gru_baseline=False, log=lambda *a: None)
    for a, b in zip(two, _history(tmp_path / "one")):
        for key in ("loss", "val_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=0.02), (key, a[key], b[key])
