"""Repository-root conftest: makes the top-level ``datasets`` package importable in tests,
builds the shared dummy dataset once per test session, compiles XLA cheaply, and hands
the heaviest test files out first.

``--xla_backend_optimization_level=0``: the tests compile the sampling loop (one XLA function
per batch size) a dozen times; without LLVM's optimisation passes each compilation takes
about half as long, and the compiled loop runs slower, which tests do not notice. The
numbers are the same up to float rounding (tests compare with tolerances). Users and
benchmarks get XLA's default.

``TF_NUM_INTRAOP_THREADS=1``: what ``train.intra_op_threads`` gives training
(``training/threads.py``), set for every test process, whichever test starts TensorFlow first
(``train()`` cannot change it once an earlier test has run an op). Not a speed-up of the suite:
two full runs with it took 17 min 15 s and 18 min 43 s for 619 tests against 16 min 3 s for 616 before."""

import json
import math
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

import pytest  # noqa: E402

# Seconds per test file (setup + call + teardown, in a full `make test`), written by
# `make test PYTEST_ARGS=--store-durations`. The suite runs in two pytest-xdist processes,
# one file to a process (--dist loadfile); xdist hands the files out in collection order
# (`make test` passes --no-loadscope-reorder: xdist's own reorder puts the files with the
# most tests first, which left the few-test, minutes-long training files to the end, one
# process idle for two minutes). Heaviest first (the longest-processing-time rule) lets
# the two finish together; files not in the table go first, as if heavy.
DURATIONS = Path(__file__).parent / "tests" / "durations.json"


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


def pytest_addoption(parser):
    parser.addoption("--store-durations", action="store_true", help=f"write each test file's seconds to {DURATIONS.relative_to(DURATIONS.parents[1])}")


def pytest_collection_modifyitems(config, items):
    """TensorFlow's ``TestCase.test_session`` (inherited by the TFDS test) is a helper that skips
    itself when run as a test ("Not a test"); it is deselected, so the skip count stays 0.
    The files are then ordered heaviest first (``DURATIONS``; the order within a file is kept)."""
    helpers = [i for i in items if i.name == "test_session"]
    if helpers:
        config.hook.pytest_deselected(items=helpers)
        items[:] = [i for i in items if i.name != "test_session"]
    seconds = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    items.sort(key=lambda item: -seconds.get(item.nodeid.split("::")[0], math.inf))


_file_seconds = Counter()


def pytest_runtest_logreport(report):
    _file_seconds[report.nodeid.split("::")[0]] += report.duration


def pytest_sessionfinish(session):
    """With --store-durations, the controlling process (not an xdist worker) writes the table."""
    if session.config.getoption("store_durations") and not hasattr(session.config, "workerinput") and _file_seconds:
        table = {f: round(t, 1) for f, t in sorted(_file_seconds.items(), key=lambda kv: -kv[1])}
        DURATIONS.write_text(json.dumps(table, indent=1) + "\n")
