"""OSRS recorder importer: the real 494-event sample, game-state flattening and time rules, fuzzing."""

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from importer_fuzzing import FUZZ_SETTINGS, assert_only_own_errors, mutated

from actiongen_keras.errors import FormatError
from actiongen_keras.recordings.importers.osrs import (
    STATE_COLUMNS,
    STATE_SCHEMA,
    import_folder,
    read_gamestates,
    read_osrs,
)
from actiongen_keras.recordings.session import STATE_KINDS, read_session, write_session
from actiongen_keras.testing.paths import shared_data

FIX = Path(__file__).parent / "fixtures" / "osrs"
SAMPLE = FIX / "osrs_sample"  # the real actions.csv of ../shared/data/osrs_sample
WITH_STATE = FIX / "with_state"  # its first 59 rows + 4 game-state ticks + recording.json
START_EPOCH = 1755783800000
TICKS = [1755783812400, 1755783813000, 1755783813600, 1755783814200]
KEY_DOWNS = {"a": 1, "d": 2, "s": 4, "w": 4}


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_real_sample_counts_order_clicks_scroll():
    session, report, notes = read_osrs(SAMPLE)
    ev = session.events
    # 494 rows; each of the 7 clicks becomes a press and a release.
    assert len(ev) == 501
    assert Counter(ev.type) == {"move": 462, "key_down": 11, "key_up": 12, "press": 7, "release": 7, "scroll": 2}
    assert ev.t_ms[0] == 0 and ev.t_ms[-1] == 18290 - 12429
    assert np.all(np.diff(ev.t_ms) >= 0)
    assert session.screen == (3408, 763)
    assert session.subject == "osrs-unknown" and session.session_id == "osrs-osrs_sample"
    assert session.state is None and session.game is None
    assert not report
    assert notes[0] == "322 rows of actions.csv out of time order (two recorder queues): sorted"
    assert notes[1].startswith("7 clicks logged as presses only")
    press, release = np.flatnonzero(ev.type == "press"), np.flatnonzero(ev.type == "release")
    np.testing.assert_array_equal(ev.t_ms[press], ev.t_ms[release])
    assert set(ev.button[press]) == {"left"}
    # pynput dy=+1 is the wheel turned up: the format counts down as positive.
    assert list(ev.scroll_dy[ev.type == "scroll"]) == [-1, -1]
    # Key events carry the last cursor position, not the logged (0, 0).
    first_key = np.flatnonzero(ev.type == "key_down")[0]
    assert (ev.t_ms[first_key], ev.key[first_key], ev.x[first_key], ev.y[first_key]) == (22, "d", 543, 345)
    assert Counter(ev.key[ev.type == "key_down"]) == KEY_DOWNS
    assert set(ev.button[ev.type == "move"]) == {""} and set(ev.key[ev.type == "move"]) == {""}


def test_schema_is_declared_and_well_formed():
    names = [name for _, name, _ in STATE_SCHEMA]
    assert len(names) == len(set(names)) == len(STATE_COLUMNS) == 189
    assert all(kind in STATE_KINDS for _, _, kind in STATE_SCHEMA)
    assert ("npcs.0.name", "npc0_name", "categorical") in STATE_SCHEMA
    assert ("bank.open", "bank_open", "bool") in STATE_SCHEMA


def test_game_state_flattened_and_start_epoch_rule():
    session, report, notes = read_osrs(WITH_STATE)
    assert session.subject == "osrs-fixture-player" and session.game == "osrs"
    assert Counter(session.events.type) == {"move": 52, "press": 1, "release": 1, "key_down": 3, "key_up": 3}
    # Rule 2: state time = epoch - start_epoch_ms, on the actions' clock (first tick 12400 ms,
    # first action 12429 ms); t_ms = 0 is the earliest of the two.
    np.testing.assert_array_equal(session.state.t_ms, [0, 600, 1200, 1800])
    assert session.events.t_ms[0] == 29
    c = session.state.columns
    np.testing.assert_array_equal(c["player_x"], [3109, 3109, 3110, 3110])
    assert list(c["player_animation"]) == ["-1", "899", "-1", "899"]
    np.testing.assert_array_equal(c["player_moving"], [0, 0, 1, 0])
    np.testing.assert_array_equal(c["camera_yaw"], [1024, 1088, 1152, 1216])
    assert list(c["inv2_id"]) == ["1607"] * 4 and list(c["inv27_id"]) == ["-1"] * 4
    np.testing.assert_array_equal(c["bank_open"], [0, 0, 0, 1])
    assert list(c["bank0_id"]) == ["", "", "", "1607"] and np.isnan(c["bank0_qty"][0]) and c["bank0_qty"][3] == 250
    # Nearest first: the Man walks away and the Banker becomes the nearest NPC on the last tick.
    assert list(c["npc0_name"]) == ["Man", "Man", "Man", "Banker"]
    np.testing.assert_array_equal(c["npc0_dist"], [2, 6, 10, 13])
    assert list(c["obj0_name"]) == ["Furnace"] * 4 and list(c["obj2_name"]) == ["Bank booth"] * 4
    np.testing.assert_array_equal(c["skill_crafting_xp"], [37224, 37274, 37324, 37374])
    assert list(c["npc3_id"]) == [""] * 4 and np.isnan(c["npc3_dist"]).all()  # only 3 NPCs around
    assert not report and not any("aligned" in n for n in notes)


