"""Bad input on the command line: refused with one line and a non-zero exit, never a traceback,
never a destroyed output (issue #13)."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from actiongen_keras.cli import main
from actiongen_keras.recordings.session import Events, Session, write_session

ROOT = Path(__file__).resolve().parents[1]
SAPIMOUSE = ROOT / "datasets" / "sample" / "sapimouse"


def _session(folder, sid="a"):
    ev = Events.from_columns(t_ms=np.arange(0.0, 20000.0, 50.0), type=["move"] * 400, x=np.full(400, 5.0), y=np.full(400, 5.0))
    return write_session(Session(session_id=sid, source="t", subject="p", screen=(10, 10), events=ev), folder, compress=False)


def _error_line(capsys, command):
    """The one stderr line of a refused command (argparse's usage lines aside)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith(f"actiongen {command}: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--data", "d", "--out", "r", "--epochs", "0"], "--epochs: must be >= 1, got 0"),
        (["train", "--data", "d", "--out", "r", "--batch-size", "0"], "--batch-size: must be >= 1, got 0"),
        (["generate", "--model", "m", "--context", "c", "--out", "o", "--seconds", "inf"], "--seconds: must be a finite number"),
        (["generate", "--model", "m", "--context", "c", "--out", "o", "--seconds", "0"], "--seconds: must be > 0"),
        (["generate", "--model", "m", "--context", "c", "--out", "o", "--temperature", "-1"], "--temperature: must be >= 0"),
        (["generate", "--model", "m", "--context", "c", "--out", "o", "--top-p", "nan"], "--top-p: must be a finite number"),
        (["serve-request", "--model", "m", "--window", "s@0", "--temperature", "-0.5"], "--temperature: must be >= 0"),
    ],
)
def test_numbers_out_of_range_are_refused_not_replaced_by_defaults(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    assert message in _error_line(capsys, args[0])


def test_import_refuses_an_existing_output_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "sessions"
    keep = _session(out / "mine")
    assert main(["-q", "import", "--source", "sapimouse", str(SAPIMOUSE), str(out)]) == 2
    assert "already exists and is not empty (give --overwrite" in _error_line(capsys, "import")
    assert (keep / "session.json").exists()  # untouched
    assert main(["-q", "import", "--source", "sapimouse", "--overwrite", str(SAPIMOUSE), str(out)]) == 0
    assert not keep.exists() and len(list(out.glob("*/session.json"))) == 8
    assert [p.name for p in tmp_path.iterdir()] == ["sessions"]  # no temporary folder left


def test_import_output_may_not_be_the_input_and_a_file_is_not_a_folder(tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(SAPIMOUSE / "user1", src / "user1")
    assert main(["-q", "import", "--source", "sapimouse", "--overwrite", str(src), str(src)]) == 2
    assert "is (or contains) the input" in _error_line(capsys, "import")
    assert main(["-q", "import", "--source", "sapimouse", str(src), str(src / "user1" / "out")]) == 2
    assert "lies inside the input" in _error_line(capsys, "import")
    (tmp_path / "f").write_text("x")
    assert main(["-q", "import", "--source", "sapimouse", str(src), str(tmp_path / "f")]) == 2
    assert "exists and is not a folder" in _error_line(capsys, "import")
    assert main(["-q", "import", "--source", "sapimouse", str(src), str(tmp_path / "f" / "out")]) == 2
    assert "is a file, not a folder" in _error_line(capsys, "import")


def test_import_lists_a_broken_symlink(tmp_path, capsys):
    src = tmp_path / "raw"
    shutil.copytree(SAPIMOUSE / "user1", src / "user1")
    (src / "user1" / "session_gone.csv.gz").symlink_to(tmp_path / "deleted.csv.gz")
    assert main(["-q", "import", "--source", "sapimouse", str(src), str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "FAILED  user1/session_gone.csv.gz: broken symlink" in out
    assert "2 session(s) written" in out and "1 failed" in out


def test_generate_refuses_to_write_onto_its_context_or_an_existing_output(tmp_path, capsys):
    ctx = _session(tmp_path / "real")
    before = (ctx / "events.csv").read_bytes()
    for out, flags, message in (
        (ctx, ["--overwrite"], "is (or contains) the input"),
        (tmp_path, ["--overwrite"], "is (or contains) the input"),
        (ctx / "gen", [], "lies inside the input"),
    ):
        assert main(["-q", "generate", "--model", str(tmp_path / "m.keras"), "--context", str(ctx), "--out", str(out), *flags]) == 2
        assert message in _error_line(capsys, "generate")
    other = _session(tmp_path / "old_output", sid="b")
    assert main(["-q", "generate", "--model", str(tmp_path / "m.keras"), "--context", str(ctx), "--out", str(other)]) == 2
    assert "already exists" in _error_line(capsys, "generate")
    assert (ctx / "events.csv").read_bytes() == before and (other / "session.json").exists()


def _zip_not_a_model(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{not json")


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(b""), "not a Keras model file (empty"),
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000)), "not a Keras model file (5000 bytes"),
        (lambda p: (_zip_not_a_model(p), p.write_bytes(p.read_bytes()[:-30])), "not a Keras model file"),  # truncated
        (_zip_not_a_model, "cannot load the model"),
    ],
    ids=["empty", "random", "truncated", "zip_not_a_model"],
)
def test_corrupt_model_is_one_line_naming_the_file(tmp_path, capsys, damage, reason):
    run = tmp_path / "run"
    run.mkdir()
    (run / "preprocessing.json").write_text("{}")
    damage(run / "model.keras")
    ctx = _session(tmp_path / "real")
    assert main(["-q", "generate", "--model", str(run / "model.keras"), "--context", str(ctx), "--out", str(tmp_path / "g")]) == 2
    line = _error_line(capsys, "generate")
    assert f"{run / 'model.keras'}: {reason}" in line
    assert "File not found" not in line
    assert main(["-q", "evaluate", "--model", str(run / "model.keras"), "--sessions", str(ctx), "--out", str(tmp_path / "rep")]) == 2
    assert f"{run / 'model.keras'}: {reason}" in _error_line(capsys, "evaluate")
    assert not (tmp_path / "g").exists() and not (tmp_path / "rep").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "run"]  # no temporary folder left


