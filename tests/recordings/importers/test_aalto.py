"""Aalto keystrokes importer: real slices (fixtures/aalto), key names, bad rows, folder summary, fuzzing."""

import gzip
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from importer_fuzzing import FUZZ_SETTINGS, assert_only_own_errors, mutated

from actiongen_keras.errors import FormatError
from actiongen_keras.recordings.importers.aalto import (
    import_folder,
    key_names,
    read_aalto,
)
from actiongen_keras.recordings.session import read_session, write_session
from actiongen_keras.testing.paths import shared_data

FIX = Path(__file__).parent / "fixtures" / "aalto" / "participants"
P1002 = FIX / "1002_keystrokes.txt.gz"  # 60 keystrokes, two sentences
P1466 = FIX / "1466_keystrokes.txt.gz"  # line 9: RELEASE_TIME before PRESS_TIME (as in the real file)
P2917 = FIX / "2917_keystrokes.txt.gz"  # line 33: RELEASE_TIME written as 1.471968e+12
HEADER = "PARTICIPANT_ID\tTEST_SECTION_ID\tSENTENCE\tUSER_INPUT\tKEYSTROKE_ID\tPRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE"


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join([HEADER, *rows]) + "\n").encode("latin-1")))
    return path


def test_real_slice_counts_times_keys_state():
    session, report, notes = read_aalto(P1002)
    ev = session.events
    assert Counter(ev.type) == {"key_down": 60, "key_up": 60}
    keys = Counter(ev.key[ev.type == "key_down"])
    assert keys["e"] == 8 and keys["backspace"] == 7 and keys["space"] == 6 and keys["shift"] == 4
    assert keys["t"] == 5 and keys["h"] == 2  # 'T' and 't' are the same key
    assert all(k == k.lower() and k for k in keys)
    assert ev.t_ms[0] == 0 and ev.t_ms[-1] == 1471948508817 - 1471948496904
    assert ev.type[0] == "key_down" and ev.key[0] == "shift"
    assert session.screen == (1920, 1080) and set(ev.x) == {0} and set(ev.y) == {0}
    assert session.subject == session.session_id == "aalto-1002"
    assert session.extra == {"cursor_recorded": False} and "Non-commercial" in session.provenance
    assert list(session.state.columns["test_section_id"]) == ["10319", "10334"]
    assert session.state.columns["sentence"][0] == "The results were expected back Tuesday."
    assert session.state.t_ms[0] == 0 and session.state.t_ms[1] > 0
    assert not report and notes == []


def test_scientific_release_time_and_roundtrip(tmp_path):
    session, _, _ = read_aalto(P2917)
    ev = session.events
    assert len(ev) == 78 and Counter(ev.key[ev.type == "key_down"])["space"] == 8
    origin = 1471967987048
    assert (1471968000000 - origin) in set(ev.t_ms[ev.type == "key_up"])
    write_session(session, tmp_path / "s")
    back, _ = read_session(tmp_path / "s")
    assert len(back.events) == 78 and back.extra == {"cursor_recorded": False}
    assert list(back.state.columns["test_section_id"]) == ["30911", "30920"]


def test_release_before_press_strict_and_repair():
    with pytest.raises(FormatError) as e:
        read_aalto(P1466)
    assert e.value.line == 9 and e.value.field == "RELEASE_TIME"
    session, report, _ = read_aalto(P1466, repair=True)
    assert len(session.events) == 2 * 15
    assert report.changes[(P1466.name, "dropped row: RELEASE_TIME: release before its press (PRESS_TIME)")] == 1
    assert report.examples[(P1466.name, "dropped row: RELEASE_TIME: release before its press (PRESS_TIME)")] == [9]


