"""actiongen_keras: learn how people operate a computer in a game, and generate input like them.

What a training script needs is here (see ``examples/train_script.py``)::

    import actiongen_keras as ag

    config = ag.Config()
    model = ag.build_model(config, data_dir=DATA_DIR)      # sizes from the built dataset
    ag.compile_model(model, config, data_dir=DATA_DIR)     # the package's losses and metrics
    model.fit(ag.make_dataset(DATA_DIR, "train", 64), validation_data=ag.make_dataset(DATA_DIR, "validation", 64, shuffle=False),
              shuffle=False)                               # the pipeline shuffles
    model.save("model.keras")
    model = ag.load_model("model.keras")

``build_model``, ``compile_model`` and ``make_dataset`` load on first use, so
``import actiongen_keras`` does not import TensorFlow. Everything else lives in the stage
packages: ``recordings``, ``data``, ``layers``, ``models``, ``scoring``, ``training``,
``generation``, ``evaluation``, ``export``, ``tuning`` (and ``testing`` for tests).
"""

import importlib
import zipfile
from pathlib import Path

from actiongen_keras.config import Config
from actiongen_keras.errors import ActiongenError

__version__ = "0.1.0"


def load_model(path, compile=True):
    """``keras.saving.load_model`` with every actiongen custom object registered.

    A missing, empty, truncated or otherwise unreadable file raises
    :class:`~actiongen_keras.errors.ActiongenError` naming the file and the reason
    (Keras itself says "File not found" for a file that exists but is not a zip archive).
    """
    # deferred: Keras and the custom objects load when a model does, not with the package
    import keras

    import actiongen_keras.layers  # noqa: F401  (registers the layers)
    import actiongen_keras.training.losses  # noqa: F401
    import actiongen_keras.training.metrics  # noqa: F401

    path = Path(path)
    if not path.is_file():
        raise ActiongenError(f"{path}: no such model file (expected RUN_DIR/model.keras from 'actiongen train')")
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as e:
        raise ActiongenError(f"{path}: cannot read the model file ({e.strerror})") from None
    if not is_zip:
        size = path.stat().st_size
        raise ActiongenError(f"{path}: not a Keras model file ({'empty' if size == 0 else f'{size} bytes, not a zip archive'}: "
                             "truncated or corrupt?)")
    try:
        return keras.saving.load_model(path, compile=compile)
    except Exception as e:  # a damaged archive fails in many ways inside Keras; each is one line here
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise ActiongenError(f"{path}: cannot load the model ({type(e).__name__}: {first})") from None


_LAZY = {
    "build_model": "actiongen_keras.api",
    "compile_model": "actiongen_keras.api",
    "make_dataset": "actiongen_keras.api",
}


def __getattr__(name):
    """``build_model``, ``compile_model``, ``make_dataset`` on first use (they import TensorFlow)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'actiongen_keras' has no attribute {name!r}")


__all__ = ["Config", "build_model", "compile_model", "load_model", "make_dataset"]
