"""SapiMouse importer: real slices (fixtures/sapimouse), broken files, folder summary, fuzzing."""

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
from actiongen_keras.recordings.importers.sapimouse import import_folder, read_sapimouse
from actiongen_keras.recordings.session import read_session, write_session
from actiongen_keras.testing.paths import shared_data

FIX = Path(__file__).parent / "fixtures" / "sapimouse"
USER1 = FIX / "user1" / "session_2020_05_14_1min.csv.gz"
USER39 = FIX / "user39" / "session_2020_05_29_3min.csv.gz"


def _lines(path):
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def _write(path, lines, compress=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_real_slice_counts_times_screen_subject():
    session, report, notes = read_sapimouse(USER1)
    ev = session.events
    assert Counter(ev.type) == {"move": 392, "press": 4, "release": 4}
    assert Counter(ev.button[ev.type == "press"]) == {"left": 3, "right": 1}
    assert ev.t_ms[0] == 0.0 and ev.t_ms[-1] == 26249 - 15585
    assert (ev.x[0], ev.y[0]) == (967, 706)
    assert session.screen == (1487, 726)
    assert session.subject == "sapimouse-user1"
    assert session.session_id == "sapimouse-user1-2020_05_14_1min"
    assert session.source == "sapimouse" and "SACI 2021" in session.provenance
    assert not report and notes == []
    # Drags are moves carrying no button; the button is held between press and release.
    assert set(ev.button[ev.type == "move"]) == {""}


def test_other_button_is_middle_and_noted():
    session, _, notes = read_sapimouse(USER39)
    ev = session.events
    assert Counter(ev.type) == {"move": 95, "press": 3, "release": 2}
    assert Counter(ev.button[ev.type == "press"]) == {"left": 2, "middle": 1}
    assert ev.t_ms[-1] == 121457 - 116785
    assert notes == ["button 'Other' taken as the middle button"]


def test_roundtrip_through_the_format(tmp_path):
    session, _, _ = read_sapimouse(USER1)
    write_session(session, tmp_path / "s")
    back, _ = read_session(tmp_path / "s")
    assert back.screen == session.screen and len(back.events) == 400
    np.testing.assert_array_equal(back.events.t_ms, session.events.t_ms)


def test_strict_names_the_line_and_repair_counts(tmp_path):
    lines = _lines(USER1)
    lines[9] = "15717,NoButton,Move,abc,471"  # line 10 of the file
    lines[20] = "1,NoButton,Move,5,5"  # line 21: time goes backwards
    bad = _write(tmp_path / "user7" / "session_x_1min.csv.gz", lines)
    with pytest.raises(FormatError) as e:
        read_sapimouse(bad)
    assert e.value.line == 10 and e.value.field == "x" and ":10:" in str(e.value)
    session, report, _ = read_sapimouse(bad, repair=True)
    assert len(session.events) == 399
    changes = {what: n for (_, what), n in report.changes.items()}
    assert changes["dropped row: x: 'abc' is not a number"] == 1
    assert changes["sorted rows by time (rows moved)"] >= 1
    assert report.examples[(bad.name, "dropped row: x: 'abc' is not a number")] == [10]
    assert np.all(np.diff(session.events.t_ms) >= 0)


def test_wrong_field_count_and_unknown_state(tmp_path):
    lines = _lines(USER1)
    lines[4] = "15651,NoButton,Move,690"
    lines[6] = "15684,NoButton,Hover,570,528"
    bad = _write(tmp_path / "u" / "s.csv.gz", lines)
    with pytest.raises(FormatError, match="has 4 fields, header has 5") as e:
        read_sapimouse(bad)
    assert e.value.line == 5
    session, report, _ = read_sapimouse(bad, repair=True)
    assert len(session.events) == 398
    assert report.total == 2


def test_corrupt_gzip_empty_and_header_only(tmp_path):
    truncated = tmp_path / "u" / "trunc.csv.gz"
    truncated.parent.mkdir()
    truncated.write_bytes(USER1.read_bytes()[:400])
    with pytest.raises(FormatError, match="corrupt gzip"):
        read_sapimouse(truncated)
    empty = tmp_path / "u" / "empty.csv.gz"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="empty file"):
        read_sapimouse(empty, repair=True)
    header_only = _write(tmp_path / "u" / "h.csv.gz", ["client timestamp,button,state,x,y"])
    with pytest.raises(FormatError, match="no events"):
        read_sapimouse(header_only)
    wrong_header = _write(tmp_path / "u" / "w.csv.gz", ["t,button,state,x,y", "1,NoButton,Move,1,1"])
    with pytest.raises(FormatError, match="header lacks") as e:
        read_sapimouse(wrong_header)
    assert e.value.line == 1


def test_folder_summary_lists_the_failed_file(tmp_path):
    src = tmp_path / "in"
    shutil.copytree(FIX, src)
    (src / "user5").mkdir()
    (src / "user5" / "session_2020_01_01_1min.csv.gz").write_bytes(USER1.read_bytes()[:300])
    summary = import_folder(src, tmp_path / "out", progress=False)
    assert summary.exit_code == 1
    assert [f for f, _ in summary.failed] == ["user5/session_2020_01_01_1min.csv.gz"]
    assert len(summary.written) == 2 and summary.events == 500
    assert (tmp_path / "out" / "sapimouse-user1-2020_05_14_1min" / "session.json").exists()
    assert "1 failed" in summary.text() and "middle" in summary.text()


def test_real_file_when_present():
    session, _, _ = read_sapimouse(shared_data("sapimouse") / "user1" / "session_2020_05_14_1min.csv.gz")
    assert len(session.events) > 1000 and session.subject == "sapimouse-user1"


# --------------------------------------------------------------------------- fuzzing

_TOKENS = [b",", b"\n", b"\r\n", b"nan", b"inf", b"-1e309", b"\xff\xfe", b"Pressed", b"Other", b"", b"  ", b"\x00"]




def _only_actiongen_errors(tmp_path, data, name):
    path = tmp_path / "user3" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    assert_only_own_errors(read_sapimouse, path, tmp_path / "out")


@FUZZ_SETTINGS
@given(data=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(tmp_path, data):
    _only_actiongen_errors(tmp_path, data, "session_a_1min.csv.gz")
    _only_actiongen_errors(tmp_path, data, "session_a_1min.csv")


_BASE = gzip.decompress(USER39.read_bytes())


@FUZZ_SETTINGS
@given(data=mutated(_BASE, _TOKENS))
def test_fuzz_mutated_real_text(tmp_path, data):
    _only_actiongen_errors(tmp_path, gzip.compress(data), "session_m_1min.csv.gz")


@FUZZ_SETTINGS
@given(data=mutated(USER39.read_bytes(), _TOKENS))
def test_fuzz_mutated_real_gzip(tmp_path, data):
    _only_actiongen_errors(tmp_path, data, "session_g_1min.csv.gz")
