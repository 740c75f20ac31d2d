"""Tests of the osu! importer: .osr/.osu parsing, clock, events, state, bad input."""

from __future__ import annotations

import csv
import gzip
import hashlib
import lzma
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actiongen_keras.errors import ActiongenError, FormatError
from actiongen_keras.recordings.importers import osu
from actiongen_keras.recordings.importers.osu_beatmap import (
    parse_osu,
    preempt_ms,
    read_osu,
)
from actiongen_keras.recordings.importers.osu_replay import (
    parse_frames,
    parse_osr,
    read_frames_csv,
    read_osr,
)
from actiongen_keras.recordings.session import read_session
from actiongen_keras.testing.paths import shared_data

FIXTURES = Path(__file__).parent / "fixtures" / "osu"
REPLAY = FIXTURES / "red_goose_abraker.osr"
BEATMAP = FIXTURES / "red_goose_ert_basic.osu"
# Known from shared/data/osu/index.csv, row 0004_abraker_-_Mutsuhiko_Izumi_-_Red_Goose_ERT_Basic_2019-08-24_Osu.
RED_GOOSE = {"player": "abraker", "mods": 0, "frames": 7869, "beatmap_md5": "d4464e2be7a67f6a0314ee4e65874943", "version": 20190815}

MAP_TEXT = """osu file format v14

[General]
Mode: 0

[Difficulty]
HPDrainRate:5
CircleSize:4
OverallDifficulty:5
ApproachRate:5
SliderMultiplier:1.4
SliderTickRate:1

[TimingPoints]
0,500,4,2,0,50,1,0

[HitObjects]
100,100,1000,1,0,0:0:0:0:
300,200,2000,2,0,L|400:200,1,140
256,192,3000,12,0,4000,0:0:0:0:
"""
MAP_BYTES = MAP_TEXT.encode()
MAP_MD5 = hashlib.md5(MAP_BYTES).hexdigest()


# --------------------------------------------------------------------------- writer helpers


def _string(s):
    if s is None:
        return b"\x00"
    raw = s.encode("utf-8")
    n, out = len(raw), bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    return b"\x0b" + bytes(out) + raw


def frames_text(t_map, x, y, keys, seed=1234):
    """``w|x|y|z,`` text: two dummy frames, frames at map times ``t_map``, the RNG-seed frame."""
    rows = ["0|256|-500|0", "-1|256|-500|0"]
    prev = -1
    for t, xx, yy, k in zip(t_map, x, y, keys):
        rows.append(f"{int(t) - prev}|{xx}|{yy}|{int(k)}")
        prev = int(t)
    if seed is not None:
        rows.append(f"-12345|0|0|{seed}")
    return ",".join(rows) + ","


def make_osr(text, mode=0, mods=0, player="tester", beatmap_md5=MAP_MD5, version=20200101):
    """Bytes of an ``.osr`` file holding the frame ``text``."""
    data = lzma.compress(text.encode(), format=lzma.FORMAT_ALONE)
    out = struct.pack("<Bi", mode, version) + _string(beatmap_md5) + _string(player) + _string("f" * 32)
    out += struct.pack("<6HiHBI", 100, 2, 0, 10, 1, 0, 123456, 300, 0, mods)
    out += _string("") + struct.pack("<q", 637000000000000000) + struct.pack("<i", len(data)) + data
    return out + struct.pack("<q", 42)


def synthetic_frames():
    """Frames every 10 ms from map -1000 to 5000 with K1, K2, M1 and M2 each pressed once."""
    t = np.arange(-1000, 5001, 10)
    x = 100 + (t + 1000) * 0.05
    y = np.full(len(t), 150.0)
    keys = np.zeros(len(t), dtype=int)
    keys[(t >= 950) & (t < 1050)] = 5  # K1 (+M1)
    keys[(t >= 1950) & (t < 2050)] = 10  # K2 (+M2)
    keys[(t >= 3000) & (t < 3100)] = 1  # M1 alone
    keys[(t >= 3500) & (t < 3600)] = 2  # M2 alone
    return t, x, y, keys


