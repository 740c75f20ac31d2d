"""Data: sessions -> windows -> statistics -> TFDS dataset -> tf.data / NumPy.

Light modules (NumPy only) are imported eagerly; the TensorFlow/TFDS parts
(``build_dataset``, ``make_dataset``, ``ActiongenSessions``) load on first use, so
``from actiongen_keras.data import features`` never imports TensorFlow. Importing
``actiongen_keras.data.build`` (or touching ``build_dataset``/``make_dataset`` here)
registers the ``actiongen_sessions`` TFDS builder.
"""

from actiongen_keras.data.normalize import (
    Preprocessing,
    fit_preprocessing,
    load_preprocessing,
)
from actiongen_keras.data.splits import (
    SPLITS,
    Splits,
    assign_splits,
    canonical_split,
    load_splits,
    subject_split,
)
from actiongen_keras.data.vocab import Vocabulary
from actiongen_keras.data.windows import (
    check_session,
    make_windows,
    session_windows,
    thin_moves,
    tokenize_session,
    window_times,
    windows_from_sessions,
)

_LAZY = {
    "build_dataset": "actiongen_keras.data.build",
    "BuildSummary": "actiongen_keras.data.build",
    "ActiongenSessions": "actiongen_keras.data.build",
    "prepare": "actiongen_keras.data.build",
    "make_dataset": "actiongen_keras.data.pipeline",
    "numpy_dataset": "actiongen_keras.data.pipeline",
    "load_builder": "actiongen_keras.data.pipeline",
}

__all__ = [
    "Preprocessing", "fit_preprocessing", "load_preprocessing", "SPLITS", "Splits", "assign_splits", "canonical_split",
    "load_splits", "subject_split", "Vocabulary", "check_session", "make_windows", "session_windows", "thin_moves",
    "tokenize_session", "window_times", "windows_from_sessions", *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'actiongen_keras.data' has no attribute {name!r}")
