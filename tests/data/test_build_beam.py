"""The Beam build (#15): the same serialised examples as the single-process build, in this
process and in two DirectRunner worker processes; a changed session changes the checksum."""

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actiongen_keras.data.build import beam_pipeline_options, build_dataset, split_checksums  # noqa: E402
from actiongen_keras.errors import ConfigError  # noqa: E402
from actiongen_keras.recordings.session import read_session, write_session  # noqa: E402
from actiongen_keras.testing.sessions import write_dummy_data  # noqa: E402


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    root = tmp_path_factory.mktemp("beam")
    write_dummy_data(root / "sessions")
    return root


@pytest.fixture(scope="module")
def plain(sessions):
    summary = build_dataset(sessions / "sessions", sessions / "plain", progress=False)
    return summary, split_checksums(sessions / "plain")


def _same_build(root, a, b):
    for f in ("splits.json", "preprocessing.json"):
        assert json.loads((root / a / f).read_text()) == json.loads((root / b / f).read_text()), f


def test_beam_in_process_equals_single_process(sessions, plain, monkeypatch):
    import apache_beam

    from actiongen_keras.data.build import ActiongenSessions

    summary, sums = plain
    made = []  # what each split's examples came from: a Beam transform, not the in-process generator
    original = ActiongenSessions._generate_examples
    monkeypatch.setattr(ActiongenSessions, "_generate_examples", lambda self, *a: made.append(original(self, *a)) or made[-1])
    beam = build_dataset(sessions / "sessions", sessions / "beam1", progress=False, beam_runner="DirectRunner")
    assert len(made) == 3 and all(isinstance(m, apache_beam.PTransform) for m in made)
    assert beam.windows == summary.windows == {"train": 166, "validation": 4, "test": 32}
    got = split_checksums(sessions / "beam1")
    assert got == sums
    assert {sp: n for sp, (n, _) in got.items()} == summary.windows
    _same_build(sessions, "plain", "beam1")


@pytest.mark.slow
def test_beam_two_worker_processes_equal_single_process(sessions, plain):
    # multi_processing: the windows are made and serialised in two child processes
    summary, sums = plain
    beam = build_dataset(sessions / "sessions", sessions / "beam2", progress=False, beam_runner="DirectRunner", workers=2)
    assert beam.windows == summary.windows
    assert split_checksums(sessions / "beam2") == sums
    _same_build(sessions, "plain", "beam2")


def test_checksum_sees_one_changed_event(sessions, plain):
    # the negative control: a session with one event moved by one pixel changes the checksums
    _, sums = plain
    changed = sessions / "changed"
    shutil.copytree(sessions / "sessions", changed)
    folder = sorted(p.parent for p in changed.rglob("session.json"))[0]
    session, _ = read_session(folder)
    ev = session.events
    i = len(ev.x) // 2
    ev.x[i] = ev.x[i] + 1.0 if ev.x[i] < session.screen[0] - 1 else ev.x[i] - 1.0
    write_session(session, folder)
    build_dataset(changed, sessions / "changed_data", progress=False, beam_runner="DirectRunner")
    got = split_checksums(sessions / "changed_data")
    assert {sp: n for sp, (n, _) in got.items()} == {sp: n for sp, (n, _) in sums.items()}
    assert got != sums


def test_beam_arguments_are_checked(sessions):
    with pytest.raises(ConfigError, match="only for a Beam build"):
        build_dataset(sessions / "sessions", sessions / "never", workers=2)
    with pytest.raises(ConfigError, match="workers: must be >= 1"):
        beam_pipeline_options("DirectRunner", 0)
    with pytest.raises(ConfigError, match="FlinkRunner takes its own flags"):
        beam_pipeline_options("FlinkRunner", 2)
    _, opts = beam_pipeline_options("DirectRunner", 2, ["--direct_runner_bundle_repeat=0"])
    got = opts.get_all_options()
    assert got["direct_num_workers"] == 2 and got["direct_running_mode"] == "multi_processing"
    assert got["default_sdk_harness_log_level"] == "WARNING"
    assert not (sessions / "never").exists()