def write_play(folder, name="play", mods=0, with_map=True, **kw):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.osr").write_bytes(make_osr(frames_text(*synthetic_frames()), mods=mods, **kw))
    if with_map:
        (folder / "map.osu").write_bytes(MAP_BYTES)
    return folder


def import_one(tmp_path, mods=0, with_map=True, repair=False, **kw):
    src = write_play(tmp_path / "in", mods=mods, with_map=with_map, **kw)
    summary = osu.import_folder(src, tmp_path / "out", repair=repair, progress=False)
    assert summary.failed == [], summary.text()
    session, _ = read_session(summary.written[0])
    return session, summary


def state_col(session, name):
    return session.state.columns[name]


# --------------------------------------------------------------------------- real fixture


def test_real_replay_header_matches_index():
    r = read_osr(REPLAY)
    assert r.mode == 0
    assert r.player == RED_GOOSE["player"]
    assert r.mods == RED_GOOSE["mods"]
    assert r.version == RED_GOOSE["version"]
    assert r.beatmap_md5 == RED_GOOSE["beatmap_md5"]
    # index.csv counts the two dummy frames but not the RNG-seed frame
    assert len(r.frames) + r.frames.dummies == RED_GOOSE["frames"]
    assert r.frames.dummies == 2 and r.frames.rng_seed is not None
    assert r.frames.t_ms[0] < 0  # lead-in
    assert np.all(r.frames.y > -500)


def test_real_replay_matches_shared_index_and_frames_csv():
    shared = shared_data("osu")
    stem = "0004_abraker_-_Mutsuhiko_Izumi_-_Red_Goose_ERT_Basic_2019-08-24_Osu"
    rows = csv.DictReader((shared / "index.csv").read_text(encoding="utf-8").splitlines())
    row = next(r for r in rows if r["file"] == stem)
    r = read_osr(REPLAY)
    assert (r.player, r.beatmap_md5) == (row["player"], row["beatmap_md5"])
    assert len(r.frames) + r.frames.dummies == int(row["frames"])
    decoded = read_frames_csv(shared / "frames_csv" / f"{stem}.csv.gz")
    np.testing.assert_array_equal(decoded.t_ms, r.frames.t_ms)
    np.testing.assert_allclose(decoded.x, r.frames.x, atol=1e-3)
    np.testing.assert_array_equal(decoded.keys, r.frames.keys)


def test_real_beatmap_parses_and_matches_replay_md5():
    bm = read_osu(BEATMAP)
    assert (bm.cs, bm.ar, bm.od) == (3.0, 3.0, 2.0)
    assert len(bm.objects) == 102
    first = bm.objects
    # 320,328,799, slider of 480 px, SliderMultiplier 0.8, beat 300 ms, SV 1 -> 1800 ms
    assert (first.time[0], first.x[0], first.y[0], first.kind[0]) == (799, 320, 328, 1)
    assert first.end_time[0] == pytest.approx(799 + 1800, abs=0.01)
    from actiongen_keras.recordings.importers.osu_beatmap import md5_variants

    assert RED_GOOSE["beatmap_md5"] in md5_variants(BEATMAP.read_bytes())


@pytest.fixture(scope="module")
def red_goose_session(tmp_path_factory):
    src = tmp_path_factory.mktemp("rg_in")
    shutil.copy(REPLAY, src)
    shutil.copy(BEATMAP, src)
    out = tmp_path_factory.mktemp("rg_out")
    summary = osu.import_folder(src, out, repair=False, progress=False)
    assert summary.failed == [] and len(summary.written) == 1, summary.text()
    session, report = read_session(summary.written[0])
    return session