def test_state_roundtrip_through_the_format(tmp_path):
    session, _, _ = read_osrs(WITH_STATE)
    write_session(session, tmp_path / "s")
    back, _ = read_session(tmp_path / "s")
    assert back.state_columns == STATE_COLUMNS
    assert list(back.state.columns["npc0_name"]) == ["Man", "Man", "Man", "Banker"]
    np.testing.assert_array_equal(back.state.columns["bank_open"], [0, 0, 0, 1])


def test_alignment_rule_without_start_epoch(tmp_path):
    folder = _copy(WITH_STATE, tmp_path / "rec")
    (folder / "recording.json").unlink()
    session, _, notes = read_osrs(folder)
    # Rule 3: the first game state is aligned to the first action.
    np.testing.assert_array_equal(session.state.t_ms, [0, 600, 1200, 1800])
    assert session.events.t_ms[0] == 0
    assert "first game state aligned to the first action" in " ".join(notes)
    assert session.subject == "osrs-unknown"


def test_epoch_actions_use_the_file_names_directly(tmp_path):
    folder = _copy(WITH_STATE, tmp_path / "rec")
    (folder / "recording.json").unlink()
    lines = (folder / "actions.csv").read_text().splitlines()
    shifted = [lines[0]] + [f"{int(r.split(',', 1)[0]) + START_EPOCH},{r.split(',', 1)[1]}" for r in lines[1:]]
    (folder / "actions.csv").write_text("\n".join(shifted) + "\n")
    session, _, notes = read_osrs(folder)
    # Rule 1: same clock; identical to the start-epoch rule's result.
    np.testing.assert_array_equal(session.state.t_ms, [0, 600, 1200, 1800])
    assert session.events.t_ms[0] == 29 and not any("aligned" in n for n in notes)


