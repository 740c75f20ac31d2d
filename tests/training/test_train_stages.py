"""train() in stages (progressive) and a diverging run, on the tiny synthetic dataset (eager:
these few windows are cheaper to run than to trace). Apart from test_train.py so that the two
slowest training tests run side by side under ``pytest -n 2 --dist loadfile``."""

import csv

import keras
import numpy as np
import pytest

import actiongen_keras
from actiongen_keras.testing.runs import KillAtEpochEnd
from actiongen_keras.testing.runs import tiny_train_config as tiny_config
from actiongen_keras.training.train import TrainingDiverged, train


@pytest.fixture(scope="module")
def data_dir(dummy_data_dir):
    return dummy_data_dir


@pytest.mark.slow
def test_progressive_training_runs_each_stage_with_its_heads(data_dir, tmp_path, monkeypatch):
    from actiongen_keras.training import train as T

    seen = []
    real_compile = T.compile_model

    def spy(model, config, meta, heads=T.F.TARGET_NAMES, lr_factor=1.0):
        seen.append((tuple(heads), lr_factor))
        return real_compile(model, config, meta, heads, lr_factor)

    monkeypatch.setattr(T, "compile_model", spy)
    c = tiny_config(run_eagerly=True)
    c.train.progressive = True
    logs = []
    whole, run = tmp_path / "whole", tmp_path / "run"
    train(data_dir, whole, c, epochs=3, progress=False, gru_baseline=False, log=logs.append)
    assert seen == [(tuple(h), f) for _, h, f in T.PROGRESSIVE_STAGES]
    assert seen[0][0] == ("event_type", "timing", "seq_len")
    assert [line.split(":")[0] for line in logs if line.startswith("stage")] == ["stage 1/3", "stage 2/3", "stage 3/3"]
    epochs = [int(r["epoch"]) for r in csv.DictReader((whole / "history.csv").read_text().splitlines())]
    assert len(epochs) == 3  # one epoch per stage
    # Killed at the end of stage 2 and started again: stages 1 and 2 run no epoch (their
    # backups say they are complete), stage 3 runs its one epoch, all as in the uninterrupted run.
    with pytest.raises(RuntimeError, match="killed"):
        train(data_dir, run, c, epochs=3, progress=False, gru_baseline=False, log=logs.append, callbacks=[KillAtEpochEnd(at=2)])
    train(data_dir, run, c, epochs=3, progress=False, gru_baseline=False, log=logs.append)
    assert (run / "history.csv").read_text() == (whole / "history.csv").read_text()
    weights = [actiongen_keras.load_model(r / "model.keras").get_weights() for r in (run, whole)]
    for a, b in zip(*weights, strict=True):
        assert np.array_equal(a, b)


class PoisonWeights(keras.callbacks.Callback):
    """Makes every weight NaN after the first batch, as a diverging learning rate would."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            for w in self.model.trainable_weights:
                w.assign(w * float("nan"))


@pytest.mark.slow
def test_non_finite_loss_ends_the_run_with_an_error_and_keeps_the_old_run(data_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_text("the previous run")
    # one batch per epoch (tiny_train_config): the weights poisoned after it give epoch 2 its NaN loss
    with pytest.raises(TrainingDiverged, match="training diverged: loss is nan in epoch 2"):
        train(data_dir, run, tiny_config(run_eagerly=True), epochs=2, progress=False, gru_baseline=False, log=lambda *_: None,
              callbacks=[PoisonWeights()], overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no partial folder (its backup would hold NaN weights)
    assert [p.name for p in run.iterdir()] == ["model.keras"] and (run / "model.keras").read_text() == "the previous run"