def test_real_key_events_match_frame_transitions(red_goose_session):
    s = red_goose_session
    frames = read_osr(REPLAY).frames
    # count 0->1 transitions with a plain loop, independently of the importer
    want = {"k1": 0, "k2": 0, "left": 0, "right": 0}
    prev = 0
    for k in frames.keys.tolist():
        on = k & ~prev
        want["k1"] += bool(on & 4)
        want["k2"] += bool(on & 8)
        want["left"] += bool((k & 1) and not (k & 4) and not ((prev & 1) and not (prev & 4)))
        want["right"] += bool((k & 2) and not (k & 8) and not ((prev & 2) and not (prev & 8)))
        prev = k
    ev = s.events
    for key in ("k1", "k2"):
        assert int(((ev.type == "key_down") & (ev.key == key)).sum()) == want[key]
    for btn in ("left", "right"):
        assert int(((ev.type == "press") & (ev.button == btn)).sum()) == want[btn]
    assert want["k1"] + want["k2"] == 127  # Red Goose: 127 taps
    assert s.subject == "osu:abraker"
    assert s.extra["human_channels"] == ["cursor", "keys"]
    assert s.time_scale == 1.0
    assert s.extra["map_time_offset_ms"] == frames.t_ms[0]
    assert s.events.t_ms[0] == 0 and np.all(np.diff(s.events.t_ms) >= 0)


def test_real_state_counts_down_to_each_hit(red_goose_session):
    s = red_goose_session
    bm = read_osu(BEATMAP)
    offset = s.extra["map_time_offset_ms"]
    dt = state_col(s, "obj0_dt_ms")
    assert len(s.state) == pytest.approx(s.events.t_ms[-1] / 100, abs=2)
    hit_wall = bm.objects.time - offset
    # where obj0 is present it is the next object: dt == its hit time - row time
    present = ~np.isnan(dt)
    assert present.sum() > 500
    nxt = np.searchsorted(hit_wall, s.state.t_ms[present], side="left")
    np.testing.assert_allclose(dt[present], hit_wall[nxt] - s.state.t_ms[present], atol=1e-3)
    assert np.all(dt[present] >= 0) and np.all(dt[present] <= preempt_ms(3.0) + 1e-6)
    assert set(np.unique(state_col(s, "obj0_kind"))) <= {"circle", "slider", "spinner", "none"}
    assert np.all(state_col(s, "circle_radius") == pytest.approx(54.4 - 4.48 * 3))
    assert np.all(state_col(s, "hit_window_ms") == pytest.approx(180.0))


# --------------------------------------------------------------------------- synthetic replays


def test_synthetic_nomod_events_and_state(tmp_path):
    s, summary = import_one(tmp_path)
    ev = s.events
    assert s.extra["map_time_offset_ms"] == -1000
    kd = ev.type == "key_down"
    assert list(ev.key[kd]) == ["k1", "k2"]
    np.testing.assert_allclose(ev.t_ms[kd], [950 + 1000, 1950 + 1000])
    pr = ev.type == "press"
    assert list(ev.button[pr]) == ["left", "right"]  # M1/M2 alone, not the ones K1/K2 carry
    np.testing.assert_allclose(ev.t_ms[pr], [3000 + 1000, 3500 + 1000])
    assert int((ev.type == "key_up").sum()) == 2 and int((ev.type == "release").sum()) == 2
    # circle at map 1000 = wall 2000, visible from map -200 (AR5 preempt 1200) = wall 800
    t = s.state.t_ms
    dt, kind = state_col(s, "obj0_dt_ms"), state_col(s, "obj0_kind")
    rows = (t >= 800) & (t <= 2000)
    np.testing.assert_allclose(dt[rows], 2000 - t[rows])
    assert dt[t == 2000][0] == 0 and np.all(np.diff(dt[rows]) == -100)
    assert kind[t == 700][0] == "none" and np.isnan(dt[t == 700][0])
    assert kind[t == 2000][0] == "circle"
    after = t == 2100  # the circle has passed; the slider (map 2000 = wall 3000) is next
    assert state_col(s, "prev_dt_ms")[after][0] == 100 and state_col(s, "prev_x")[after][0] == 100
    assert kind[after][0] == "slider" and state_col(s, "obj0_end_dt_ms")[after][0] == pytest.approx(900 + 500)
    assert state_col(s, "obj0_end_x")[after][0] == 400
    assert state_col(s, "obj1_kind")[after][0] == "none"  # spinner not visible yet
    spin = t == 3100
    assert state_col(s, "obj0_kind")[spin][0] == "spinner" and state_col(s, "obj0_end_dt_ms")[spin][0] == 1900
    assert s.game == "osu!" and [c["name"] for c in s.state_columns] == list(osu.STATE_COLUMN_NAMES)
    assert not any("input-only" in n for _, n in summary.notes)