def test_bad_action_row_strict_line_and_repair_count(tmp_path):
    folder = _copy(SAMPLE, tmp_path / "rec")
    lines = (folder / "actions.csv").read_text().splitlines()
    lines[4] = "12572,move,abc,344,,,0,0"  # line 5
    lines[45] = "13001,click,700,240,thumb,,0,0"  # line 46: the first click
    (folder / "actions.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as e:
        read_osrs(folder)
    assert e.value.line == 5 and e.value.field == "x_in_window" and e.value.path.endswith("actions.csv")
    session, report, _ = read_osrs(folder, repair=True)
    assert len(session.events) == 501 - 1 - 2
    assert report.changes[("actions.csv", "dropped row: x_in_window: 'abc' is not a number")] == 1
    assert report.changes[("actions.csv", "dropped row: btn: 'thumb' is not a mouse button")] == 1


def test_bad_game_state_strict_and_repair(tmp_path):
    folder = _copy(WITH_STATE, tmp_path / "rec")
    gs = folder / "gamestates"
    (gs / f"{TICKS[1]}.json").write_text('{"player": {"world_x": 1,\n "world_y": }}')
    tick = json.loads((gs / f"{TICKS[2]}.json").read_text())
    tick["player"]["world_x"] = "far away"
    (gs / f"{TICKS[2]}.json").write_text(json.dumps(tick))
    with pytest.raises(FormatError) as e:
        read_osrs(folder)
    assert e.value.path.endswith(f"{TICKS[1]}.json") and e.value.line == 2
    session, report, _ = read_osrs(folder, repair=True)
    np.testing.assert_array_equal(session.state.t_ms, [0, 1200, 1800])
    assert np.isnan(session.state.columns["player_x"][1])
    assert report.changes[("gamestates", "dropped tick: invalid JSON (Expecting value)")] == 1
    assert report.changes[("gamestates", "cleared value: player.world_x: 'far away' is not a number")] == 1
    (gs / f"{TICKS[1]}.json").unlink()
    with pytest.raises(FormatError) as e:
        read_osrs(folder)
    assert e.value.field == "player.world_x"


def test_read_gamestates_names_and_objects(tmp_path):
    (tmp_path / "12.json").write_text("[1, 2]")
    (tmp_path / "notatime.json").write_text("{}")
    with pytest.raises(FormatError, match="must hold a JSON object|epoch milliseconds"):
        read_gamestates(tmp_path)
    epochs, cols = read_gamestates(tmp_path, repair=True)
    assert len(epochs) == 0 and len(cols["player_x"]) == 0


def test_empty_and_corrupt_gzip_actions(tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / "actions.csv").write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_osrs(folder)
    (folder / "actions.csv").write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03+I-")
    with pytest.raises(FormatError, match="corrupt gzip"):
        read_osrs(folder, repair=True)
    (folder / "actions.csv").write_text("timestamp,event_type\n1,move\n")
    with pytest.raises(FormatError, match="header lacks"):
        read_osrs(folder)


def test_folder_summary(tmp_path):
    src = tmp_path / "in"
    _copy(SAMPLE, src / "osrs_sample")
    _copy(WITH_STATE, src / "with_state")
    (src / "broken").mkdir()
    (src / "broken" / "actions.csv").write_text("timestamp,event_type,x_in_window,y_in_window,btn,key,scroll_dx,scroll_dy\n")
    summary = import_folder(src, tmp_path / "out", progress=False)
    assert summary.exit_code == 1
    assert [f for f, _ in summary.failed] == ["broken"]
    assert sorted(Path(w).name for w in summary.written) == ["osrs-osrs_sample", "osrs-with_state"]
    assert summary.events == 501 + 60
    text = summary.text()
    assert "322 rows of actions.csv out of time order" in text and "subject 'osrs-unknown'" in text
    # A single recording folder is accepted as in_dir too.
    single = import_folder(SAMPLE, tmp_path / "out2", progress=False)
    assert single.exit_code == 0 and [Path(w).name for w in single.written] == ["osrs-osrs_sample"]


def test_fixture_is_the_real_sample():
    assert (SAMPLE / "actions.csv").read_bytes() == shared_data("osrs_sample", "actions.csv").read_bytes()


# --------------------------------------------------------------------------- fuzzing

_TOKENS = [b",", b"\n", b"click", b"scroll", b"key_press", b"nan", b"inf", b"1e400", b'"', b"\xff", b"", b"\x00"]


_ACTIONS = (WITH_STATE / "actions.csv").read_bytes()
_TICK = (WITH_STATE / "gamestates" / f"{TICKS[0]}.json").read_bytes()


def _only_actiongen_errors(tmp_path, actions, tick=None):
    folder = tmp_path / "rec"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "actions.csv").write_bytes(actions)
    if tick is not None:
        (folder / "gamestates").mkdir()
        (folder / "gamestates" / f"{TICKS[0]}.json").write_bytes(tick)
        (folder / "gamestates" / f"{TICKS[1]}.json").write_bytes(_TICK)
    assert_only_own_errors(read_osrs, folder, tmp_path / "out")


@FUZZ_SETTINGS
@given(data=st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)
    _only_actiongen_errors(tmp_path, _ACTIONS, tick=data)


@FUZZ_SETTINGS
@given(data=mutated(_ACTIONS, _TOKENS))
def test_fuzz_mutated_real_actions(tmp_path, data):
    _only_actiongen_errors(tmp_path, data)


@FUZZ_SETTINGS
@given(data=mutated(_TICK, _TOKENS))
def test_fuzz_mutated_game_state(tmp_path, data):
    _only_actiongen_errors(tmp_path, _ACTIONS, tick=data)


def test_key_names_follow_the_format():
    """pynput's names become the format's (the Aalto importer's and the keyboard layouts'):
    sides merged, AltGr kept apart from Alt (it types other characters)."""
    from actiongen_keras.recordings.importers.osrs import _key_name

    got = {raw: _key_name(raw) for raw in ("'a'", "Key.shift_r", "Key.alt_l", "Key.alt_gr", "Key.space", "Key.enter", "' '", "Key.esc")}
    assert got == {"'a'": "a", "Key.shift_r": "shift", "Key.alt_l": "alt", "Key.alt_gr": "altgr", "Key.space": "space",
                   "Key.enter": "enter", "' '": "space", "Key.esc": "esc"}
