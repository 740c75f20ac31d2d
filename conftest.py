"""Repository-root conftest: makes the top-level ``datasets`` package importable in tests,
and builds the shared dummy dataset once per test session."""

import pytest


@pytest.fixture(scope="session")
def dummy_data_dir(tmp_path_factory):
    """DATA_DIR of the TFDS test's synthetic sessions (``datasets/actiongen_sessions/make_dummy_data.py``:
    an osu!-like session with state and anchors, a SapiMouse-like one), built once. Tests read it only."""
    from actiongen_keras.data.build import build_dataset
    from datasets.actiongen_sessions.make_dummy_data import write_dummy_data

    root = tmp_path_factory.mktemp("dummy_data")
    write_dummy_data(root / "sessions")
    build_dataset(root / "sessions", root / "data", progress=False)
    return root / "data"