def test_dt_scales_time(tmp_path):
    s, _ = import_one(tmp_path, mods=64)  # DT
    assert s.time_scale == 1.5 and s.extra["mods"] == ["DT"]
    kd = s.events.type == "key_down"
    np.testing.assert_allclose(s.events.t_ms[kd], [(950 + 1000) / 1.5, (1950 + 1000) / 1.5], atol=1e-3)
    t = s.state.t_ms
    dt = state_col(s, "obj0_dt_ms")
    m = t * 1.5 - 1000  # map time of each row
    rows = (m >= -200) & (m <= 1000)
    np.testing.assert_allclose(dt[rows], (1000 - m[rows]) / 1.5, atol=1e-3)  # written to 1/1000 ms
    assert state_col(s, "approach_ms")[0] == pytest.approx(800)
    assert state_col(s, "hit_window_ms")[0] == pytest.approx(100)
    # the session spans the replay's map time / 1.5
    assert s.events.t_ms[-1] == pytest.approx(6000 / 1.5, abs=1)


def test_ht_scales_time(tmp_path):
    s, _ = import_one(tmp_path, mods=256)
    assert s.time_scale == 0.75
    assert s.events.t_ms[s.events.type == "key_down"][0] == pytest.approx(1950 / 0.75, abs=1e-3)


def test_hr_flips_objects_not_cursor(tmp_path):
    plain, _ = import_one(tmp_path / "a")
    hr, _ = import_one(tmp_path / "b", mods=16)
    row = 1500  # wall ms: circle (y 100) visible in both (HR preempt 900 ms)
    i = int(np.flatnonzero(hr.state.t_ms == row)[0])
    assert state_col(plain, "obj0_y")[i] == 100
    assert state_col(hr, "obj0_y")[i] == 384 - 100
    j = int(np.flatnonzero(hr.state.t_ms == 2500)[0])  # slider next
    assert state_col(hr, "obj0_y")[j] == 184 and state_col(hr, "obj0_end_y")[j] == 184
    np.testing.assert_array_equal(hr.events.y, plain.events.y)
    # HR also raises AR (5 -> 7: preempt 900) and CS (4 -> 5.2)
    assert state_col(hr, "approach_ms")[0] == pytest.approx(900)
    assert state_col(hr, "circle_radius")[0] == pytest.approx(54.4 - 4.48 * 5.2)


def test_relax_keeps_cursor_only(tmp_path):
    s, summary = import_one(tmp_path, mods=128)
    assert set(np.unique(s.events.type)) == {"move"}
    assert s.extra["human_channels"] == ["cursor"]
    assert any("relax" in n and "8 game-pressed" in n for _, n in summary.notes)


def test_autopilot_keeps_keys_only(tmp_path):
    s, summary = import_one(tmp_path, mods=8192)
    assert "move" not in set(s.events.type)
    assert int((s.events.type == "key_down").sum()) == 2 and int((s.events.type == "press").sum()) == 2
    assert s.extra["human_channels"] == ["keys"]
    assert any("autopilot" in n for _, n in summary.notes)


