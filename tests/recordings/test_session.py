"""The actiongen-session/1 reader and writer: round trip, strict errors, repair reports."""

import gzip
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actiongen_keras.errors import ActiongenError, FormatError
from actiongen_keras.recordings.session import (
    EVENT_COLUMNS,
    Events,
    Session,
    State,
    read_session,
    validate_events,
    write_session,
)

HEADER = ",".join(EVENT_COLUMNS)


def make_session(**kw):
    ev = Events.from_columns(
        t_ms=[0.0, 10.5, 20.0, 30.0, 31.0, 40.25],
        type=["move", "press", "release", "key_down", "key_up", "scroll"],
        x=[1.0, 2.0, 3.25, 3.25, 3.25, 3.25],
        y=[4.0, 5.0, 6.0, 6.0, 6.0, 6.0],
        button=["", "left", "left", "", "", ""],
        key=["", "", "", "shift", "shift", ""],
        scroll_dy=[0, 0, 0, 0, 0, -2],
    )
    defaults = dict(
        session_id="s1",
        source="test",
        subject="p1",
        screen=(100, 80),
        events=ev,
        game="demo",
        state_columns=[{"name": "hp", "kind": "numeric"}, {"name": "anim", "kind": "categorical"}, {"name": "busy", "kind": "bool"}],
        state=State(
            t_ms=np.array([0.0, 600.0]),
            columns={"hp": np.array([1.5, np.nan]), "anim": np.array(["idle", "run"], dtype=object), "busy": np.array([0.0, 1.0])},
        ),
        time_scale=1.5,
        provenance="made in a test",
        extra={"custom": {"kept": True}},
    )
    defaults.update(kw)
    return Session(**defaults)


def write_events_csv(folder, body, meta=None):
    folder.mkdir(parents=True, exist_ok=True)
    meta = meta or {"format": "actiongen-session/1", "session_id": "x", "source": "t", "subject": "p", "screen": {"width": 100, "height": 100}, "game": None}
    (folder / "session.json").write_text(json.dumps(meta))
    (folder / "events.csv").write_text(HEADER + "\n" + body)
    return folder


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_gives_the_same_session(tmp_path, compress):
    s = make_session()
    write_session(s, tmp_path / "s", compress=compress)
    r, report = read_session(tmp_path / "s")
    assert not report
    for name in ("t_ms", "x", "y", "scroll_dx", "scroll_dy"):
        np.testing.assert_array_equal(getattr(r.events, name), getattr(s.events, name))
    for name in ("type", "button", "key"):
        assert list(getattr(r.events, name)) == list(getattr(s.events, name))
    assert (r.session_id, r.source, r.subject, r.screen, r.game, r.time_scale) == ("s1", "test", "p1", (100, 80), "demo", 1.5)
    assert r.extra == {"custom": {"kept": True}}
    np.testing.assert_array_equal(r.state.t_ms, [0.0, 600.0])
    np.testing.assert_array_equal(r.state.columns["hp"], [1.5, np.nan])
    assert list(r.state.columns["anim"]) == ["idle", "run"]
    np.testing.assert_array_equal(r.state.columns["busy"], [0.0, 1.0])


def test_round_trip_keeps_offscreen_marks(tmp_path):
    s = make_session(state=None, state_columns=None)
    s.events.offscreen[2] = True
    write_session(s, tmp_path / "s")
    r, _ = read_session(tmp_path / "s")
    assert r.events.offscreen.tolist() == [False, False, True, False, False, False]


@pytest.mark.parametrize(
    "body, line, field, reason",
    [
        ("0,move,1,2,,,0,0\n5,jump,1,2,,,0,0\n", 3, "type", "unknown event type"),
        ("0,move,1,2,,,0,0\n5,move,abc,2,,,0,0\n", 3, "x", "'abc' is not a number"),
        ("0,move,1,2,,,0,0\n5,move,nan,2,,,0,0\n", 3, "x", "not a finite number"),
        ("0,move,1,2,,,0,0\ninf,move,1,2,,,0,0\n", 3, "t_ms", "not a finite number"),
        ("5,move,1,2,,,0,0\n4,move,1,2,,,0,0\n", 3, "t_ms", "time goes backwards"),
        ("0,press,1,2,,,0,0\n", 2, "button", "needs a button"),
        ("0,key_down,1,2,,,0,0\n", 2, "key", "needs a key name"),
        ("0,move,1,2,,,0,0\n1,move,1,2\n", 3, None, "has 4 fields"),
        ("0,move,65535,65535,,,0,0\n", 2, "x", "far outside"),
        ("0,scroll,1,2,,,0,0\n", 2, "scroll_dx", "zero notches"),
        ("0,move,1,2,left,,0,0\n", 2, "button", "set on a 'move' event"),
    ],
)
def test_strict_names_file_line_and_reason(tmp_path, body, line, field, reason):
    folder = write_events_csv(tmp_path / "s", body)
    with pytest.raises(FormatError) as e:
        read_session(folder)
    assert e.value.path.endswith("events.csv")
    assert e.value.line == line
    assert e.value.field == field
    assert reason in str(e.value)
    assert f"events.csv:{line}" in str(e.value)


