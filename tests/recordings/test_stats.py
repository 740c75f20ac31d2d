"""`actiongen stats`: the table's numbers come from the sessions, and the plots are written."""

import json

import numpy as np

from actiongen_keras.recordings.session import Events, Session, write_session
from actiongen_keras.recordings.stats import write_report


def _session(sid, source, subject, t, types, x=None, screen=(100, 100)):
    n = len(t)
    ev = Events.from_columns(
        t_ms=np.asarray(t, float),
        type=types,
        x=np.asarray(x if x is not None else np.zeros(n), float),
        y=np.zeros(n),
        button=["left" if k in ("press", "release") else "" for k in types],
    )
    return Session(session_id=sid, source=source, subject=subject, screen=screen, events=ev)


def test_stats_table_counts_hours_and_percentiles(tmp_path):
    # 11 moves 10 ms apart moving 20 px each (speed 2 px/ms), then a click.
    t = list(np.arange(0, 110, 10.0)) + [3_600_000.0 - 100, 3_600_000.0]
    types = ["move"] * 11 + ["press", "release"]
    x = list(np.arange(0, 220, 20.0)) + [200.0, 200.0]
    write_session(_session("a", "src", "p1", t, types, x, screen=(300, 100)), tmp_path / "s" / "a")
    write_session(_session("b", "other", "p2", [0.0, 50.0], ["move", "move"], screen=(640, 480)), tmp_path / "s" / "b")
    text, errors, paths = write_report(tmp_path / "s", tmp_path / "out", progress=False)
    assert errors == []
    data = json.loads((tmp_path / "out" / "stats.json").read_text())
    src = data["src"]
    assert src["sessions"] == 1 and src["subjects"] == 1
    assert abs(src["hours"] - 1.0) < 1e-9
    assert src["per_type"]["move"]["events"] == 11
    assert src["per_type"]["move"]["interval_p50_ms"] == 10.0
    # The press follows a 59.9-minute pause, which is beyond the rhythm cut-off: no interval.
    assert src["per_type"]["release"]["interval_p50_ms"] == 100.0
    assert data["other"]["screens"] == {"640x480": 1}
    assert "src          move              11     10.0     10.0     10.0" in text
    for name in ("stats.txt", "stats.json", "intervals.png", "speed.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_stats_lists_unreadable_sessions(tmp_path):
    write_session(_session("a", "src", "p1", [0.0, 1.0], ["move", "move"]), tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "session.json").write_text("{")
    text, errors, _ = write_report(tmp_path, tmp_path / "out", progress=False)
    assert len(errors) == 1 and "invalid JSON" in errors[0]


def test_stats_notes_off_screen_fractional_and_zero_notch_scrolls(tmp_path):
    # a second monitor to the left (x < 0) and a touchpad: valid values, counted as notes
    ev = Events.from_columns(
        t_ms=np.arange(6.0) * 10, type=["move", "move", "scroll", "scroll", "scroll", "move"],
        x=np.array([50.0, -60.0, 50.0, 50.0, 50.0, 50.0]), y=np.full(6, 50.0),
        scroll_dy=np.array([0, 0, 0.3, 1.0, 0.0, 0]),
    )
    write_session(Session(session_id="n", source="desk", subject="p", screen=(100, 100), events=ev), tmp_path / "s" / "n")
    text, errors, _ = write_report(tmp_path / "s", tmp_path / "out", progress=False)
    assert errors == []
    notes = json.loads((tmp_path / "out" / "stats.json").read_text())["desk"]["notes"]
    assert notes == {"events": 6, "outside_screen": 1, "offscreen": 1, "scrolls": 3, "fractional_scrolls": 1, "zero_notch_scrolls": 1}
    assert ("notes: 16.7% of positions outside the screen (1 of 6, 1 far outside); 33.3% of scrolls fractional (1 of 3); "
            "1 zero-notch scroll(s)") in text
