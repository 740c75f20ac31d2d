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
    event_notes,
    notes_text,
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
def test_text_with_carriage_returns_and_newlines_round_trips(tmp_path, compress):
    """A text field holding a carriage return (found by the aalto importer's fuzz test: the
    CSV writer does not quote it) or a newline reads back as written, not as a broken row."""
    anim = np.array(["id\rle", "r\nun"], dtype=object)
    s = make_session(state=State(t_ms=np.array([0.0, 600.0]), columns={"hp": np.array([1.5, 2.0]), "anim": anim, "busy": np.array([0.0, 1.0])}))
    write_session(s, tmp_path / "s", compress=compress)
    r, report = read_session(tmp_path / "s")
    assert not report
    assert list(r.state.columns["anim"]) == ["id\rle", "r\nun"]
    np.testing.assert_array_equal(r.state.columns["hp"], [1.5, 2.0])


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
        ("0,move,1,2,,,0,0\n1e308,move,1,2,,,0,0\n", 3, "t_ms", "outside the sane range [0, 1e+10] ms"),
        ("-5,move,1,2,,,0,0\n", 2, "t_ms", "outside the sane range"),
        ("0,move,1,2,,,0,0\n5,move,1,-2e6,,,0,0\n", 3, "y", "outside the sane range [-1e+06, 1e+06] px"),
        ("0,scroll,1,2,,,0,1e30\n", 2, "scroll_dy", "outside the sane range [-10000, 10000] notches"),
        ("0,scroll,1,2,,,x,1\n", 2, "scroll_dx", "'x' is not a number"),
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


# ---------------------------------------------------------------- real recorders (issue 14)


def _meta(width, height):
    return {"format": "actiongen-session/1", "session_id": "x", "source": "desktop", "subject": "p",
            "screen": {"width": width, "height": height}, "game": None}


def test_touchpad_scroll_stream_is_read_exactly_in_strict_mode(tmp_path):
    # A browser on a touchpad: a stream of parts of a notch at ~60 Hz, decaying momentum,
    # and one event that reports no movement at all (lifted fingers).
    dy = [0.05, 0.2, 0.45, 0.8, 0.6, 0.33, 0.15, 0.066, 0.02, 0.0]
    body = "0,move,400,300,,,0,0\n" + "".join(f"{16 * (i + 1)},scroll,400,300,,,0,{v}\n" for i, v in enumerate(dy))
    body += "200,scroll,400,300,,,-0.25,0\n"
    folder = write_events_csv(tmp_path / "s", body, _meta(800, 600))
    s, report = read_session(folder)
    assert not report
    scroll = s.events.type == "scroll"
    assert s.events.scroll_dy[scroll].tolist() == dy + [0.0]
    assert s.events.scroll_dx[scroll].tolist() == [0.0] * 10 + [-0.25]
    notes = event_notes(s.events, s.screen)
    assert (notes["scrolls"], notes["fractional_scrolls"], notes["zero_notch_scrolls"]) == (11, 10, 1)
    assert notes_text(notes) == "90.9% of scrolls fractional (10 of 11); 1 zero-notch scroll(s)"
    # and back: written to 1/1000 of a notch
    write_session(s, tmp_path / "w")
    r, _ = read_session(tmp_path / "w")
    np.testing.assert_array_equal(r.events.scroll_dy, s.events.scroll_dy)


def test_second_monitor_above_gives_negative_y_kept_and_marked(tmp_path):
    # Two 1920x1080 monitors, the second above the first: the recorder's frame is the first,
    # so a cursor on the second has y in [-1080, 0).
    body = "0,move,960,540,,,0,0\n10,move,900,-20,,,0,0\n20,move,800,-700,,,0,0\n30,press,790,-1075,left,,0,0\n40,release,790,-1075,left,,0,0\n"
    folder = write_events_csv(tmp_path / "s", body, _meta(1920, 1080))
    s, report = read_session(folder)
    assert not report
    assert s.events.y.tolist() == [540, -20, -700, -1075, -1075]
    assert s.events.offscreen.tolist() == [False, False, True, True, True]  # > half a screen outside
    notes = event_notes(s.events, s.screen)
    assert (notes["outside_screen"], notes["offscreen"]) == (4, 3)
    assert notes_text(notes).startswith("80.0% of positions outside the screen (4 of 5, 3 far outside)")


def test_cursor_outside_the_game_window_is_kept(tmp_path):
    # osu!'s 512x384 playfield: the cursor leaves the window (and an unfocused window reports ~14,000).
    body = "0,move,256,192,,,0,0\n16,move,-130,400,,,0,0\n33,move,14000,13800,,,0,0\n50,key_down,14000,13800,,k1,0,0\n"
    folder = write_events_csv(tmp_path / "s", body, _meta(512, 384))
    s, _ = read_session(folder)
    assert s.events.x.tolist() == [256, -130, 14000, 14000]
    assert s.events.offscreen.tolist() == [False, False, True, True]


