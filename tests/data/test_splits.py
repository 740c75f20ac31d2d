"""Splits: person-disjoint, deterministic, stable when people are added; time blocks for few people."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actiongen_keras.config import DataConfig  # noqa: E402
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
from actiongen_keras.errors import DataError  # noqa: E402


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
    assert 140 <= len(subjects["train"]) <= 180  # ~80 %


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
    sp = assign_splits(sess)
    assert sp.modes == {"osu": "blocks"}
    assert sp.subjects == {}
    blk = sp.blocks["osu"]["osu-long"]
    assert blk["train"] == [0.0, pytest.approx(0.8 * 3_177_500)]
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