def test_dataset_build_without_the_sessions_folder_is_one_line(tmp_path, capsys):
    assert main(["-q", "dataset", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "data")]) == 2
    assert "nope: no such sessions folder" in _error_line(capsys, "dataset")
    assert not (tmp_path / "data").exists()


@pytest.fixture(scope="module")
def run_prep(tmp_path_factory):
    """A run folder with only preprocessing.json (all serve-request needs from a run)."""
    from actiongen_keras.data.normalize import fit_preprocessing
    from actiongen_keras.testing.runs import tiny_data_config
    from actiongen_keras.testing.sessions import tiny_sessions

    root = tmp_path_factory.mktemp("run_prep")
    sessions = tiny_sessions()
    fit_preprocessing([(s, None) for s in sessions], tiny_data_config(), all_sessions=sessions).save(root / "run" / "preprocessing.json")
    write_session(sessions[1], root / "sapi")
    return root


@pytest.mark.parametrize(
    "window, message",
    [
        ("@nan", "--window: T_MS must be a finite number of milliseconds, got 'nan'"),
        ("@-1e9", "no event in the 1.2 s before T = -1e+09 ms (its events span 0..12000 ms); the request would be all padding"),
        ("@1e9", "no event in the 1.2 s before T = 1e+09 ms"),
    ],
)
def test_serve_request_window_outside_the_session_is_refused(run_prep, capsys, window, message):
    args = ["serve-request", "--model", str(run_prep / "run" / "model.keras"), "--window", str(run_prep / "sapi") + window]
    assert main(args) == 2
    assert message in _error_line(capsys, "serve-request")


def test_serve_request_out_into_a_missing_folder_is_one_line(run_prep, tmp_path, capsys):
    args = ["serve-request", "--model", str(run_prep / "run" / "model.keras"), "--window", f"{run_prep / 'sapi'}@7000"]
    assert main([*args, "--out", str(tmp_path / "nope" / "r.json")]) == 2
    assert f"the folder {tmp_path / 'nope'} does not exist" in _error_line(capsys, "serve-request")
    assert main([*args, "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["signature_name"] == "serving_default"


def test_validate_names_a_looping_symlink_as_unreadable(tmp_path, capsys):
    folder = _session(tmp_path / "s")
    (folder / "events.csv").unlink()
    (folder / "events.csv").symlink_to(folder / "events.csv")
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{folder / 'events.csv'}: cannot read file" in out and "missing" not in out


@pytest.mark.parametrize("flag, value, message", [("--windows-ahead", "0", "--windows-ahead: must be >= 1, got 0"),
                                                  ("--recovery", "1.5", "--recovery: must be <= 1"),
                                                  ("--xy-top-p", "0", "--xy-top-p: must be > 0")])
def test_dataset_rollouts_refuses_numbers_out_of_range(flag, value, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["dataset", "rollouts", "s", "--model", "m", "--data", "d", "--out", "o", flag, value])
    assert e.value.code == 2
    assert message in _error_line(capsys, "dataset rollouts")


def test_dataset_rollouts_without_the_model_is_one_line(tmp_path, capsys):
    args = ["-q", "dataset", "rollouts", str(tmp_path), "--model", str(tmp_path / "nope" / "model.keras"), "--data", str(tmp_path),
            "--out", str(tmp_path / "ro")]
    assert main(args) == 2
    assert "nope" in _error_line(capsys, "dataset")
    assert not (tmp_path / "ro").exists()