def test_tab_in_sentence_is_a_bad_row_and_order(tmp_path):
    path = _write(
        tmp_path / "7_keystrokes.txt.gz",
        [
            "7\t1\tHi\tHi\t1\t1000\t1100\tSHIFT\t16",
            "7\t1\tHi\twith\ttab\tHi\t2\t1050\t1090\tH\t72",  # line 3: 11 fields
            "7\t1\tHi\tHi\t4\t1300\t1350\ti\t73",
            "7\t1\tHi\tHi\t3\t1200\t1250\t\t229",  # listed after a later press; no LETTER
            "7\t1\tHi\tHi\t5\t1400\tsoon\tBKSP\t8",  # line 6
        ],
    )
    with pytest.raises(FormatError, match="has 11 fields, header has 9") as e:
        read_aalto(path)
    assert e.value.line == 3
    session, report, notes = read_aalto(path, repair=True)
    ev = session.events
    assert list(zip(ev.t_ms, ev.type, ev.key)) == [
        (0, "key_down", "shift"),
        (100, "key_up", "shift"),
        (200, "key_down", "process"),
        (250, "key_up", "process"),
        (300, "key_down", "i"),
        (350, "key_up", "i"),
    ]
    assert report.total == 2 and notes == ["1 keystroke rows listed before an earlier press: events sorted by time"]


def test_key_names():
    letters = np.array(["A", " ", "BKSP", "ARw_DOWN", "", "\x08", "NUM_1", "F12", "é", "", "WIN", ","], dtype=object)
    codes = np.array(["65", "32", "8", "40", "190", "8", "97", "123", "0", "x", "91", "188"], dtype=object)
    assert list(key_names(letters, codes)) == [
        "a", "space", "backspace", "down", ".", "backspace", "num_1", "f12", "é", None, "cmd", ",",
    ]


def test_latin1_corrupt_gzip_empty(tmp_path):
    path = _write(tmp_path / "8_keystrokes.txt.gz", ["8\t1\tCaf\xe9\tCaf\xe9\t1\t10\t20\t\xe9\t0"])
    session, _, _ = read_aalto(path)
    assert session.state.columns["sentence"][0] == "Café" and session.events.key[0] == "é"
    path.write_bytes(P1002.read_bytes()[:300])
    with pytest.raises(FormatError, match="corrupt gzip"):
        read_aalto(path, repair=True)
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_aalto(path)
    _write(path, [])
    with pytest.raises(FormatError, match="no events"):
        read_aalto(path)


def test_folder_summary(tmp_path):
    src = tmp_path / "in" / "participants"
    shutil.copytree(FIX, src)
    (src / "9_keystrokes.txt.gz").write_bytes(P1002.read_bytes()[:200])
    summary = import_folder(tmp_path / "in", tmp_path / "out", progress=False)
    assert summary.exit_code == 1
    assert sorted(f for f, _ in summary.failed) == ["participants/1466_keystrokes.txt.gz", "participants/9_keystrokes.txt.gz"]
    assert sorted(Path(w).name for w in summary.written) == ["aalto-1002", "aalto-2917"]
    assert summary.events == 120 + 78
    repaired = import_folder(tmp_path / "in", tmp_path / "out_r", repair=True, progress=False)
    assert len(repaired.written) == 3 and repaired.repairs.total == 1 and repaired.exit_code == 1


def test_real_file_when_present():
    session, _, _ = read_aalto(shared_data("keystrokes_aalto", "participants") / "1002_keystrokes.txt.gz")
    assert len(session.events) == 1510 and len(session.state) == 15


# --------------------------------------------------------------------------- fuzzing

_TOKENS = [b"\t", b"\n", b"\r\n", b"nan", b"inf", b"1e400", b"-5", b"SHIFT", b"", b"\x00", b"\xe9", b"1.4e+12"]




def _only_actiongen_errors(tmp_path, data):
    path = tmp_path / "3_keystrokes.txt.gz"
    path.write_bytes(data)
    assert_only_own_errors(read_aalto, path, tmp_path / "out")


@FUZZ_SETTINGS
@given(data=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)
    _only_actiongen_errors(tmp_path, gzip.compress(data))


@FUZZ_SETTINGS
@given(data=mutated(gzip.decompress(P2917.read_bytes()), _TOKENS))
def test_fuzz_mutated_real_text(tmp_path, data):
    _only_actiongen_errors(tmp_path, gzip.compress(data))


@FUZZ_SETTINGS
@given(data=mutated(P2917.read_bytes(), _TOKENS))
def test_fuzz_mutated_real_gzip(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)
