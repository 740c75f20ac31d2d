"""osu! replays out: the .osr writer beside the reader, `actiongen export-replay`, read back by osrparse and circleguard."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import osrparse
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actiongen_keras.cli import main
from actiongen_keras.evaluation import osu_circleguard as C
from actiongen_keras.recordings.importers import osu
from actiongen_keras.recordings.importers.osu_replay import (
    KEY_BITS,
    pack_osr,
    parse_osr,
    read_osr,
    std_frames,
    std_held,
)
from actiongen_keras.recordings.session import (
    Events,
    Session,
    read_session,
    write_session,
)
from actiongen_keras.testing.paths import shared_data

FIXTURES = Path(__file__).parent / "fixtures" / "osu"
REPLAY = FIXTURES / "red_goose_abraker.osr"
BEATMAP = FIXTURES / "red_goose_ert_basic.osu"


@pytest.fixture(scope="module")
def red_goose(tmp_path_factory):
    """The real Red Goose replay imported (strict), and the folder it came from."""
    root = tmp_path_factory.mktemp("rg")
    shutil.copy(REPLAY, root / REPLAY.name)
    shutil.copy(BEATMAP, root / BEATMAP.name)
    summary = osu.import_folder(root, root / "sessions", progress=False)
    assert summary.failed == [], summary.text()
    session, _ = read_session(summary.written[0])
    return session, root


def map_ms(session):
    return session.events.t_ms * float(session.time_scale or 1) + float(session.extra["map_time_offset_ms"])


def reimport(osr_path, beatmap, tmp):
    src = tmp / "reimport_in"
    src.mkdir()
    shutil.copy(osr_path, src / "x.osr")
    shutil.copy(beatmap, src / Path(beatmap).name)
    summary = osu.import_folder(src, tmp / "reimport_out", progress=False)
    assert summary.failed == [], summary.text()
    return read_session(summary.written[0])[0]


def assert_same_events(a, b):
    """Same events in the same order, times (map ms) within 1 ms, positions within 0.01 px."""
    assert len(a.events) == len(b.events)
    assert list(a.events.type) == list(b.events.type)
    assert list(a.events.key) == list(b.events.key) and list(a.events.button) == list(b.events.button)
    assert np.abs(map_ms(a) - map_ms(b)).max() <= 1.0
    assert np.abs(a.events.x - b.events.x).max() <= 0.01 and np.abs(a.events.y - b.events.y).max() <= 0.01


def test_imported_replay_round_trips_through_the_writer(red_goose, tmp_path):
    session, _ = red_goose
    out = tmp_path / "rg.osr"
    path, judged = C.export_replay(session, BEATMAP, out)
    back = reimport(path, BEATMAP, tmp_path)
    assert_same_events(session, back)
    # the original replay's whole-ms frame times come back exactly
    np.testing.assert_array_equal(map_ms(back), map_ms(session))
    # header: the map's MD5 (the one the original replay names), mods, player, circleguard's counts
    r = read_osr(path)
    assert (r.beatmap_md5, r.mods, r.player) == (read_osr(REPLAY).beatmap_md5, 0, "abraker")
    assert (r.counts["n300"], r.counts["n100"], r.counts["n50"], r.counts["nmiss"]) == (99, 1, 0, 0)
    assert (judged["n300"], judged["n100"], judged["nmiss"]) == (99, 1, 0) and r.max_combo == 100 and r.perfect


def test_osrparse_reads_the_export_as_osu_writes_it(red_goose, tmp_path):
    session, _ = red_goose
    path, _ = C.export_replay(session, BEATMAP, tmp_path / "rg.osr", player="someone")
    rp = osrparse.Replay.from_path(path)
    orig = osrparse.Replay.from_path(REPLAY)
    assert rp.username == "someone" and rp.beatmap_hash == orig.beatmap_hash and rp.mode == osrparse.GameMode.STD
    assert (rp.count_300, rp.count_100, rp.count_miss) == (99, 1, 0)
    # osrparse's frames, after the two dummies, are the frames we wrote: times, positions, key bits
    ours = osu.session_to_replay(session, BEATMAP).frames
    data = rp.replay_data
    assert [(e.x, e.y) for e in data[:2]] == [(256, -500), (256, -500)]
    np.testing.assert_array_equal(np.cumsum([e.time_delta for e in data])[2:], ours.t_ms)
    np.testing.assert_allclose([e.x for e in data[2:]], ours.x, atol=1e-4)
    np.testing.assert_allclose([e.y for e in data[2:]], ours.y, atol=1e-4)
    np.testing.assert_array_equal([int(e.keys) for e in data[2:]], ours.keys)
    # every frame is at one of the original replay's frame times
    assert set(ours.t_ms.tolist()) <= set(read_osr(REPLAY).frames.t_ms.tolist())
    assert rp.rng_seed == 0


def test_circleguard_judges_the_rewritten_replay_as_the_original():
    orig = C.judge_osr(REPLAY.read_bytes(), BEATMAP)
    again = C.judge_osr(pack_osr(dataclasses.replace(read_osr(REPLAY), player="x")), BEATMAP)
    assert orig["objects"] == again["objects"]
    assert (orig["n300"], orig["n100"], orig["nmiss"], orig["n_objects"]) == (99, 1, 0, 100)
    # the same numbers as circleguard's own whole-replay functions (this replay has no DT/HT)
    cg, replay = C._load(REPLAY.read_bytes())
    bm = C._beatmap(BEATMAP)
    assert orig["ur"] == pytest.approx(cg.ur(replay, beatmap=bm)) and 300 < orig["ur"] < 500  # early slider heads count
    assert orig["frametime_ms"] == cg.frametime(replay) and 10 < orig["frametime_ms"] < 20
    assert orig["snaps"] == len(cg.snaps(replay, beatmap=bm))


def test_mods_speed_and_key_bits_as_osu_writes_them(tmp_path):
    # a DT session (time_scale 1.5) with a lead-in offset: frames go back to map time
    ev = Events.from_columns(
        t_ms=[0.0, 10.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
        type=["move", "move", "key_down", "press", "key_up", "key_down", "release", "key_up", "scroll"],
        x=[100.0, 101.25, 101.25, 101.25, 101.25, 300.5, 300.5, 300.5, 300.5], y=[-40.0] + [200.0] * 8,
        key=["", "", "k1", "", "k1", "k2", "", "k2", ""], button=["", "", "", "left", "", "", "left", "", ""],
        scroll_dy=[0, 0, 0, 0, 0, 0, 0, 0, 0.5],
    )
    s = Session(session_id="g", source="generated", subject="osu:x", screen=(512, 384), events=ev, time_scale=1.5,
                    extra={"mods": ["HD", "DT"], "mode": "osu!std", "map_time_offset_ms": -200.0, "player": "abraker"})
    r = osu.session_to_replay(s, BEATMAP)
    assert r.player == "actiongen" and r.mods == 8 + 64
    t, keys = r.frames.t_ms, r.frames.keys
    np.testing.assert_array_equal(t, [-200, -185, -170, -155, -140, -125, -110, -95])  # t * 1.5 - 200, one frame per time
    M1, M2, K1, K2 = (KEY_BITS[k] for k in ("M1", "M2", "K1", "K2"))
    np.testing.assert_array_equal(keys, [0, K1 | M1, K1 | M1, M1, M1 | K2 | M2, K2 | M2, 0, 0])
    assert r.frames.y[0] == -40.0  # off-screen positions are written as recorded
    back = parse_osr(pack_osr(r))
    np.testing.assert_array_equal(back.frames.t_ms, t)
    np.testing.assert_array_equal(back.frames.x, r.frames.x)
    assert std_held(back.frames.keys)["left"].tolist() == [False, False, False, True, True, False, False, False]


_KEY_EVENTS = [("key_down", "k1", ""), ("key_up", "k1", ""), ("key_down", "k2", ""), ("key_up", "k2", ""),
               ("press", "", "left"), ("release", "", "left"), ("press", "", "right"), ("release", "", "right")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(_KEY_EVENTS + [("move", "", "")] * 4)), min_size=1, max_size=40))
def test_frames_hold_exactly_the_inputs_the_events_hold(steps):
    """After each frame, a key/button is held in the bits iff its last down/up event was a down."""
    t = np.cumsum([dt for dt, _ in steps]).astype(float)
    typ = [e[0] for _, e in steps]
    ev = Events.from_columns(t_ms=t, type=typ, x=np.arange(len(t), dtype=float), y=np.zeros(len(t)),
                             key=[e[1] for _, e in steps], button=[e[2] for _, e in steps])
    ft, _, _, keys = std_frames(t, ev)
    assert np.all(np.diff(ft) >= 0)
    state = {"k1": False, "k2": False, "left": False, "right": False}
    expect = []
    for i, (_, (kind, key, button)) in enumerate(steps):
        if kind != "move":
            state[key or button] = kind in ("key_down", "press")
        if i == len(steps) - 1 or t[i + 1] != t[i] or typ[i + 1] == "move":  # a frame ends: a new time or a move
            expect.append(dict(state))
    bits = {"k1": KEY_BITS["K1"], "k2": KEY_BITS["K2"], "left": KEY_BITS["M1"], "right": KEY_BITS["M2"]}
    for name in ("k1", "k2", "left", "right"):
        got = (keys & bits[name]) > 0
        want = np.array([e[name] or (name == "left" and e["k1"]) or (name == "right" and e["k2"]) for e in expect])
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_export_replay_command(red_goose, tmp_path, capsys):
    session, _ = red_goose
    out = tmp_path / "cli.osr"
    assert main(["export-replay", session.path, "--beatmap", str(BEATMAP), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}: {len(session.events)} events; circleguard: 99 x300, 1 x100, 0 x50, 0 misses of 100 objects"
    assert main(["export-replay", session.path, "--beatmap", str(tmp_path / "nope.osu"), "--out", str(tmp_path / "x.osr")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.osu: cannot read beatmap" in err[0]
    assert not (tmp_path / "x.osr").exists()
    # a session of another game is refused in one line
    other = dataclasses.replace(session, screen=(1920, 1080), path=None)
    write_session(other, tmp_path / "desk")
    assert main(["export-replay", str(tmp_path / "desk"), "--beatmap", str(BEATMAP), "--out", str(tmp_path / "y.osr")]) == 2
    assert "not an osu!std session" in capsys.readouterr().err




@pytest.mark.parametrize("stem", ["0118_legit_old_replay_dt", "0273_stolen-136-1"])  # DT+FL, HD+HR
def test_real_dt_and_hr_plays_round_trip_in_map_time(stem, tmp_path):
    """Real plays with DT (wall time = map time / 1.5) and HR (the cursor as recorded) from
    ../shared/data/osu_replays: export and re-import give the same events, and circleguard
    judges the export like the frames the game recorded."""
    shared = shared_data("osu_replays")
    src = tmp_path / "in"
    (src / "frames_csv").mkdir(parents=True)
    shutil.copy(shared / "frames_csv" / f"{stem}.csv.gz", src / "frames_csv")
    shutil.copy(shared / "index.csv", src)
    for m in (shared / "beatmaps_osu").glob("*.osu"):
        shutil.copy(m, src)
    summary = osu.import_folder(src, tmp_path / "sessions", progress=False)
    assert summary.failed == [] and len(summary.written) == 1, summary.text()
    session, _ = read_session(summary.written[0])
    beatmap = src / session.extra["beatmap_file"]
    path, judged = C.export_replay(session, beatmap, tmp_path / "x.osr")
    r = read_osr(path)
    assert r.mods == osu.mods_from_names("".join(session.extra["mods"])) and r.beatmap_md5 == session.extra["beatmap_md5"]
    back = reimport(path, beatmap, tmp_path)
    assert back.time_scale == session.time_scale
    assert_same_events(session, back)
    assert judged["n_objects"] > 100 and judged["hit_rate"] > 0.95  # both are full plays by good players
