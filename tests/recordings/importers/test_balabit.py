"""Balabit importer: real slices (fixtures/balabit), sentinels, broken files, folder summary, fuzzing."""

import gzip
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from importer_fuzzing import FUZZ_SETTINGS, assert_only_own_errors, mutated

from actiongen_keras.errors import FormatError
from actiongen_keras.recordings.importers.balabit import import_folder, read_balabit
from actiongen_keras.recordings.session import read_session
from actiongen_keras.testing.paths import shared_data

FIX = Path(__file__).parent / "fixtures" / "balabit"
PLAIN = FIX / "user29" / "session_5396497934_plain"  # plain text, holds a 65535 sentinel (line 64)
GZ = FIX / "user15" / "session_8848361933"  # gzip without extension, holds an XButton click


def _write(path, text, compress=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def test_gzip_without_extension_counts_times_buttons():
    session, report, _ = read_balabit(GZ)
    ev = session.events
    assert Counter(ev.type) == {"move": 35, "press": 3, "release": 3}
    assert Counter(ev.button[ev.type == "press"]) == {"left": 2, "x1": 1}
    # client timestamp (s) -> ms; the session start stays 0.
    assert ev.t_ms[0] == 12264908 and ev.t_ms[-1] == 12269916
    assert session.screen == (1920, 1080)
    assert session.subject == "balabit-user15" and session.session_id == "balabit-user15-session_8848361933"
    assert not report


def test_sentinel_is_kept_and_marked_off_screen_in_strict_mode():
    # Positions outside the screen are valid (spec); the sentinel is far outside, so it is
    # marked and the data side gives it no position target.
    session, report, _ = read_balabit(PLAIN)
    ev = session.events
    assert not report
    assert ev.offscreen.sum() == 1 and ev.x[ev.offscreen][0] == 65535


def test_repair_marks_sentinel_and_scrolls_become_notches():
    session, report, _ = read_balabit(PLAIN, repair=True)
    ev = session.events
    assert Counter(ev.type) == {"move": 132, "press": 5, "release": 5, "scroll": 3}
    assert ev.t_ms[0] == 0 and ev.t_ms[-1] == 1093801
    assert report.total == 1
    assert report.changes[(PLAIN.name, "marked off-screen position")] == 1
    assert report.examples[(PLAIN.name, "marked off-screen position")] == [64]
    assert ev.offscreen.sum() == 1 and ev.x[ev.offscreen][0] == 65535
    scroll = ev.type == "scroll"
    assert list(ev.scroll_dy[scroll]) == [1, 1, 1] and set(ev.scroll_dx[scroll]) == {0}
    # Wheel rows are logged at (0, 0): they carry the cursor's last position instead.
    assert (ev.x[scroll][0], ev.y[scroll][0]) == (457, 420)


def test_up_is_minus_one_and_time_backwards(tmp_path):
    text = (
        "record timestamp,client timestamp,button,state,x,y\n"
        "0.0,0.0,NoButton,Move,10,10\n"
        "0.1,0.2,Scroll,Up,0,0\n"
        "0.2,0.1,NoButton,Move,12,12\n"
        "0.3,0.3,Middle,Pressed,12,12\n"
        "0.4,0.4,Middle,Released,12,12\n"
    )
    path = _write(tmp_path / "user1" / "session_1", text, compress=False)
    with pytest.raises(FormatError, match="time goes backwards") as e:
        read_balabit(path)
    assert e.value.line == 4
    session, report, _ = read_balabit(path, repair=True)
    assert report.changes[(path.name, "sorted rows by time (rows moved)")] == 2
    assert list(session.events.type) == ["move", "move", "scroll", "press", "release"]
    assert session.events.scroll_dy[2] == -1 and session.events.button[3] == "middle"


def test_bad_pair_and_numbers(tmp_path):
    text = (
        "record timestamp,client timestamp,button,state,x,y\n"
        "0.0,0.0,NoButton,Move,10,10\n"
        "0.1,0.1,NoButton,Pressed,10,10\n"
        "0.2,x,NoButton,Move,10,10\n"
        "0.3,0.3,NoButton,Move,10,nan\n"
        "0.4,0.4,NoButton,Move,11,11,extra\n"
    )
    path = _write(tmp_path / "user1" / "session_2", text)
    with pytest.raises(FormatError, match="has 7 fields") as e:
        read_balabit(path)
    assert e.value.line == 6
    session, report, _ = read_balabit(path, repair=True)
    assert len(session.events) == 1
    whats = sorted(what for _, what in report.changes)
    assert whats == [
        "dropped row: client timestamp: 'x' is not a number",
        "dropped row: state: unknown button/state pair 'NoButton'/'Pressed'",
        "dropped row: wrong number of fields",
        "dropped row: y: not a finite number",
    ]


def test_corrupt_gzip_and_empty(tmp_path):
    bad = tmp_path / "user1" / "session_3"
    bad.parent.mkdir()
    bad.write_bytes(GZ.read_bytes()[:200])
    with pytest.raises(FormatError, match="corrupt gzip"):
        read_balabit(bad, repair=True)
    bad.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_balabit(bad)


def test_folder_summary(tmp_path):
    src = tmp_path / "in" / "training_files"
    shutil.copytree(FIX, src)
    (src / "user9").mkdir()
    (src / "user9" / "session_0000000001").write_bytes(GZ.read_bytes()[:100])
    strict = import_folder(tmp_path / "in", tmp_path / "out_strict", progress=False)
    assert strict.exit_code == 1 and len(strict.written) == 2  # the sentinel file is valid (marked off-screen)
    assert sorted(f for f, _ in strict.failed) == ["training_files/user9/session_0000000001"]
    repaired = import_folder(tmp_path / "in", tmp_path / "out", repair=True, progress=False)
    assert repaired.exit_code == 1 and len(repaired.written) == 2
    assert [f for f, _ in repaired.failed] == ["training_files/user9/session_0000000001"]
    assert repaired.repairs.total == 1 and "marked off-screen position: 1" in repaired.text()
    back, _ = read_session(tmp_path / "out" / "balabit-user29-session_5396497934_plain")
    assert back.events.offscreen.sum() == 1


def test_real_file_when_present():
    session, report, _ = read_balabit(shared_data("balabit", "training_files") / "user29" / "session_5396497934.gz", repair=True)
    assert len(session.events) == 13707 and report.changes[("session_5396497934.gz", "marked off-screen position")] == 13


# --------------------------------------------------------------------------- fuzzing

_TOKENS = [b",", b"\n", b"65535", b"nan", b"inf", b"-1e309", b"\xff", b"Scroll", b"Up", b"", b"\x00", b"1e400"]




def _only_actiongen_errors(tmp_path, data):
    path = tmp_path / "user3" / "session_f"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    assert_only_own_errors(read_balabit, path, tmp_path / "out")


@FUZZ_SETTINGS
@given(data=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)


@FUZZ_SETTINGS
@given(data=mutated(PLAIN.read_bytes()[:3000], _TOKENS))
def test_fuzz_mutated_real_text(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)
    _only_actiongen_errors(tmp_path, gzip.compress(data))


@FUZZ_SETTINGS
@given(data=mutated(GZ.read_bytes(), _TOKENS))
def test_fuzz_mutated_real_gzip(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)
