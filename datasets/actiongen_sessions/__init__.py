"""TFDS dataset ``actiongen_sessions`` (importing this registers it with TFDS)."""

from datasets.actiongen_sessions.actiongen_sessions_dataset_builder import ActiongenSessions, ActiongenSessionsConfig  # noqa: F401
