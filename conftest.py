"""Repository-root conftest: makes the top-level ``datasets`` package importable in tests,
builds the shared dummy dataset once per test session, and compiles XLA cheaply.

``--xla_backend_optimization_level=0``: the tests compile the sampling loop (one XLA function
per batch size) a dozen times; without LLVM's optimisation passes each compilation takes
about half as long, and the compiled loop runs slower, which tests do not notice. The
numbers are the same up to float rounding (tests compare with tolerances). Users and
benchmarks get XLA's default."""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def dummy_data_dir(tmp_path_factory):
    """DATA_DIR of the TFDS test's synthetic sessions (``actiongen_keras.testing.sessions.write_dummy_data``:
    an osu!-like session with state and anchors, a SapiMouse-like one), built once. Tests read it only."""
    from actiongen_keras.config import SplitConfig
    from actiongen_keras.data.build import build_dataset
    from actiongen_keras.testing.sessions import write_dummy_data

    root = tmp_path_factory.mktemp("dummy_data")
    write_dummy_data(root / "sessions")
    # 80/10/10 blocks (not the default 70/10/20): the window counts other tests rely on
    build_dataset(root / "sessions", root / "data", progress=False, split_config=SplitConfig(fractions=(0.8, 0.1, 0.1)))
    return root / "data"


def pytest_collection_modifyitems(config, items):
    """TensorFlow's ``TestCase.test_session`` (inherited by the TFDS test) is a helper that skips
    itself when run as a test ("Not a test"); it is deselected, so the skip count stays 0."""
    helpers = [i for i in items if i.name == "test_session"]
    if helpers:
        config.hook.pytest_deselected(items=helpers)
        items[:] = [i for i in items if i.name != "test_session"]
