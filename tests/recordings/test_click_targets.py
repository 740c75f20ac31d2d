"""Click targets from presses (recordings/click_targets.py): the current target at each snapshot,
when it appeared, the drag's end, the noise, and the import flag on a real SapiMouse slice."""

from pathlib import Path

import numpy as np

from actiongen_keras.cli import main
from actiongen_keras.data.normalize import declared_anchors
from actiongen_keras.recordings import click_targets as CT
from actiongen_keras.recordings.session import Events, Session, read_session

FIX = Path(__file__).parent / "importers" / "fixtures" / "sapimouse"


def _session(state=None, columns=None):
    # a click at (100, 100) at 500-600 ms, then a right-button drag (300, 200) -> (500, 400) at 1500-1800 ms
    ev = Events.from_columns(
        t_ms=[0, 500, 600, 1000, 1500, 1600, 1800, 2000],
        type=["move", "press", "release", "move", "press", "move", "release", "move"],
        x=[10, 100, 100, 200, 300, 400, 500, 510],
        y=[10, 100, 100, 150, 200, 300, 400, 410],
        button=["", "left", "left", "", "right", "", "right", ""],
    )
    return Session(session_id="s1", source="test", subject="p", screen=(800, 600), events=ev, state=state, state_columns=columns)


def _at(state, t):
    i = int(np.flatnonzero(state.t_ms == t)[0])
    return {k: v[i] for k, v in state.columns.items()}


def test_the_current_target_is_the_first_unreleased_press_and_appeared_at_the_last_release():
    state, n = CT.click_target_state(_session().events, "s1", noise_px=0.0)
    assert n == 2 and state.t_ms[0] == 0 and state.t_ms[-1] == 2000 and np.all(np.diff(state.t_ms) == CT.STEP_MS)
    first = _at(state, 0)
    assert (first["target_x"], first["target_y"], first["target_end_x"], first["target_end_y"]) == (100, 100, 100, 100)
    assert first["target_dt_ms"] == 0 and first["target_button"] == "left"
    held = _at(state, 550)  # pressed, not yet released: still the target
    assert (held["target_x"], held["target_dt_ms"]) == (100, -550)
    drag = _at(state, 650)  # the click is done: the drag is next, shown since its release at 600 ms
    assert (drag["target_x"], drag["target_y"], drag["target_end_x"], drag["target_end_y"]) == (300, 200, 500, 400)
    assert drag["target_dt_ms"] == -50 and drag["target_end_dt_ms"] == -50 and drag["target_button"] == "right"
    assert _at(state, 1700)["target_dt_ms"] == -1100  # held mid-drag
    done = _at(state, 1850)
    assert np.isnan(done["target_x"]) and np.isnan(done["target_dt_ms"]) and done["target_button"] == ""


def test_noise_is_seeded_by_the_session_and_of_the_stated_size():
    events = Events.from_columns(t_ms=np.arange(2000.0) * 100, type=["press", "release"] * 1000, x=np.full(2000, 400.0),
                                 y=np.full(2000, 300.0), button=["left"] * 2000)
    a, _ = CT.click_target_state(events, "a", step_ms=200.0)  # one row per target
    a2, _ = CT.click_target_state(events, "a", step_ms=200.0)
    b, _ = CT.click_target_state(events, "b", step_ms=200.0)
    dx = a.columns["target_x"][:-1] - 400.0
    np.testing.assert_array_equal(a.columns["target_x"], a2.columns["target_x"])
    assert not np.allclose(a.columns["target_x"], b.columns["target_x"], equal_nan=True)
    assert abs(np.std(dx) - CT.POSITION_NOISE_PX) < 0.5 and abs(np.mean(dx)) < 0.5


def test_a_game_state_is_never_replaced_and_no_press_gives_none():
    s = _session()
    targeted = CT.with_click_targets(s)
    assert targeted.extra["state_source"] == CT.STATE_SOURCE and targeted.extra["click_targets"]["targets"] == 2
    names = {c["name"] for c in targeted.state_columns if c["kind"] == "numeric"}
    anchors = declared_anchors([targeted], names, 8)
    assert [(a["name"], a["x"], a["dt_ms"]) for a in anchors] == [("target", "target_x", "target_dt_ms"), ("target_end", "target_end_x", "target_end_dt_ms")]
    assert CT.with_click_targets(targeted) is None
    moves = Events.from_columns(t_ms=[0, 16], type=["move", "move"], x=[1, 2], y=[1, 2])
    assert CT.with_click_targets(Session(session_id="m", source="t", subject="p", screen=(10, 10), events=moves)) is None


def test_import_flag_writes_targets_that_read_back(tmp_path):
    out = tmp_path / "out"
    assert main(["-q", "import", "--source", "sapimouse", "--click-targets", str(FIX), str(out)]) == 0
    folders = sorted(p.parent for p in out.rglob("session.json"))
    assert folders
    for folder in folders:
        s, _ = read_session(folder, "strict")
        assert s.extra["state_source"] == CT.STATE_SOURCE
        presses = s.events.t_ms[s.events.type == "press"]
        assert s.extra["click_targets"]["targets"] == len(presses) > 0
        # before the first release the target is the first press, within a few noise sigmas
        first = np.flatnonzero(s.events.type == "press")[0]
        tx = s.state.columns["target_x"][0]
        assert abs(tx - s.events.x[first]) < 6 * CT.POSITION_NOISE_PX


def test_a_task_shows_the_recording_before_its_start_and_then_advances_on_the_players_clicks():
    s = CT.with_click_targets(_session(), noise_px=0.0)
    task = CT.ClickTask.from_session(s, start_ms=700.0)  # the click (done at 600 ms) is behind; the drag is current
    before = task.state(700.0)
    recorded, _ = CT.click_target_state(s.events, "s1", noise_px=0.0)
    for name in ("target_x", "target_dt_ms", "target_button"):
        np.testing.assert_array_equal(before.columns[name], recorded.columns[name][: len(before.t_ms)])
    assert task.index == 1 and task.targets_done == 0
    # a press 30 px off the drag's target and its release do nothing; a press within 20 px does it on release
    task.observe([800, 850], ["press", "release"], [330, 330], [200, 200], ["left", "left"])
    assert task.index == 1
    task.observe([900, 950, 1000], ["press", "move", "release"], [310, 400, 500], [205, 300, 400], ["right", "", "right"])
    assert task.index == 2 and task.targets_done == 1
    st = task.state(1200.0)
    at = {t: i for i, t in enumerate(st.t_ms)}
    assert st.columns["target_x"][at[950]] == 300 and st.columns["target_dt_ms"][at[950]] == -350  # shown since the click's release at 600 ms
    assert np.isnan(st.columns["target_x"][at[1000]]) and st.columns["target_button"][at[1000]] == ""  # no target left