def test_repair_fixes_and_counts_every_change(tmp_path):
    body = (
        "0,move,1,2,,,0,0\n"  # line 2 ok
        "5,jump,1,2,,,0,0\n"  # 3 unknown type -> dropped
        "3,move,nan,2,,,0,0\n"  # 4 NaN -> dropped
        "2,move,1,2,,,0,0\n"  # 5 ok, out of order
        "1,move,9999,2,,,0,0\n"  # 6 off-screen -> marked
        "7,move,1,2,left,,0,0\n"  # 7 stray button -> cleared
        "8,move\n"  # 8 wrong field count -> dropped
    )
    folder = write_events_csv(tmp_path / "s", body)
    s, report = read_session(folder, "repair")
    assert s.events.t_ms.tolist() == [0.0, 1.0, 2.0, 7.0]
    assert s.events.offscreen.tolist() == [False, True, False, False]
    assert s.events.button.tolist() == ["", "", "", ""]
    changes = {what: n for (_, what), n in report.changes.items()}
    assert changes["dropped row: type: unknown event type (expected one of move, press, release, scroll, key_down, key_up)"] == 1
    assert changes["dropped row: x: not a finite number"] == 1
    assert changes["dropped row: wrong number of fields"] == 1
    assert changes["marked off-screen position"] == 1
    assert changes["cleared stray 'button'"] == 1
    assert changes["sorted rows by time (rows moved)"] == 2
    # 7 data rows in, 4 kept: the 3 dropped rows are all counted.
    assert sum(n for what, n in changes.items() if what.startswith("dropped")) == 3
    assert any("e.g. line 3" in line for line in report.lines())


@pytest.mark.parametrize(
    "meta_patch, field",
    [
        ({"format": "other/1"}, "format"),
        ({"session_id": "bad id!"}, "session_id"),
        ({"subject": ""}, "subject"),
        ({"screen": {"width": 0, "height": 10}}, "screen.width"),
        ({"screen": {"width": 10.5, "height": 10}}, "screen.width"),
        ({"time_scale": -1}, "time_scale"),
        ({"state_columns": [{"name": "a", "kind": "vector"}]}, "state_columns"),
        ({"state_columns": [{"name": "a", "kind": "numeric", "anchor": "o", "role": "z"}]}, "state_columns"),
        ({"state_columns": [{"name": "a", "kind": "categorical", "anchor": "o", "role": "x"}]}, "state_columns"),
        ({"state_columns": [{"name": "a", "kind": "numeric", "role": "x"}]}, "state_columns"),
    ],
)
def test_bad_metadata_names_the_key(tmp_path, meta_patch, field):
    meta = {"format": "actiongen-session/1", "session_id": "x", "source": "t", "subject": "p", "screen": {"width": 100, "height": 100}, "game": None}
    meta.update(meta_patch)
    folder = write_events_csv(tmp_path / "s", "0,move,1,2,,,0,0\n", meta)
    with pytest.raises(FormatError) as e:
        read_session(folder)
    assert e.value.field == field
    assert "session.json" in e.value.path


def test_missing_and_empty_and_corrupt_files(tmp_path):
    with pytest.raises(FormatError, match="missing session.json"):
        read_session(tmp_path)
    folder = write_events_csv(tmp_path / "s", "")
    (folder / "events.csv").write_text("")
    with pytest.raises(FormatError, match="empty file"):
        read_session(folder)
    (folder / "events.csv").unlink()
    (folder / "events.csv.gz").write_bytes(gzip.compress((HEADER + "\n0,move,1,2,,,0,0\n").encode())[:-12])
    with pytest.raises(FormatError, match="cannot read file"):
        read_session(folder)
    (folder / "events.csv.gz").unlink()
    (folder / "session.json").write_text("{not json")
    with pytest.raises(FormatError, match="invalid JSON"):
        read_session(folder)


