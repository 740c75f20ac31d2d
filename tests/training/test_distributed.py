"""Multi-worker training (``actiongen train --distributed``, training/distributed.py): TF_CONFIG
parsing, the Keras compatibility patch, and workers on loopback on both backends: they train
in step, follow one worker's loss curve at the same global batch, write one run, and resume
together after a kill.

Every run starts from the same initial weights (``--init-from`` a freshly built model); one
worker's reference run is in process for TensorFlow and a subprocess for JAX (the backends'
own arithmetic differs by 1-2% after an epoch)."""

import csv
import inspect
import json
import os
import re
import subprocess
import sys

import keras
import pytest

from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.errors import ConfigError
from actiongen_keras.models import build_model
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.testing.cluster import run_workers, tf_config
from actiongen_keras.testing.runs import tiny_train_config
from actiongen_keras.training import distributed as D
from actiongen_keras.training.train import train

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the reference run is TensorFlow's")

EPOCHS = 2
# XLA's CPU compiler at its lowest optimisation level: each JAX process compiles the train and
# test steps of the tiny model in 30 s instead of 48 s (one core), and the steps of 3 batches
# gain nothing from optimised code; every JAX run here (the pair and the reference) uses it
FAST_XLA = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# a worker that dies at the end of its first epoch (after the epoch's backup), as a killed job does
KILLED = ("import sys; from actiongen_keras.config import Config; "
          "from actiongen_keras.testing.runs import KillAtEpochEnd; from actiongen_keras.training.train import train; "
          "train(sys.argv[1], sys.argv[2], Config.from_json(sys.argv[3]), epochs=int(sys.argv[4]), progress=False, "
          "gru_baseline=False, callbacks=[KillAtEpochEnd(1)], distributed=True, init_from=sys.argv[5])")


def _cli(data, run, config_path, init):
    return lambda i: [sys.executable, "-m", "actiongen_keras.cli", "-q", "train", "--data", str(data), "--out", str(run),
                      "--config", str(config_path), "--epochs", str(EPOCHS), "--init-from", str(init), "--distributed"]


def _digest(text):
    found = re.findall(r"weights digest ([0-9a-f]{16})", text)
    assert found, text[-3000:]
    return found[-1]


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def _same_curve(two, one):
    assert len(two) == len(one) == EPOCHS and float(two[-1]["loss"]) < float(two[0]["loss"])
    for a, b in zip(two, one):
        for key in ("loss", "val_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=0.02), (key, a[key], b[key])


def _written_by_the_chief_alone(root, run):
    assert {"model.keras", "metrics.json", "history.csv", "config.json"} <= {p.name for p in run.iterdir()}
    assert not list(root.glob(f".{run.name}.*")), list(root.glob(f".{run.name}.*"))  # the other worker's scratch folder is gone


@pytest.fixture(scope="module")
def reference(dummy_data_dir, tmp_path_factory):
    """``(root, init, one)``: the shared initial model, and one TensorFlow worker's history
    from it (in process; eager: a few steps on tiny data cost less than tracing them)."""
    root = tmp_path_factory.mktemp("distributed")
    config = tiny_train_config(run_eagerly=True)
    config.train.batch_size = 64  # the global batch (192 training windows: 3 whole batches), 32 windows on each of two workers
    config.model.xy_dequantize_px = 0.0  # its draws come from each backend's own random numbers: one reference for both
    config.to_json(root / "eager.json")
    config.train.run_eagerly = False  # JAX's eager steps are slow: jit there
    config.to_json(root / "jit.json")
    meta = DatasetMeta.from_preprocessing(load_preprocessing(dummy_data_dir))
    keras.utils.set_random_seed(0)
    build_model(config, meta).save(root / "init.keras")
    config.train.run_eagerly = True
    train(dummy_data_dir, root / "one", config, epochs=EPOCHS, progress=False, gru_baseline=False, log=lambda *a: None,
          init_from=root / "init.keras")
    return root, root / "init.keras", _history(root / "one")


def test_cluster_spec_reads_tf_config_and_names_what_is_wrong(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 1))
    assert D.cluster_spec() == ("worker", 1, {"worker": ["127.0.0.1:1", "127.0.0.1:2"]})
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
def test_two_tensorflow_workers_killed_and_restarted_train_in_step_like_one(dummy_data_dir, reference, tmp_path):
    """MultiWorkerMirroredStrategy: both workers die at the end of epoch 1 (after its backup)
    and are started again; they resume from the same epoch, end with the same weights, the
    chief alone has written the run, and the loss curve is one worker's within 2% (the two
    workers' shares of a batch are other windows than one worker's batch: data sharding)."""
    root, init, one = reference
    run = tmp_path / "run"
    killed = run_workers(lambda i: [sys.executable, "-c", KILLED, str(dummy_data_dir), str(run), str(root / "eager.json"), str(EPOCHS),
                                    str(init)])
    for code, text in killed:
        assert code != 0 and "killed" in text, text[-3000:]
    assert len(_history(tmp_path / ".run.partial")) == 1  # one epoch done, then killed
    assert (tmp_path / ".run.partial" / "backup").is_dir() and (tmp_path / ".run.worker-1.partial" / "backup").is_dir()
    again = run_workers(_cli(dummy_data_dir, run, root / "eager.json", init))
    for code, text in again:
        assert code == 0, text[-3000:]
        assert "resuming stage1 at epoch 2" in text, text[-3000:]
    assert _digest(again[0][1]) == _digest(again[1][1])  # the same weights on both workers
    assert "worker done" in again[1][1]
    _written_by_the_chief_alone(tmp_path, run)
    _same_curve(_history(run), one)


@pytest.mark.slow
def test_two_jax_processes_killed_and_restarted_train_in_step_like_one(dummy_data_dir, reference, tmp_path, monkeypatch):
    """Keras's DataParallel over two jax.distributed processes (gloo): both die at the end of
    epoch 1 and are started again; they resume from their backups, end with the same weights,
    one run is written, and the loss curve is one JAX process's from the same initial weights
    within 2% (TensorFlow's differs by 1-2% from the backends' own arithmetic; the resumed
    epoch's batches are cut from the re-batched windows, so not bit-exact with an unbroken run)."""
    root, init, _ = reference
    run = tmp_path / "run"
    monkeypatch.setenv("XLA_FLAGS", FAST_XLA)
    killed = run_workers(lambda i: [sys.executable, "-c", KILLED, str(dummy_data_dir), str(run), str(root / "jit.json"), str(EPOCHS),
                                    str(init)], 2, "jax")
    for code, text in killed:
        assert code != 0 and "killed" in text, text[-3000:]
    assert len(_history(tmp_path / ".run.partial")) == 1  # one epoch done, then killed
    assert (tmp_path / ".run.partial" / "backup").is_dir() and (tmp_path / ".run.worker-1.partial" / "backup").is_dir()
    results = run_workers(_cli(dummy_data_dir, run, root / "jit.json", init), 2, "jax")
    for code, text in results:
        assert code == 0, text[-3000:]
        assert "resuming stage1 at epoch 2" in text, text[-3000:]
    assert _digest(results[0][1]) == _digest(results[1][1])
    _written_by_the_chief_alone(tmp_path, run)
    one = subprocess.run(_cli(dummy_data_dir, tmp_path / "one", root / "jit.json", init)(0)[:-1] + ["--no-gru"],
                         env={**os.environ, "KERAS_BACKEND": "jax", "CUDA_VISIBLE_DEVICES": ""}, capture_output=True, text=True,
                         timeout=300)
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-2000:]
    _same_curve(_history(run), _history(tmp_path / "one"))