SANE = {"t_ms": (0.0, 1e10), "x": (-1e6, 1e6), "y": (-1e6, 1e6), "scroll_dy": (-1e4, 1e4)}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(SANE)), value=st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-2e10, max_value=2e10),
    st.sampled_from([1e308, -1e308, 1e30, 1e10, 1e10 + 1, 1e6, -1e6 - 0.5, 1e4, 10000.001, -0.001, 0.0]),
))
def test_numbers_beyond_the_sane_bounds_are_rejected_or_dropped_and_counted(tmp_path, field, value):
    row = {"t_ms": "1", "x": "5", "y": "5", "scroll_dy": "1"}
    row[field] = repr(value)
    body = "0,move,1,1,,,0,0\n" + f"{row['t_ms']},scroll,{row['x']},{row['y']},,,0,{row['scroll_dy']}\n"
    if field == "t_ms":  # keep time non-decreasing whatever the value, so only the bound decides
        body = f"{row['t_ms']},scroll,5,5,,,0,1\n"
    folder = write_events_csv(tmp_path / "b", body)
    low, high = SANE[field]
    ok = low <= value <= high
    line = 2 if field == "t_ms" else 3
    if ok:
        s, _ = read_session(folder)
        got = {"t_ms": s.events.t_ms, "x": s.events.x, "y": s.events.y, "scroll_dy": s.events.scroll_dy}[field][-1]
        assert got == float(repr(value))
        return
    with pytest.raises(FormatError) as e:
        read_session(folder)
    assert (e.value.line, e.value.field) == (line, field)
    assert "outside the sane range" in str(e.value)
    s, report = read_session(folder, "repair")
    assert len(s.events) == (0 if field == "t_ms" else 1)
    assert sum(n for (_, what), n in report.changes.items() if what.startswith(f"dropped row: {field}: outside the sane range")) == 1


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


_THOUSANDTHS = lambda lo, hi: st.integers(lo * 1000, hi * 1000).map(lambda v: v / 1000)  # noqa: E731  (the writer keeps 1/1000)


@st.composite
def valid_events(draw):
    """A valid event stream: non-decreasing times, each field only on its event types."""
    n = draw(st.integers(1, 40))
    steps = draw(st.lists(_THOUSANDTHS(0, 5000), min_size=n, max_size=n))
    types = draw(st.lists(st.sampled_from(["move", "press", "release", "scroll", "key_down", "key_up"]), min_size=n, max_size=n))
    cols = {"t_ms": np.cumsum(steps).round(3).tolist(), "type": types,
            "x": draw(st.lists(_THOUSANDTHS(0, 1920), min_size=n, max_size=n)), "y": draw(st.lists(_THOUSANDTHS(0, 1080), min_size=n, max_size=n))}
    buttons = draw(st.lists(st.sampled_from(["left", "right", "middle", "x1", "x2"]), min_size=n, max_size=n))
    keys = draw(st.lists(st.sampled_from(["a", "shift", "space", "f1", "9"]), min_size=n, max_size=n))
    notches = draw(st.lists(st.tuples(_THOUSANDTHS(-5, 5), _THOUSANDTHS(-5, 5)), min_size=n, max_size=n))
    cols["button"] = [b if t in ("press", "release") else "" for t, b in zip(types, buttons)]
    cols["key"] = [k if t in ("key_down", "key_up") else "" for t, k in zip(types, keys)]
    cols["scroll_dx"] = [d[0] if t == "scroll" else 0.0 for t, d in zip(types, notches)]
    cols["scroll_dy"] = [d[1] if t == "scroll" else 0.0 for t, d in zip(types, notches)]
    return cols


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cols=valid_events(), compress=st.booleans())
def test_any_valid_session_reads_back_identically(tmp_path, cols, compress):
    """A positive property: a reader that rejected (or altered) valid input fails here."""
    s = make_session(events=Events.from_columns(**cols), screen=(1920, 1080))
    write_session(s, tmp_path / "h", compress=compress)
    r, report = read_session(tmp_path / "h", "strict")
    assert not report
    for name in ("t_ms", "x", "y", "scroll_dx", "scroll_dy"):
        np.testing.assert_array_equal(getattr(r.events, name), np.asarray(cols[name], dtype=np.float64), err_msg=name)
    for name in ("type", "button", "key"):
        assert list(getattr(r.events, name)) == cols[name], name
