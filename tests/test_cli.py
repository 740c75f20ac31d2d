"""The `actiongen` command: exit codes and one line per problem, never a traceback."""

import numpy as np

from actiongen_keras.cli import main
from actiongen_keras.recordings.session import Events, Session, write_session


def _write(folder, sid="a"):
    ev = Events.from_columns(t_ms=np.array([0.0, 5.0]), type=["move", "move"])
    return write_session(Session(session_id=sid, source="t", subject="p", screen=(10, 10), events=ev), folder, compress=False)


def test_validate_ok_and_problems(tmp_path, capsys):
    _write(tmp_path / "good")
    assert main(["validate", str(tmp_path)]) == 0
    bad = _write(tmp_path / "bad", sid="b")
    (bad / "events.csv").write_text("t_ms,type,x,y,button,key,scroll_dx,scroll_dy\n10,move,1,1,,,0,0\n5,move,1,1,,,0,0\n")
    dup = _write(tmp_path / "dup", sid="a")
    assert dup.exists()
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith(str(bad / "events.csv") + ":3: field 't_ms': time goes backwards") for line in out)
    assert any("session_id" in line and "duplicate" in line for line in out)
    assert len(out) == 2


def test_validate_accepts_real_recorder_values_with_notes_and_rejects_insane_numbers(tmp_path, capsys):
    # fractional and zero-notch scrolls, a second monitor (negative y): valid, noted
    real = _write(tmp_path / "real")
    (real / "events.csv").write_text("t_ms,type,x,y,button,key,scroll_dx,scroll_dy\n"
                                     "0,move,5,-30,,,0,0\n8,scroll,5,-30,,,0,0.25\n16,scroll,5,-30,,,0,0\n")
    assert main(["validate", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [(f"{real}: note: 100.0% of positions outside the screen (3 of 3, 3 far outside); "
                    "50.0% of scrolls fractional (1 of 2); 1 zero-notch scroll(s)")]
    # a last t_ms of 1e308 used to pass here and crash `dataset build`
    (real / "events.csv").write_text("t_ms,type,x,y,button,key,scroll_dx,scroll_dy\n0,move,5,5,,,0,0\n1e308,move,5,5,,,0,0\n")
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{real / 'events.csv'}:3: field 't_ms': outside the sane range [0, 1e+10] ms"]


def test_validate_missing_folder_is_a_problem_not_a_crash(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or folder" in capsys.readouterr().out


def test_import_missing_folder_is_an_error_line(tmp_path, capsys):
    assert main(["-q", "import", "--source", "sapimouse", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    assert "no such folder" in capsys.readouterr().err
