"""Pseudo game state from a replay's own key presses (``actiongen import --source osu_replays``)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from actiongen_keras.cli import main
from actiongen_keras.recordings.importers import osu, osu_pseudo
from actiongen_keras.recordings.importers.osu_beatmap import read_osu
from actiongen_keras.recordings.session import read_session

SHARED_REPLAYS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "osu_replays"
HR_WITH_MAP = "0273_stolen-136-1"  # HD+HR, its map is in beatmaps_osu/
needs_shared = pytest.mark.skipif(not SHARED_REPLAYS.is_dir(), reason="../shared/data/osu_replays not present")

# 12 presses, 400 map ms apart from map 1000, alternating K1 (+M1) and K2 (+M2); press 5 is held
# 300 ms (a slider), the others 60 ms. The cursor is at P_i at T_i, moving in straight lines.
T0 = -500
PRESS_T = 1000 + 400 * np.arange(12)
PRESS_X = 50.0 + 30 * np.arange(12)
PRESS_Y = 100.0 + 20 * (np.arange(12) % 3)
HOLD = np.where(np.arange(12) == 5, 300, 60)


def synthetic_rows(offscreen_press=None, double_press=None):
    """``(t, x, y, keys)`` frames every 10 map ms (two dummies first), with the presses above."""
    t = np.arange(T0, 6001, 10)
    x = np.interp(t, PRESS_T, PRESS_X)
    y = np.interp(t, PRESS_T, PRESS_Y)
    keys = np.zeros(len(t), dtype=int)
    for i, (ti, h) in enumerate(zip(PRESS_T, HOLD)):
        keys[(t >= ti) & (t < ti + h)] |= 5 if i % 2 == 0 else 10
    if double_press is not None:  # the other key goes down on the same frame
        ti = PRESS_T[double_press]
        keys[(t >= ti) & (t < ti + 60)] |= 10 if double_press % 2 == 0 else 5
    if offscreen_press is not None:  # the window lost focus: osu! writes a huge position
        x[t == PRESS_T[offscreen_press]] = 14000.0
    return [(0, 256, -500, 0), (-1, 256, -500, 0)] + list(zip(t, x, y, keys))


def write_frames_csv(folder, stem, rows, mods="NM", human_input="human", mode="osu!std", md5="0" * 32):
    folder = Path(folder)
    (folder / "frames_csv").mkdir(parents=True, exist_ok=True)
    text = "t_ms,x,y,keys\n" + "".join(f"{t},{x:g},{y:g},{k}\n" for t, x, y, k in rows)
    (folder / "frames_csv" / f"{stem}.csv.gz").write_bytes(gzip.compress(text.encode()))
    index = folder / "index.csv"
    new = not index.exists()
    with open(index, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["file", "mode", "player", "mods", "human_input", "beatmap_md5"])
        if new:
            w.writeheader()
        w.writerow({"file": stem, "mode": mode, "player": f"p_{stem}", "mods": mods, "human_input": human_input, "beatmap_md5": md5})
    return folder


def import_pseudo(src, out, repair=False):
    summary = osu.import_folder(src, out, repair=repair, progress=False, pseudo_state=True)
    assert summary.failed == [], summary.text()
    return summary


def obj0_rows(session, i, speed):
    """State rows whose next object is press ``i`` (after press ``i - 1``, before press ``i``)."""
    m = session.state.t_ms * speed + T0
    lo = PRESS_T[i - 1] if i else -np.inf
    return (m > lo) & (m <= PRESS_T[i]) & np.isfinite(session.state.columns["obj0_x"])


@pytest.mark.parametrize("mods,speed", [("NM", 1.0), ("HRDT", 1.5)])
def test_anchors_sit_on_the_presses_without_noise(tmp_path, monkeypatch, mods, speed):
    monkeypatch.setattr(osu_pseudo, "POSITION_NOISE_PX", 0.0)
    monkeypatch.setattr(osu_pseudo, "TIME_NOISE_MS", 0.0)
    src = write_frames_csv(tmp_path / "in", "play", synthetic_rows(), mods=mods)
    summary = import_pseudo(src, tmp_path / "out")
    s, _ = read_session(summary.written[0])
    assert s.extra["state_source"] == "pseudo_from_presses" and s.game == "osu!"
    assert s.state_columns == [dict(c) for c in osu.STATE_COLUMNS]  # the same columns and anchors as a real map
    info = s.extra["pseudo_state"]
    assert (info["presses"], info["objects"], info["sliders"], info["spinners"]) == (12, 12, 1, 0)
    c = s.state.columns
    for i in range(12):
        rows = obj0_rows(s, i, speed)
        assert rows.sum() >= 2
        np.testing.assert_allclose(c["obj0_x"][rows], PRESS_X[i])
        np.testing.assert_allclose(c["obj0_y"][rows], PRESS_Y[i])  # HR: the cursor's frame, as the player saw it
        wall_press = (PRESS_T[i] - T0) / speed
        np.testing.assert_allclose(s.state.t_ms[rows] + c["obj0_dt_ms"][rows], wall_press, atol=1e-3)
        assert set(c["obj0_kind"][rows]) == {"slider" if i == 5 else "circle"}
    # the slider ends where and when its key was released
    rows = obj0_rows(s, 5, speed)
    np.testing.assert_allclose(s.state.t_ms[rows] + c["obj0_end_dt_ms"][rows], (PRESS_T[5] + 300 - T0) / speed, atol=1e-3)
    np.testing.assert_allclose(c["obj0_end_x"][rows], np.interp(PRESS_T[5] + 300, PRESS_T, PRESS_X))
    # the map's constants come from the assumed difficulty, changed by the mods as for a real map
    assert c["approach_ms"][0] == pytest.approx((450.0 if "HR" in mods else 600.0) / speed)


def test_noise_moves_anchors_by_the_players_error_reproducibly(tmp_path):
    src = write_frames_csv(tmp_path / "in", "play", synthetic_rows())
    a, _ = read_session(import_pseudo(src, tmp_path / "a").written[0])
    b, _ = read_session(import_pseudo(src, tmp_path / "b").written[0])
    np.testing.assert_array_equal(a.state.columns["obj0_x"], b.state.columns["obj0_x"])  # seeded by the session id
    dx = np.array([a.state.columns["obj0_x"][obj0_rows(a, i, 1.0)][0] - PRESS_X[i] for i in range(12)])
    assert np.all(dx != 0) and np.all(np.abs(dx) < 5 * osu_pseudo.POSITION_NOISE_PX)
    assert a.extra["pseudo_state"]["position_noise_px"] == osu_pseudo.POSITION_NOISE_PX


def test_noise_spread_matches_the_declared_error():
    """Over 2,000 presses the position and time offsets have the declared standard deviations."""
    from actiongen_keras.recordings.session import Events

    n = 2000
    t = np.repeat(np.arange(n) * 200.0, 2) + np.tile([0.0, 50.0], n)
    typ = np.tile(["key_down", "key_up"], n).astype(object)
    x = np.repeat(np.linspace(50, 450, n), 2)
    ev = Events.from_columns(t_ms=t, type=typ, x=x, y=np.full(2 * n, 192.0), key=np.full(2 * n, "k1", dtype=object))
    noisy, _ = osu_pseudo.pseudo_beatmap(ev, 0, 0.0, 1.0, "s", noise=True)
    exact, _ = osu_pseudo.pseudo_beatmap(ev, 0, 0.0, 1.0, "s", noise=False)
    a, b = np.argsort(noisy.objects.line), np.argsort(exact.objects.line)  # by press: noise may reorder close objects
    dx = noisy.objects.x[a] - exact.objects.x[b]
    dt = noisy.objects.time[a] - exact.objects.time[b]
    assert np.std(dx) == pytest.approx(osu_pseudo.POSITION_NOISE_PX, rel=0.1)
    assert np.std(dt) == pytest.approx(osu_pseudo.TIME_NOISE_MS, rel=0.1)
    assert abs(np.mean(dx)) < 1.0 and abs(np.mean(dt)) < 1.0


def test_double_and_offscreen_presses_are_counted_not_objects(tmp_path, monkeypatch):
    monkeypatch.setattr(osu_pseudo, "POSITION_NOISE_PX", 0.0)
    monkeypatch.setattr(osu_pseudo, "TIME_NOISE_MS", 0.0)
    src = write_frames_csv(tmp_path / "in", "play", synthetic_rows(offscreen_press=3, double_press=7))
    s, _ = read_session(import_pseudo(src, tmp_path / "out").written[0])
    info = s.extra["pseudo_state"]
    assert (info["presses"], info["merged_presses"], info["offscreen_presses"], info["objects"]) == (13, 1, 1, 11)
    xs = set(np.unique(s.state.columns["obj0_x"][np.isfinite(s.state.columns["obj0_x"])]))
    assert xs == set(PRESS_X) - {PRESS_X[3]}


def test_spinner_is_a_long_hold_turning_around_the_centre(tmp_path):
    from actiongen_keras.recordings.session import Events

    t = np.arange(0, 3000, 10.0)
    ang = 2 * np.pi * t / 500  # 6 turns in 3 s
    x, y = 256 + 80 * np.cos(ang), 192 + 80 * np.sin(ang)
    typ = np.full(len(t), "move", dtype=object)
    key = np.full(len(t), "", dtype=object)
    typ[0], key[0], typ[-1], key[-1] = "key_down", "k1", "key_up", "k1"
    ev = Events.from_columns(t_ms=t, type=typ, x=x, y=y, key=key)
    taps = Events.from_columns(t_ms=3100 + np.repeat(np.arange(10) * 300.0, 2) + np.tile([0, 60.0], 10),
                               type=np.tile(["key_down", "key_up"], 10).astype(object), x=np.full(20, 100.0),
                               y=np.full(20, 100.0), key=np.full(20, "k2", dtype=object))
    b, info = osu_pseudo.pseudo_beatmap(Events.concatenate([ev, taps]), 0, 0.0, 1.0, "s", noise=False)
    assert info["spinners"] == 1 and b.objects.kind[0] == 2
    assert (b.objects.x[0], b.objects.y[0], b.objects.end_time[0]) == (256, 192, 2990)


def test_replays_that_cannot_have_a_pseudo_state_are_skipped_with_the_reason(tmp_path):
    src = tmp_path / "in"
    write_frames_csv(src, "relax", synthetic_rows(), mods="RX", human_input="relax(human cursor, bot keys)")
    write_frames_csv(src, "mania", [(0, 256, -500, 0), (-1, 256, -500, 0), (0, 1, 0, 0), (100, 0, 0, 0)], mode="osu!mania")
    write_frames_csv(src, "tiny", synthetic_rows()[:300])  # to map 2470: 4 presses
    summary = import_pseudo(src, tmp_path / "out")
    assert summary.written == []
    reasons = dict(summary.skipped)
    assert "relax" in reasons["relax.csv.gz"] and "osu!mania" in reasons["mania.csv.gz"]
    assert "only 4 on-screen key press(es)" in reasons["tiny.csv.gz"]
    # the plain osu importer still imports them input-only (or cursor-only)
    plain = osu.import_folder(src, tmp_path / "plain", progress=False)
    assert len(plain.written) == 3 and plain.skipped == []


@needs_shared
def test_replay_with_its_map_uses_the_real_map_and_pseudo_objects_are_close(tmp_path):
    src = tmp_path / "in"
    (src / "frames_csv").mkdir(parents=True)
    shutil.copy(SHARED_REPLAYS / "frames_csv" / f"{HR_WITH_MAP}.csv.gz", src / "frames_csv")
    shutil.copy(SHARED_REPLAYS / "index.csv", src)
    for m in (SHARED_REPLAYS / "beatmaps_osu").glob("*.osu"):
        shutil.copy(m, src)
    real, _ = read_session(osu.import_folder(src, tmp_path / "osu", progress=False).written[0])
    mixed, _ = read_session(import_pseudo(src, tmp_path / "replays").written[0])
    assert mixed.extra["state_source"] == "beatmap" and "pseudo_state" not in mixed.extra
    for name in osu.STATE_COLUMN_NAMES:  # exactly the osu importer's state
        np.testing.assert_array_equal(mixed.state.columns[name], real.state.columns[name])
    # the same replay without its map: pseudo objects, close to the real ones (HD+HR)
    beatmap = read_osu(src / real.extra["beatmap_file"])
    for m in src.glob("*.osu"):
        m.unlink()
    pseudo_session, _ = read_session(import_pseudo(src, tmp_path / "pseudo").written[0])
    assert pseudo_session.extra["state_source"] == "pseudo_from_presses"
    pseudo, _ = osu_pseudo.pseudo_beatmap(pseudo_session.events, osu.mods_from_names("HDHR"), real.extra["map_time_offset_ms"],
                                          real.time_scale, real.session_id, noise=False)
    m = osu_pseudo.match_objects(pseudo.objects, beatmap.objects, window_ms=200 - 10 * min(beatmap.od * 1.4, 10))
    assert m["real_objects"] == 338 and m["matched"] == 1.0
    assert 5 < m["median_position_error_px"] < 15 and m["median_time_error_ms"] < 10
    assert m["unmatched_pseudo"] < 0.02 and m["same_kind"] > 0.9


@pytest.mark.slow  # the CLI's start-up (validate loads Keras) takes ~10 s here
@needs_shared
def test_real_slice_imports_and_validates(tmp_path, capsys):
    """Four real replays (no map, one relax, one with its map, one mania) through the CLI."""
    stems = ["0049_corrected_replay1", "0087_legit_144fps_nmrx", HR_WITH_MAP, "0528_mania"]
    src = tmp_path / "in"
    (src / "frames_csv").mkdir(parents=True)
    for stem in stems:
        shutil.copy(SHARED_REPLAYS / "frames_csv" / f"{stem}.csv.gz", src / "frames_csv")
    shutil.copy(SHARED_REPLAYS / "index.csv", src)
    shutil.copytree(SHARED_REPLAYS / "beatmaps_osu", src / "beatmaps_osu")
    assert main(["-q", "import", "--source", "osu_replays", "--repair", str(src), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "2 session(s) written" in out and "2 skipped" in out
    assert main(["-q", "validate", str(tmp_path / "out")]) == 0
    meta = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*/session.json")}
    assert meta["osu_0049_corrected_replay1"]["state_source"] == "pseudo_from_presses"
    assert meta[f"osu_{HR_WITH_MAP}"]["state_source"] == "beatmap"
    assert meta["osu_0049_corrected_replay1"]["pseudo_state"]["objects"] > 200
