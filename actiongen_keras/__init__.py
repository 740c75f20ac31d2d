"""actiongen_keras: learn how people operate a computer in a game, and generate input like them.

``actiongen_keras.load_model(path)`` loads a ``model.keras`` written by ``actiongen train``
(it registers the package's custom layers, losses and metrics first). Everything else
lives in the stage packages: ``recordings``, ``data``, ``layers``, ``models``,
``training``, ``generation``, ``evaluation``, ``export``, ``tuning``.
"""

__version__ = "0.1.0"


def load_model(path, compile=True):
    """``keras.saving.load_model`` with every actiongen custom object registered.

    A missing, empty, truncated or otherwise unreadable file raises
    :class:`~actiongen_keras.errors.ActiongenError` naming the file and the reason
    (Keras itself says "File not found" for a file that exists but is not a zip archive).
    """
    import zipfile
    from pathlib import Path

    import keras

    import actiongen_keras.layers  # noqa: F401  (registers the layers)
    import actiongen_keras.training.losses  # noqa: F401
    import actiongen_keras.training.metrics  # noqa: F401
    from actiongen_keras.errors import ActiongenError

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
