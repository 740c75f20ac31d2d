import numpy as np
import pytest
from helpers import events, session

from actiongen_keras.evaluation import osu_hits as H
from actiongen_keras.recordings.importers import osu
from actiongen_keras.recordings.importers.osu_beatmap import parse_osu

# CS 4 -> radius 36.48 px; OD 5 -> 50-window 150 ms. Three circles and a spinner.
MAP = b"""osu file format v14

[General]
Mode: 0

[Difficulty]
HPDrainRate:5
CircleSize:4
OverallDifficulty:5
ApproachRate:9
SliderMultiplier:1.4

[TimingPoints]
0,500,4,2,0,100,1,0

[HitObjects]
100,100,1000,1,0,0:0:0:0:
300,200,1500,1,0,0:0:0:0:
400,300,2000,1,0,0:0:0:0:
256,192,2500,12,0,3000,0:0:0:0:
"""
OFFSET = 200.0  # map time of the session's t_ms = 0


def _session(rows, with_state=False):
    s = session(events(rows), extra={"map_time_offset_ms": OFFSET, "mods": [], "beatmap_file": "m.osu"}, time_scale=1.0)
    if with_state:
        s.state = osu.build_state(parse_osu(MAP), 0, OFFSET, 1.0, float(s.events.t_ms[-1]))
        s.state_columns = [dict(c) for c in osu.STATE_COLUMNS]
    return s


ROWS = [
    (0, "move", 10, 10, "", ""),
    (780, "move", 101, 99, "", ""), (800, "key_down", 101, 99, "", "k1"), (850, "key_up", 101, 99, "", "k1"),  # hit 1 (t=800)
    (1290, "move", 300, 200, "", ""),                                    # on circle 2 but no click: miss
    (1700, "move", 390, 290, "", ""), (1900, "key_down", 390, 290, "", "k2"), (1950, "key_up", 390, 290, "", "k2"),  # 100 ms late: hit
    (2300, "move", 256, 192, "", ""),  # spinner: ignored
]


def test_hits_from_the_beatmap(tmp_path):
    (tmp_path / "m.osu").write_bytes(MAP)
    s = _session(ROWS)
    obj = H.hit_objects(s, beatmap_dir=tmp_path)
    assert obj.origin == "beatmap"
    np.testing.assert_allclose(obj.t, [800, 1300, 1800, 2300])
    assert obj.radius == pytest.approx(36.48) and obj.window_ms == pytest.approx(150.0)
    r = H.hit_rate(s, objects=obj)
    assert (r["n_objects"], r["hits"]) == (3, 2)
    assert r["rate"] == pytest.approx(2 / 3)


def test_hits_from_state_agree():
    s = _session(ROWS, with_state=True)
    obj = H.objects_from_state(s)
    np.testing.assert_allclose(obj.t, [800, 1300, 1800, 2300], atol=1e-6)
    r = H.hit_rate(s)
    assert r["origin"] == "state" and (r["n_objects"], r["hits"]) == (3, 2)


def test_cursor_outside_or_click_outside_the_window_is_a_miss(tmp_path):
    (tmp_path / "m.osu").write_bytes(MAP)
    rows = [(0, "move", 10, 10, "", ""), (790, "move", 140, 100, "", ""), (800, "key_down", 140, 100, "", "k1"),  # 40 px off
            (1300, "move", 300, 200, "", ""), (1460, "key_down", 300, 200, "", "k2"),  # 160 ms late
            (1800, "move", 400, 300, "", ""), (1801, "press", 400, 300, "left", ""), (2300, "move", 0, 0, "", "")]
    r = H.hit_rate(_session(rows), beatmap_dir=tmp_path)
    assert (r["n_objects"], r["hits"]) == (3, 1)


def test_hr_flips_y_and_dt_scales_time(tmp_path):
    (tmp_path / "m.osu").write_bytes(MAP)
    s = _session(ROWS)
    s.extra["mods"] = ["HR", "DT"]
    s.time_scale = 1.5
    obj = H.hit_objects(s, beatmap_dir=tmp_path)
    np.testing.assert_allclose(obj.y[:3], [384 - 100, 384 - 200, 384 - 300])
    np.testing.assert_allclose(obj.t[0], (1000 - OFFSET) / 1.5)


def test_misses_are_told_apart_by_aim_and_click(tmp_path):
    """A late arrival (reached 50 ms after the hit time, clicked on time), an object never
    reached, a pass 60 ms early: none hit, each for its own reason."""
    (tmp_path / "m.osu").write_bytes(MAP)
    rows = [(0, "move", 10, 10, "", ""), (700, "move", 50, 50, "", ""), (800, "key_down", 50, 50, "", "k1"),
            (850, "move", 100, 100, "", ""), (1000, "move", 0, 380, "", ""),  # circle 1 (t=800) late; circle 2 (t=1300, 300,200) never
            (1740, "move", 400, 300, "", ""), (1770, "move", 500, 300, "", ""), (2300, "move", 0, 0, "", "")]  # circle 3 (t=1800) early
    s = _session(rows)
    o = H.object_hits(s, H.hit_objects(s, beatmap_dir=tmp_path))
    assert o["hit"].tolist() == [False, False, False]
    assert o["inside"].tolist() == [False, False, False]
    assert o["clicked"].tolist() == [True, False, False]
    assert o["reached"].tolist() == [True, False, True]
    np.testing.assert_allclose(o["approach_offset_ms"][[0, 2]], [50.0, -60.0])
    r = H.pooled_hit_rate([s], beatmap_dir=tmp_path)
    assert (r["rate"], r["rate_inside"], r["rate_clicked"], r["rate_reached"]) == (0.0, 0.0, pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert r["approach_offset_ms"]["n"] == 2 and r["approach_offset_ms"]["median"] == pytest.approx(-5.0)
    # the player of ROWS: every object reached, on time or within its window
    p = H.pooled_hit_rate([_session(ROWS)], beatmap_dir=tmp_path)
    assert p["rate_reached"] == 1.0 and p["rate_inside"] == 1.0 and p["rate_clicked"] == pytest.approx(2 / 3)
