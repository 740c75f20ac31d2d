"""Splits: person-disjoint, deterministic, stable when people are added; time blocks for few people."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actiongen_keras.config import (
    Config,  # noqa: E402
    DataConfig,  # noqa: E402
)
from actiongen_keras.data.splits import (  # noqa: E402
    SPLITS,
    SessionInfo,
    Splits,
    assign_splits,
    canonical_split,
    load_splits,
    subject_split,
)
from actiongen_keras.data.windows import window_times  # noqa: E402
from actiongen_keras.errors import ConfigError, DataError  # noqa: E402


def infos(n_subjects, per_subject=2, source="sapimouse", dur=60_000.0):
    return [SessionInfo(f"{source}-u{i}-s{j}", source, f"user{i}", 0.0, dur) for i in range(n_subjects) for j in range(per_subject)]


def test_person_disjoint_and_fractions():
    sess = infos(200)
    sp = assign_splits(sess)
    assert sp.modes == {"sapimouse": "subject"}
    subjects = {name: {s.subject for s, _ in sp.parts(name, sess)} for name in SPLITS}
    assert not (subjects["train"] & subjects["validation"]) and not (subjects["train"] & subjects["test"])
    assert not (subjects["validation"] & subjects["test"])
    assert sum(len(v) for v in subjects.values()) == 200
    # every session of a person in the same split
    for name in SPLITS:
        for s, rng in sp.parts(name, sess):
            assert rng is None and sp.subjects[s.subject] == name
    assert 125 <= len(subjects["train"]) <= 155  # ~70 %, the default
    assert 28 <= len(subjects["test"]) <= 52  # ~20 %
    assert sp.held_out["sapimouse"]["test"]["subjects"] == sorted(subjects["test"])


def test_stable_when_subject_added():
    a = assign_splits(infos(30))
    b = assign_splits(infos(30) + [SessionInfo("new-s0", "sapimouse", "newcomer", 0.0, 60_000.0)])
    for subj, split in a.subjects.items():
        assert b.subjects[subj] == split
    assert b.subjects["newcomer"] == subject_split("newcomer")
    # deterministic across runs (no salted hash)
    assert subject_split("user1") == subject_split("user1")
    assert assign_splits(infos(30)).to_dict() == a.to_dict()


def test_few_people_use_time_blocks_without_shared_context():
    cfg = DataConfig()
    sess = [SessionInfo("osu-long", "osu", "Toy", 0.0, 3_177_500.0), SessionInfo("osu-short", "osu", "abraker", 1000.0, 119_600.0)]
    sp = assign_splits(sess, fractions=(0.8, 0.1, 0.1))
    assert sp.modes == {"osu": "blocks"}
    assert sp.subjects == {}
    blk = sp.blocks["osu"]["osu-long"]
    assert blk["train"] == [0.0, pytest.approx(0.8 * 3_177_500)]
    assert blk["validation"] == [pytest.approx(0.8 * 3_177_500), pytest.approx(0.9 * 3_177_500)]
    assert blk["validation"][0] == blk["train"][1] and blk["test"][0] == blk["validation"][1]
    hist = cfg.history_ticks * cfg.tick_ms
    for s in sess:
        spans = {}
        for name in SPLITS:
            (part,) = [p for p in sp.parts(name, [s])]
            T = window_times(s.t_start, s.t_end, cfg, part[1])
            assert len(T) > 0, (s.session_id, name)
            spans[name] = (T.min() - hist, T.max() + cfg.target_ms)
            # every window (history + target) inside its block
            assert spans[name][0] >= part[1][0] - 1e-6 and spans[name][1] <= part[1][1] + 1e-6
        # blocks do not overlap; at least history_ms between the last train target and first val target
        assert spans["train"][1] <= spans["validation"][0]
        assert spans["validation"][1] <= spans["test"][0]
        assert (spans["validation"][0] + hist) - spans["train"][1] >= hist
        # a window boundary is in exactly one split
        all_T = np.concatenate([window_times(s.t_start, s.t_end, cfg, p[1]) for n in SPLITS for p in sp.parts(n, [s])])
        assert len(np.unique(all_T)) == len(all_T)


def test_mixed_sources_and_json_roundtrip(tmp_path):
    sess = infos(40) + [SessionInfo("osrs-1", "osrs", "me", 0.0, 100_000.0)]
    sp = assign_splits(sess)
    assert sp.modes == {"sapimouse": "subject", "osrs": "blocks"}
    path = sp.save(tmp_path)
    d = json.loads(path.read_text())
    assert d["format"] == "actiongen-splits/1"
    assert set(d["subjects"].values()) <= set(SPLITS)
    assert set(d["__blocks__"]["osrs"]["osrs-1"]) == set(SPLITS)
    back = load_splits(tmp_path)
    assert back.to_dict() == sp.to_dict()
    assert isinstance(back, Splits)


def test_split_names_and_bad_fractions():
    assert canonical_split("val") == "validation"
    assert canonical_split("train[:10%]") == "train[:10%]"
    with pytest.raises(DataError, match="unknown split"):
        canonical_split("dev")
    with pytest.raises(DataError, match="fractions"):
        assign_splits(infos(3), fractions=(0.5, 0.1, 0.1))


@pytest.mark.parametrize("bad, why", [
    ([0.5, 0.1, 0.1], "must sum to 1"),
    ([0.9, 0.2, -0.1], ">= 0"),
    ([1.0, 0.0, 0.0], "train and test must be > 0"),
    ([0.8, 0.2], "three"),
    (["a", 0.5, 0.5], "number"),
])
def test_bad_fractions_refused_by_config_and_splits(bad, why):
    with pytest.raises(ConfigError, match=f"splits.fractions.*{why}"):
        Config.from_dict({"splits": {"fractions": bad}})
    with pytest.raises(DataError, match=why):
        assign_splits(infos(20), fractions=bad)


def test_bad_split_mode_refused():
    with pytest.raises(ConfigError, match="splits.mode must be one of auto, subject, map, blocks, got 'maps'"):
        Config.from_dict({"splits": {"mode": "maps"}})
    assert Config.from_dict({"splits": {"fractions": [0.6, 0.2, 0.2], "mode": "map"}}).splits.fractions == (0.6, 0.2, 0.2)


def test_fractions_honoured():
    sess = infos(3000, per_subject=1)
    sp = assign_splits(sess, fractions=(0.5, 0.2, 0.3))
    n = {name: len(sp.parts(name, sess)) for name in SPLITS}
    assert n["train"] == pytest.approx(1500, abs=90) and n["validation"] == pytest.approx(600, abs=70)
    assert n["test"] == pytest.approx(900, abs=80)
    # SapiMouse's 72 people under the default fractions: 15 test people, enough for the human floor (8)
    sapi = [SessionInfo(f"s{i}", "sapimouse", f"sapimouse-user{i}", 0.0, 60_000.0) for i in range(1, 73)]
    assert len(assign_splits(sapi).held_out["sapimouse"]["test"]["subjects"]) == 15


def map_infos(sizes_min, subjects=("Toy", "abraker"), source="osu"):
    """One session per (map, player) pair of ``sizes_min`` minutes; maps m0, m1, ..."""
    return [SessionInfo(f"{source}-m{i}-{p}", source, p, 0.0, d * 60_000.0, map=f"m{i}")
            for i, d in enumerate(sizes_min) for p in subjects]


def _by_split(sp, sess, attr):
    return {name: {getattr(s, attr) for s, _ in sp.parts(name, sess)} for name in SPLITS}


def test_map_split_holds_out_maps_and_honours_fractions():
    # an osu!-like source: one marathon and a few shorter maps, 2 players
    sizes = [53, 7, 6, 4, 2.3, 2, 2, 1]
    sess = map_infos(sizes)
    sp = assign_splits(sess)  # auto: every session names its map
    assert sp.modes == {"osu": "map"}
    maps = _by_split(sp, sess, "map")
    assert not (maps["train"] & maps["test"]) and not (maps["train"] & maps["validation"]) and not (maps["validation"] & maps["test"])
    assert set().union(*maps.values()) == {f"m{i}" for i in range(len(sizes))}
    assert "m0" in maps["train"] and len(maps["test"]) >= 2  # the marathon cannot be cut: it is training data
    minutes = {name: sum(sizes[int(m[1:])] for m in maps[name]) for name in SPLITS}
    total = sum(sizes)
    assert minutes["test"] / total == pytest.approx(0.2, abs=0.03) and minutes["validation"] / total == pytest.approx(0.1, abs=0.03)
    # players recur (2 people): the report must not claim unseen people
    assert sp.held_out["osu"]["test"] == {"maps": sorted(maps["test"])}
    # every session in exactly one split, none cut by time
    assert sorted(s.session_id for n in SPLITS for s, r in sp.parts(n, sess) if r is None) == sorted(s.session_id for s in sess)


def test_map_split_with_many_players_holds_out_players_too():
    # 40 players in groups of 4 that share a map; each also plays a map of their own
    sess = []
    for i in range(40):
        sess.append(SessionInfo(f"own-{i}", "osu", f"p{i}", 0.0, 60_000.0, map=f"own{i}"))
        sess.append(SessionInfo(f"shared-{i}", "osu", f"p{i}", 0.0, 60_000.0, map=f"shared{i // 4}"))
    sp = assign_splits(sess)
    assert sp.modes == {"osu": "map+subject"}
    for attr in ("map", "subject"):
        got = _by_split(sp, sess, attr)
        assert not (got["train"] & got["test"]) and not (got["train"] & got["validation"]) and not (got["validation"] & got["test"]), attr
        assert all(got[n] for n in SPLITS)
    assert len(_by_split(sp, sess, "subject")["test"]) == 8  # 2 of the 10 groups of 4
    assert sp.held_out["osu"]["test"]["subjects"] == sorted(_by_split(sp, sess, "subject")["test"])


def test_map_mode_by_name_and_round_trip(tmp_path):
    with pytest.raises(DataError, match="source 'sapimouse': split mode 'map' impossible: every session must name its map"):
        assign_splits(infos(20), mode="map")
    with pytest.raises(DataError, match="split mode 'map' impossible: 2 map"):
        assign_splits(map_infos([3, 2]), mode="map")
    assert assign_splits(map_infos([3, 2])).modes == {"osu": "blocks"}  # auto: too few maps, too few people
    assert assign_splits(map_infos([5, 3, 2, 1]), mode="blocks").modes == {"osu": "blocks"}
    with pytest.raises(DataError, match="split mode 'subject' impossible: 2 people"):
        assign_splits(map_infos([5, 3, 2, 1]), mode="subject")
    sess = map_infos([5, 3, 2, 1]) + infos(40)
    sp = assign_splits(sess)
    sp.save(tmp_path)
    d = json.loads((tmp_path / "splits.json").read_text())
    assert d["modes"] == {"osu": "map", "sapimouse": "subject"} and d["mode"] == "auto" and d["fractions"] == [0.7, 0.1, 0.2]
    assert set(d["maps"]["osu"]) == {"m0", "m1", "m2", "m3"}
    back = load_splits(tmp_path)
    assert back.to_dict() == sp.to_dict()
    assert [s.session_id for s, _ in back.parts("test", sess)] == [s.session_id for s, _ in sp.parts("test", sess)]
    assert any(line.startswith("osu: map (") and "test maps (1): m" in line for line in sp.summary_lines())
