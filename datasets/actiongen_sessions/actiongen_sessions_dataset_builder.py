"""TFDS builder for ``actiongen_sessions`` (the ``tfds build`` convention's file).

The class lives in :mod:`actiongen_keras.data.build` so that the installed package has it
(``build_dataset``, ``make_dataset`` and the CLI need it without this repository folder on
the path); importing it here registers it with TFDS under the name ``actiongen_sessions``.
See that module for the design (statistics fitted on train in ``_split_generators``,
normalised windows stored, sessions from ``manual_dir``, no network).
"""

from actiongen_keras.data.build import ActiongenSessions, ActiongenSessionsConfig  # noqa: F401

__all__ = ["ActiongenSessions", "ActiongenSessionsConfig"]
