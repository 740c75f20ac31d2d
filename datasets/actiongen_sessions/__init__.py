"""TFDS dataset ``actiongen_sessions`` (importing this registers it with TFDS)."""

from .actiongen_sessions_dataset_builder import ActiongenSessions, ActiongenSessionsConfig  # noqa: F401