def test_autoplay_and_taiko_are_skipped(tmp_path):
    src = write_play(tmp_path / "in", name="auto", mods=2048)
    write_play(src, name="taiko", mode=1)
    summary = osu.import_folder(src, tmp_path / "out", progress=False)
    assert summary.written == [] and summary.failed == [] and summary.exit_code == 0
    assert sorted(f for f, _ in summary.skipped) == ["auto.osr", "taiko.osr"]


def test_mania_imports_keys_per_column(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    t = np.arange(0, 1000, 10)
    cols = np.zeros(len(t), dtype=int)
    cols[(t >= 100) & (t < 200)] = 1  # col1
    cols[(t >= 150) & (t < 300)] |= 4  # col3
    (src / "mania.osr").write_bytes(make_osr(frames_text(t, cols, np.zeros(len(t)), np.zeros(len(t))), mode=3, mods=32768))
    summary = osu.import_folder(src, tmp_path / "out", progress=False)
    s, _ = read_session(summary.written[0])
    assert list(s.events.key[s.events.type == "key_down"]) == ["col1", "col3"]
    assert list(s.events.key[s.events.type == "key_up"]) == ["col1", "col3"]
    assert s.state is None and s.extra["columns"] == 4 and s.extra["mode"] == "osu!mania"
    assert any("input-only" in n for _, n in summary.notes)


def test_missing_map_gives_input_only(tmp_path):
    s, summary = import_one(tmp_path, with_map=False)
    assert s.state is None and s.game is None and s.state_columns is None
    assert [f for f, n in summary.notes if "input-only" in n] == ["play.osr"]
    assert int((s.events.type == "key_down").sum()) == 2


def test_lf_copy_of_crlf_map_is_matched(tmp_path):
    crlf = MAP_BYTES.replace(b"\n", b"\r\n")
    src = write_play(tmp_path / "in", beatmap_md5=hashlib.md5(crlf).hexdigest())  # map.osu stays LF
    summary = osu.import_folder(src, tmp_path / "out", progress=False)
    s, _ = read_session(summary.written[0])
    assert s.state is not None and s.extra["beatmap_file"] == "map.osu"


def write_frames_csv(folder, stem, rows, index_rows):
    (folder / "frames_csv").mkdir(parents=True, exist_ok=True)
    text = "t_ms,x,y,keys\n" + "".join(f"{t},{x},{y},{k}\n" for t, x, y, k in rows)
    (folder / "frames_csv" / f"{stem}.csv.gz").write_bytes(gzip.compress(text.encode()))
    fields = ["file", "mode", "player", "mods", "human_input", "beatmap_md5", "deliberate_test_play"]
    with open(folder / "index.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(index_rows)


def test_frames_csv_layout_is_input_only_with_unique_unknown_subjects(tmp_path):
    src = tmp_path / "in"
    rows = [(0, 256, -500, 0), (-1, 256, -500, 0), (-900, 10, 10, 0), (-800, 20, 10, 0), (0, 20, 10, 4), (100, 30, 10, 0)]
    base = {"mode": "osu!std", "mods": "HDDT", "human_input": "human", "beatmap_md5": "0" * 32}
    write_frames_csv(
        src, "a", rows,
        [dict(base, file="a", player="", deliberate_test_play="True"), dict(base, file="b", player="", deliberate_test_play="")],
    )
    shutil.copy(src / "frames_csv" / "a.csv.gz", src / "frames_csv" / "b.csv.gz")
    summary = osu.import_folder(src, tmp_path / "out", progress=False)
    assert summary.failed == [] and len(summary.written) == 2
    assert sorted(f for f, n in summary.notes if "input-only" in n) == ["a.csv.gz", "b.csv.gz"]
    a, _ = read_session(summary.written[0])
    b, _ = read_session(summary.written[1])
    assert a.subject != b.subject and a.subject.startswith("osu:unknown")
    assert a.extra["deliberate_test_play"] is True and "deliberate_test_play" not in b.extra
    assert a.time_scale == 1.5 and a.state is None
    np.testing.assert_allclose(a.events.t_ms, [0, 100 / 1.5, 900 / 1.5, 1000 / 1.5, 1000 / 1.5], atol=1e-3)
    assert list(a.events.type) == ["move", "move", "key_down", "move", "key_up"]


# --------------------------------------------------------------------------- bad input


def test_truncated_osr_raises_format_error_with_offset():
    data = REPLAY.read_bytes()
    for cut in (0, 1, 5, 40, 120, 200, len(data) // 2, len(data) - 20):
        with pytest.raises(FormatError) as e:
            parse_osr(data[:cut], "x.osr")
        assert "x.osr" in str(e.value)
    with pytest.raises(FormatError, match="truncated at byte"):
        parse_osr(data[:60], "x.osr")


def test_corrupt_lzma_raises_format_error():
    data = bytearray(REPLAY.read_bytes())
    start = len(data) - 8 - 1000
    data[start : start + 50] = b"\xff" * 50
    with pytest.raises(FormatError, match="LZMA|frame"):
        parse_osr(bytes(data), "x.osr")


def test_bad_frames_name_the_frame():
    with pytest.raises(FormatError, match=r"#frame:3"):
        parse_frames(b"0|256|-500|0,-1|256|-500|0,5|1|2,", "x.osr#frame")
    with pytest.raises(FormatError, match=r"#frame:4: .*'1e' is not a number"):
        parse_frames(b"0|256|-500|0,-1|256|-500|0,5|1|2|0,5|1e|2|0,", "x.osr#frame")
    with pytest.raises(FormatError, match="whole number"):
        parse_frames(b"nan|1|2|0,", "x.osr#frame")


def test_nan_and_offscreen_positions_strict_vs_repair(tmp_path):
    t, x, y, keys = synthetic_frames()
    x = x.astype(object)
    x[10], x[20] = "nan", 14000.0
    src = tmp_path / "in"
    src.mkdir()
    (src / "p.osr").write_bytes(make_osr(frames_text(t, x, y, keys)))
    strict = osu.import_folder(src, tmp_path / "o1", progress=False)
    assert strict.exit_code == 1 and "p.osr#frame:13" in strict.failed[0][1]  # 2 dummies + 11th frame
    rep = osu.import_folder(src, tmp_path / "o2", repair=True, progress=False)
    assert rep.failed == []
    lines = " ".join(rep.repairs.lines())
    assert "dropped row: x: not a finite number: 1" in lines and "marked off-screen position: 1" in lines
    s, _ = read_session(rep.written[0], mode="repair")
    assert int(s.events.offscreen.sum()) == 1


def test_bad_files_fail_but_others_import(tmp_path):
    src = write_play(tmp_path / "in")
    (src / "empty.osr").write_bytes(b"")
    (src / "trunc.osr").write_bytes(REPLAY.read_bytes()[:300])
    write_frames_csv(src, "c", [], [{"file": "c", "mode": "osu!std", "mods": "NM", "player": "p"}])
    (src / "frames_csv" / "c.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    summary = osu.import_folder(src, tmp_path / "out", progress=False)
    assert len(summary.written) == 1 and summary.exit_code == 1
    failed = dict(summary.failed)
    assert set(failed) == {"empty.osr", "trunc.osr", "c.csv.gz"}
    assert "empty file" in failed["empty.osr"] and "c.csv.gz" in failed["c.csv.gz"]


def test_broken_beatmap_strict_fails_repair_goes_input_only(tmp_path):
    src = write_play(tmp_path / "in", with_map=False)
    broken = MAP_TEXT.replace("300,200,2000,2,0,L|400:200,1,140", "300,200,2000,2,0,L|400:200,1,zz")
    (src / "map.osu").write_text(broken)
    md5 = hashlib.md5(broken.encode()).hexdigest()
    (src / "play.osr").write_bytes(make_osr(frames_text(*synthetic_frames()), beatmap_md5=md5))
    strict = osu.import_folder(src, tmp_path / "o1", progress=False)
    assert "map.osu:19" in strict.failed[0][1] and "'zz' is not a number" in strict.failed[0][1]
    rep = osu.import_folder(src, tmp_path / "o2", repair=True, progress=False)
    assert len(rep.written) == 1 and any("beatmap does not parse" in n for _, n in rep.notes)


@pytest.mark.parametrize("text", ["", "hello", "osu file format v14\n[General]\nMode: 0\n", "osu file format vX\n[HitObjects]\n"])
def test_unparsable_beatmaps(text):
    with pytest.raises(FormatError):
        parse_osu(text.encode(), "m.osu")


def test_missing_input_folder(tmp_path):
    with pytest.raises(FormatError):
        osu.import_folder(tmp_path / "nope", tmp_path / "out", progress=False)


# --------------------------------------------------------------------------- properties

_FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_REAL = REPLAY.read_bytes()


@_FUZZ
@given(st.binary(max_size=400))
def test_osr_parser_arbitrary_bytes(data):
    try:
        parse_osr(data, "f.osr")
    except ActiongenError:
        pass


@_FUZZ
@given(
    st.lists(st.tuples(st.one_of(st.integers(0, 399), st.integers(0, len(_REAL) - 1)), st.integers(0, 255)), min_size=1, max_size=6),
    st.integers(1, len(_REAL)),
)
def test_osr_parser_mutated_real_bytes(edits, cut):
    data = bytearray(_REAL)
    for pos, value in edits:  # the header and the start of the LZMA data get most edits
        data[pos] = value
    try:
        parse_osr(bytes(data[:cut]), "f.osr")
    except ActiongenError:
        pass


_PIECES = st.sampled_from(
    ["[General]", "[Difficulty]", "[TimingPoints]", "[HitObjects]", "Mode: 0", "Mode: 9", "CircleSize:4", "ApproachRate:nan",
     "SliderMultiplier:0", "0,500,4,2,0,50,1,0", "0,-100,4,2,0,50,0,0", "10,0,4", "100,100,1000,1,0", "1,2,3,2,0,B|5:5,2,100",
     "1,2,3,2,0,B,1", "1,2,3,8,0", "1,2,3,12,0,99", "1,2,inf,1,0", "1,2,3,0,0", "1,2,3,128,0,500:0", "//c", ""]
)


@_FUZZ
@given(st.lists(st.one_of(_PIECES, st.text(max_size=30)), max_size=25), st.booleans())
def test_osu_parser_arbitrary_text(lines, header):
    text = ("osu file format v14\n" if header else "") + "\n".join(lines)
    try:
        parse_osu(text.encode("utf-8", "surrogatepass"), "m.osu")
    except ActiongenError:
        pass


@_FUZZ
@given(st.binary(max_size=300))
def test_osu_and_frames_parsers_arbitrary_bytes(data):
    for parse in (parse_osu, parse_frames):
        try:
            parse(data, "f")
        except ActiongenError:
            pass


def test_short_index_rows_do_not_crash(tmp_path):
    src = tmp_path / "in"
    write_frames_csv(src, "c", [(0, 256, -500, 0), (10, 5, 5, 0), (20, 6, 5, 4)], [])
    (src / "index.csv").write_text("file,mode,player,mods\nc,osu!std\n")  # row shorter than the header
    summary = osu.import_folder(src, tmp_path / "out", progress=False)
    assert summary.failed == [], summary.text()
    s, _ = read_session(summary.written[0])
    assert s.subject.startswith("osu:unknown") and s.time_scale == 1.0
    (src / "index.csv").write_text("file,mode,mods\nc,osu!std,XYZ\n")
    summary = osu.import_folder(src, tmp_path / "out2", progress=False)
    assert "index.csv" in summary.failed[0][1] and "mods" in summary.failed[0][1]
