"""Statistics come from the training split only; vocabularies; preprocessing.json round trip."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actiongen_keras.config import DataConfig  # noqa: E402
from actiongen_keras.data import features as F  # noqa: E402
from actiongen_keras.data.normalize import fit_preprocessing, load_preprocessing  # noqa: E402
from actiongen_keras.data.splits import assign_splits, subject_split  # noqa: E402
from actiongen_keras.data.vocab import Vocabulary  # noqa: E402
from actiongen_keras.data.windows import windows_from_sessions  # noqa: E402
from actiongen_keras.errors import DataError  # noqa: E402
from actiongen_keras.testing.sessions import synthetic_session  # noqa: E402

CFG = DataConfig()


def _names(split, n):
    out, i = [], 0
    while len(out) < n:
        if subject_split(f"person{i}") == split:
            out.append(f"person{i}")
        i += 1
    return out


def _shift(session, offset, key_map=None, cat_value=None):
    """Move a session's state distribution; rename its keys."""
    st = session.state
    st.columns["obj_dt_ms"] = st.columns["obj_dt_ms"] + offset
    if cat_value is not None:
        st.columns["obj_kind"] = np.full(len(st), cat_value, dtype=object)
    if key_map:
        session.events.key = np.array([key_map.get(k, k) for k in session.events.key], dtype=object)
    return session


@pytest.fixture(scope="module")
def split_sessions():
    train = [synthetic_session(f"tr{i}", s, duration_s=20, rate_hz=30, seed=i, with_state=True) for i, s in enumerate(_names("train", 8))]
    val = [
        _shift(synthetic_session(f"va{i}", s, duration_s=20, rate_hz=30, seed=100 + i, with_state=True), 10_000.0, {"a": "zz"}, "boss")
        for i, s in enumerate(_names("validation", 2))
    ]
    val += [synthetic_session("te0", _names("test", 1)[0], duration_s=20, rate_hz=30, seed=200, with_state=True)]  # a test person
    val[0].state_columns.append({"name": "val_only", "kind": "numeric"})
    val[0].state.columns["val_only"] = np.ones(len(val[0].state))
    return train, val


def test_stats_fitted_on_train_only(split_sessions):
    train, val = split_sessions
    sessions = train + val
    sp = assign_splits(sessions, min_subjects=5)
    assert sp.modes["synth"] == "subject"
    prep = fit_preprocessing(sp.parts("train", sessions), CFG, all_sessions=sessions)
    col = {c["name"]: c for c in prep.numeric_columns}
    train_vals = np.concatenate([s.state.columns["obj_dt_ms"] for s in train])
    assert col["obj_dt_ms"]["mean"] == pytest.approx(train_vals.mean())
    assert col["obj_dt_ms"]["std"] == pytest.approx(train_vals.std())
    assert col["obj_dt_ms"]["mean"] < 1000  # the +10 s validation shift is not in it
    assert col["active"] == {"name": "active", "kind": "bool", "mean": 0.0, "std": 1.0}
    assert [c["name"] for c in prep.numeric_columns] == ["obj_dt_ms", "obj_x", "obj_y", "active"]
    assert prep.anchors == [{"name": "obj", "x": "obj_x", "y": "obj_y", "dt_ms": "obj_dt_ms"}]
    assert prep.ignored_state_columns == ["val_only"]
    assert "zz" not in prep.key_vocab.values and set(prep.key_vocab.values) == {"a", "b", "c", "q"}
    assert prep.categorical_columns[0]["vocab"] and "boss" not in prep.categorical_columns[0]["vocab"]
    assert prep.train["sessions"] == 8
    # validation windows: unseen key and category are "unknown" (1), shifted state is far from 0
    ins, tgs, wts = windows_from_sessions(val[:2], prep)
    keys = ins["hist_key"][ins["hist_type"] == F.KEY_UP]
    assert len(keys) and set(np.unique(keys)) <= {1, prep.key_vocab.lookup(["b"])[0], prep.key_vocab.lookup(["c"])[0], prep.key_vocab.lookup(["q"])[0]}
    assert 1 in set(np.unique(keys))
    m = ins["state_mask"] > 0
    assert (ins["state_categorical"][..., 0][m] == 1).all()
    assert ins["state_numeric"][..., 0][m].mean() > 10  # ~ +10000 ms / std ~230 ms
    tr_ins, *_ = windows_from_sessions(train, prep)
    mt = tr_ins["state_mask"] > 0
    assert abs(tr_ins["state_numeric"][..., 0][mt].mean()) < 0.2


def test_quantiles_and_type_counts(split_sessions):
    train, _ = split_sessions
    prep = fit_preprocessing([(s, None) for s in train], CFG)
    iv = np.concatenate([np.diff(s.events.t_ms) for s in train])
    pos = iv[iv > 0]
    for q in (10, 25, 50, 75, 90):
        assert prep.interval_quantiles_ms[f"p{q}"] == pytest.approx(np.percentile(pos, q))
    ins, tgs, wts = windows_from_sessions(train, prep)
    counts = {F.EVENT_TYPES[c]: int(((tgs["event_type"] == c) & (wts["event_type"] > 0)).sum()) for c in range(1, F.NUM_EVENT_CLASSES)}
    assert prep.target_type_counts == counts
    assert prep.train["windows"] == len(tgs["seq_len"])


def test_preprocessing_json_roundtrip(tmp_path, split_sessions):
    train, _ = split_sessions
    prep = fit_preprocessing([(s, None) for s in train], CFG, builder_config="all")
    path = prep.save(tmp_path)
    assert path.name == "preprocessing.json"
    d = json.loads(path.read_text())
    assert d["data_config"]["tick_ms"] == 600.0 and d["format"] == "actiongen-preprocessing/1"
    back = load_preprocessing(tmp_path)
    assert back == prep and back.num_numeric == 4 and back.num_categorical == 1 and back.anchors == prep.anchors
    assert back.categorical_vocab_sizes == [2 + len(d["state_categorical"][0]["vocab"])]
    with pytest.raises(DataError, match="no preprocessing.json"):
        load_preprocessing(tmp_path / "nowhere")


def test_no_training_sessions_is_an_error():
    with pytest.raises(DataError, match="training split has no sessions"):
        fit_preprocessing([], CFG)


def test_vocabulary_ids():
    v = Vocabulary.fit(["b", "a", "b", "", "c", "a", "b"])
    assert v.values == ["b", "a", "c"]
    np.testing.assert_array_equal(v.lookup(["", "b", "a", "c", "zzz"]), [0, 2, 3, 4, 1])
    assert v.size == 5
    assert list(v.decode([0, 1, 2])) == ["", "<unk>", "b"]
