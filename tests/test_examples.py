"""examples/train_script.py, the README's script, on the embedded sample (datasets/sample): it trains,
saves and reloads through the public API, and nothing the package calls warns."""

import importlib.util
import logging
import math
import warnings

import pytest

from actiongen_keras.data.build import build_dataset
from actiongen_keras.recordings.importers import osu, sapimouse
from actiongen_keras.testing.paths import REPO_ROOT

SAMPLE = REPO_ROOT / "datasets" / "sample"


@pytest.fixture(scope="module")
def sample_data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    osu.import_folder(SAMPLE / "osu", root / "sessions" / "osu", progress=False)
    sapimouse.import_folder(SAMPLE / "sapimouse", root / "sessions" / "sapimouse", progress=False)
    build_dataset(root / "sessions", root / "data", progress=False)
    return root / "data"


def _script():
    spec = importlib.util.spec_from_file_location("train_script", REPO_ROOT / "examples" / "train_script.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_train_script_runs_on_the_sample_without_warnings(sample_data_dir, tmp_path, caplog, monkeypatch):
    # TensorFlow counts retracings per function *code*, so every model that Keras trained
    # earlier in this test process (each with its own train function, one code object) would
    # count towards the script's "frequent retracing" warning: count the script's calls alone
    from tensorflow.python.eager.polymorphic_function import polymorphic_function as tf_function_impl

    monkeypatch.setattr(tf_function_impl, "_frequent_tracing_detector_manager", tf_function_impl._FrequentTracingDetectorManager())
    out = tmp_path / "model.keras"
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        history, test = _script().main([str(sample_data_dir), str(out), "--epochs", "1", "--steps", "2", "--batch-size", "16"])
    assert out.is_file()
    assert len(history.history["val_loss"]) == 1 and math.isfinite(history.history["val_loss"][0])
    assert math.isfinite(test["loss"])
    # DeprecationWarnings inside third-party code (NumPy 2 notes in Keras, protobuf in TFDS) are theirs to fix
    ours = [w for w in caught if not (issubclass(w.category, DeprecationWarning) and "site-packages" in w.filename)]
    assert ours == [], [f"{w.category.__name__}: {w.message} ({w.filename})" for w in ours]
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert logged == [], logged