def test_state_errors_name_the_column(tmp_path):
    s = make_session()
    folder = write_session(s, tmp_path / "s", compress=False)
    (folder / "state.csv").write_text("t_ms,hp,anim,busy\n0,1,idle,0\n600,lots,run,1\n")
    with pytest.raises(FormatError) as e:
        read_session(folder)
    assert (e.value.line, e.value.field) == (3, "hp")
    s2, report = read_session(folder, "repair")
    assert s2.state.t_ms.tolist() == [0.0]
    assert report.total == 1


def test_validate_events_reports_source_lines():
    ev = Events.from_columns(t_ms=[0.0, 5.0, 3.0], type=["move", "move", "move"])
    with pytest.raises(FormatError) as e:
        validate_events(ev, (10, 10), "raw/source.csv", lines=[10, 20, 30])
    assert e.value.line == 30 and "raw/source.csv:30" in str(e.value)
    fixed, report = validate_events(ev, (10, 10), "raw/source.csv", "repair", lines=[10, 20, 30])
    assert fixed.t_ms.tolist() == [0.0, 3.0, 5.0]
    assert report.total == 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(alphabet=st.sampled_from(list("0123456789.,-+eEnaifmovespr_kyd\n\"lt ")), max_size=300), mode=st.sampled_from(["strict", "repair"]))
def test_no_input_makes_the_reader_raise_anything_but_its_own_error(tmp_path, body, mode):
    folder = write_events_csv(tmp_path / "h", body)
    try:
        s, report = read_session(folder, mode)
    except ActiongenError:
        return
    assert np.all(np.diff(s.events.t_ms) >= 0)
    assert np.all(np.isfinite(s.events.t_ms))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_in_any_file_raise_only_format_errors(tmp_path, data):
    folder = write_session(make_session(), tmp_path / "b", compress=False)
    for name in ("session.json", "events.csv", "state.csv"):
        original = (folder / name).read_bytes()
        (folder / name).write_bytes(data)
        try:
            read_session(folder, "repair")
        except ActiongenError:
            pass
        (folder / name).write_bytes(original)


# --------------------------------------------------------------------------- hardening (#13)


def test_gzip_files_are_byte_identical_whatever_the_clock(tmp_path, monkeypatch):
    clock = iter([1_000_000_000.0, 1_700_000_000.0])
    monkeypatch.setattr(gzip.time, "time", lambda: next(clock, 1.8e9))  # gzip writes time.time() into its header by default
    a = write_session(make_session(), tmp_path / "a")
    b = write_session(make_session(), tmp_path / "b")
    for name in ("events.csv.gz", "state.csv.gz"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_looping_events_symlink_is_unreadable_not_missing(tmp_path):
    folder = write_session(make_session(), tmp_path / "s", compress=False)
    (folder / "events.csv").unlink()
    (folder / "events.csv").symlink_to(folder / "events.csv")
    with pytest.raises(FormatError, match="cannot read file") as e:
        read_session(folder)
    assert "missing" not in str(e.value) and str(folder / "events.csv") in str(e.value)


def test_upper_case_key_is_refused_strict_and_lower_cased_in_repair(tmp_path):
    folder = write_events_csv(tmp_path / "s", "0,key_down,1,1,,Shift,0,0\n5,key_up,1,1,,shift,0,0\n")
    with pytest.raises(FormatError, match="events.csv:2: field 'key': key names are lower case, got 'Shift'"):
        read_session(folder)
    session, report = read_session(folder, "repair")
    assert list(session.events.key) == ["shift", "shift"]
    assert report.changes == {("events.csv", "lower-cased key name"): 1}


def test_undeclared_state_columns_are_refused_strict_and_counted_in_repair(tmp_path):
    folder = write_session(make_session(), tmp_path / "s", compress=False)
    lines = (folder / "state.csv").read_text().splitlines()
    (folder / "state.csv").write_text("\n".join([lines[0] + ",secret"] + [line + ",7" for line in lines[1:]]) + "\n")
    with pytest.raises(FormatError, match="state.csv:1: column\\(s\\) \\['secret'\\] not declared"):
        read_session(folder)
    session, report = read_session(folder, "repair")
    assert "secret" not in session.state.columns
    assert report.changes == {("state.csv", "dropped undeclared state column(s) secret"): 1}
