"""train() end to end on a tiny synthetic dataset: files, metrics beside baselines, resume."""

import csv
import json

import keras
import numpy as np
import pytest

import actiongen_keras
from actiongen_keras.atomic import partial_path
from actiongen_keras.config import Config
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.errors import ActiongenError, ConfigError
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.scoring.score import event_class_counts, predict_split
from actiongen_keras.scoring.window_metrics import METRIC_NAMES, window_metrics
from actiongen_keras.testing.runs import KillAtEpochEnd
from actiongen_keras.testing.runs import tiny_train_config as tiny_config
from actiongen_keras.training.losses import event_decision_bias
from actiongen_keras.training.train import train


@pytest.fixture(scope="module")
def data_dir(dummy_data_dir):
    return dummy_data_dir


@pytest.mark.slow
def test_train_writes_run_files_and_resumes_on_the_uninterrupted_trajectory(data_dir, tmp_path):
    # Eager (run_eagerly): on these 192 windows tracing the train and test steps took 80% of
    # the time; the resume logic (backups, random streams, best-epoch bookkeeping) is the
    # same in both modes, and graph-mode fits run in the tuning and example tests.
    config = tiny_config(run_eagerly=True)
    config.model.xy_input_noise = 0.02  # dropout, input noise and pixel dequantization on: the random streams matter
    config.train.self_feed = 0.5  # ... and the self-fed draws (training/self_feed.py): their random state is backed up too
    run, whole = tmp_path / "run", tmp_path / "whole"
    quiet = dict(progress=False, log=lambda *_: None)
    uninterrupted = train(data_dir, whole, config, epochs=2, gru_baseline=False, **quiet)
    with pytest.raises(RuntimeError, match="killed"):
        train(data_dir, run, config, epochs=2, gru_baseline=False, callbacks=[KillAtEpochEnd()], **quiet)
    assert not run.exists() and (partial_path(run) / "backup").exists()  # RUN_DIR appears only when complete
    first_part = json.loads((partial_path(run) / "train_seconds.json").read_text())["train_seconds"]
    assert first_part > 0
    metrics = train(data_dir, run, config, epochs=2, gru_baseline=True, **quiet)
    # The second run resumed at epoch 2 of 2: the log holds both epochs, each once.
    epochs = [int(r["epoch"]) for r in csv.DictReader((run / "history.csv").read_text().splitlines())]
    assert epochs == [0, 1]
    # ... and equal to the uninterrupted run's, bit for bit (TensorFlow on CPU): every loss and
    # metric of both epochs, the saved weights, the scores on the validation and test windows.
    assert (run / "history.csv").read_text() == (whole / "history.csv").read_text()
    models = [actiongen_keras.load_model(r / "model.keras") for r in (run, whole)]
    assert [m.__class__.__name__ for m in models] == ["Functional"] * 2  # the self-fed run saves the plain model
    for a, b in zip(*(m.get_weights() for m in models), strict=True):
        assert np.array_equal(a, b)
    for split in ("val", "test"):
        assert metrics[split]["model"] == uninterrupted[split]["model"]
    for name in ("model.keras", "config.json", "metrics.json", "history.csv", "loss.png"):
        assert (run / name).exists(), name
    assert not (run / "backup").exists() and not partial_path(run).exists()
    assert metrics["train_seconds"] > first_part  # both parts of the run, not only the one after the restart
    assert json.loads((run / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    for split in ("val", "test"):
        m = metrics[split]
        assert set(METRIC_NAMES) <= set(m["model"])
        assert {"majority_event", "repeat_last_window", "constant_median_timing", "hold_cursor", "constant_velocity",
                "previous_event", "gru_no_attention"} <= set(m["baselines"])
        for vals in [m["model"], *m["baselines"].values()]:
            assert 0.0 <= vals["event_accuracy"] <= 1.0 and vals["timing_mae_ms"] >= 0.0
    # The saved model reloads and scores what metrics.json says it scored (to float32 noise).
    model = models[0]  # the resumed run's, loaded above
    prep = load_preprocessing(data_dir)
    config = Config.from_json(run / "config.json")
    meta = DatasetMeta.from_preprocessing(prep)
    data = predict_split(model, data_dir, "test", config, meta, event_decision_bias(event_class_counts(prep)))
    again = window_metrics(data["targets"], data["weights"], data["preds"], data["inputs"]["screen"])
    for name in METRIC_NAMES:
        assert again[name] == pytest.approx(metrics["test"]["model"][name], rel=1e-6, abs=1e-6), name


def test_bad_epochs_and_existing_runs_are_refused_before_training(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="epochs must be an integer >= 1, got 0"):
        train(data_dir, tmp_path / "r", tiny_config(), epochs=0, progress=False)
    c = tiny_config()
    c.train.learning_rate = -1e-3
    with pytest.raises(ConfigError, match="train.learning_rate must be > 0"):
        train(data_dir, tmp_path / "r", c, progress=False)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.json").write_text("{}")
    with pytest.raises(ActiongenError, match="already exists and is not empty"):
        train(data_dir, tmp_path / "r", tiny_config(), progress=False)
    with pytest.raises(ActiongenError, match="is \\(or contains\\) the input"):
        train(data_dir, data_dir.parent, tiny_config(), progress=False, overwrite=True)
    assert not (tmp_path / "r" / "config.json").exists()


class ScriptedValLoss(keras.callbacks.Callback):
    """Sets each epoch's val_loss (placed before the package's callbacks, which then see it)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


@pytest.mark.slow
def test_resume_restores_the_random_streams_and_the_best_epoch_bookkeeping(tmp_path):
    from actiongen_keras.training import train as T

    config = tiny_config()
    config.train.early_stopping_patience = 5
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    notes = []

    def fit(run_dir, crash):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dropout(0.5),
                                  keras.layers.GaussianNoise(0.1), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        callbacks = T._callbacks(run_dir, config, "stage1", False, notes.append)
        # The best epoch (val_loss 1.0) is the one before the restart.
        callbacks = [ScriptedValLoss([1.0, 3.0, 2.0, 4.0]), *callbacks, *([KillAtEpochEnd()] if crash else [])]
        model.fit(x, y, batch_size=16, epochs=4, validation_data=(x, y), shuffle=False, verbose=0, callbacks=callbacks)
        return model, callbacks[1], callbacks[2]

    whole, whole_ckpt, whole_es = fit(tmp_path / "whole", crash=False)
    with pytest.raises(RuntimeError, match="killed"):
        fit(tmp_path / "resumed", crash=True)
    resumed, ckpt, es = fit(tmp_path / "resumed", crash=False)
    assert notes == []
    # Same training losses after the restart: the dropout and noise streams went on where they stopped.
    assert resumed.history.history["loss"] == whole.history.history["loss"][1:]
    assert (es.best, es.best_epoch, es.wait, ckpt.best) == (1.0, 0, 3, 1.0)
    assert (whole_es.best, whole_es.best_epoch, whole_es.wait, whole_ckpt.best) == (1.0, 0, 3, 1.0)
    # EarlyStopping restored epoch 1's weights in both runs, and the random states agree.
    for a, b in zip(resumed.variables, whole.variables, strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), a.path


class WeightsAtStart(keras.callbacks.Callback):
    """Keeps the model's weights as ``fit`` starts (after any warm start, before any step)."""

    def on_train_begin(self, logs=None):
        self.weights = {w.path: keras.ops.convert_to_numpy(w) for w in self.model.weights}


@pytest.mark.slow
def test_init_from_starts_from_a_trained_model_and_names_what_it_lacks(data_dir, tmp_path):
    """warm_start copies every weight the source holds at the same path and shape and names the
    rest (here the key head and key embedding of a source with another key set, kept fresh);
    train(init_from=...) starts fit from the source's weights and says so in metrics.json;
    a source sharing nothing is refused."""
    from actiongen_keras.models import build_model
    from actiongen_keras.training.train import warm_start

    prep = load_preprocessing(data_dir)
    meta = DatasetMeta.from_preprocessing(prep).to_dict()
    config = tiny_config(run_eagerly=True)
    config.data = prep.data_config
    keras.utils.set_random_seed(7)
    source = build_model(config, meta)
    source.save(tmp_path / "source.keras")
    keras.utils.set_random_seed(8)
    other_keys = build_model(config, {**meta, "num_keys": meta["num_keys"] + 3})
    fresh = {w.path: keras.ops.convert_to_numpy(w) for w in other_keys.weights}
    logs = []
    copied, kept = warm_start(other_keys, tmp_path / "source.keras", logs.append)
    src = {w.path: keras.ops.convert_to_numpy(w) for w in source.weights}
    assert kept >= 2 and copied == len(other_keys.weights) - kept
    for w in other_keys.weights:
        now = keras.ops.convert_to_numpy(w)
        if now.shape == src[w.path].shape:
            np.testing.assert_array_equal(now, src[w.path], err_msg=w.path)
        else:
            np.testing.assert_array_equal(now, fresh[w.path], err_msg=w.path)
            assert w.path in logs[0]
    assert "key_head" in logs[0] and f"{copied} of {len(other_keys.weights)} weights copied" in logs[0]
    # through train(): fit starts from the source's weights (the same dataset: every weight matches)
    start = WeightsAtStart()
    metrics = train(data_dir, tmp_path / "run", config, epochs=1, gru_baseline=False, progress=False, log=lambda *_: None,
                    callbacks=[start], init_from=tmp_path / "source.keras")
    assert start.weights.keys() == src.keys()
    for path, value in src.items():
        np.testing.assert_array_equal(start.weights[path], value, err_msg=path)
    assert metrics["init_from"] == str(tmp_path / "source.keras")
    unrelated = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="unrelated")])
    unrelated.save(tmp_path / "unrelated.keras")
    with pytest.raises(ConfigError, match="shares no weight with this model"):
        warm_start(other_keys, tmp_path / "unrelated.keras")


def test_compiled_metrics_are_left_out_of_training_steps(data_dir):
    # validation_only_metrics: the training steps log the losses only, the validation steps
    # (and evaluate) every compiled metric; compiling again (progressive stages) is harmless.
    from actiongen_keras.data.pipeline import make_dataset
    from actiongen_keras.models import build_model
    from actiongen_keras.training.train import compile_model

    config = tiny_config()
    meta = DatasetMeta.from_preprocessing(load_preprocessing(data_dir))
    model = compile_model(build_model(config, meta), config, meta)
    assert compile_model(model, config, meta) is model
    train_ds = make_dataset(data_dir, "train", 64, shuffle=False).take(2)
    val_ds = make_dataset(data_dir, "validation", 64, shuffle=False).take(1)
    history = model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0).history
    compiled = {"event_type_acc", "event_type_macro_f1", "timing_timing_mae_ms", "xy_xy_mae_screen", "seq_len_seq_len_acc"}
    assert {"loss", "event_type_loss", "xy_loss"} <= set(history)
    assert not compiled & set(history)
    assert {f"val_{k}" for k in compiled | {"loss", "xy_loss"}} <= set(history)
    assert compiled <= set(model.evaluate(val_ds, return_dict=True, verbose=0))
