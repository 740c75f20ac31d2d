"""build_dataset end to end on small sessions: counts, skips, files, make_dataset == NumPy path."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actiongen_keras.config import DataConfig  # noqa: E402
from actiongen_keras.data import features as F  # noqa: E402
from actiongen_keras.data.build import build_dataset, config_for_sources  # noqa: E402
from actiongen_keras.data.normalize import load_preprocessing  # noqa: E402
from actiongen_keras.data.pipeline import make_dataset  # noqa: E402
from actiongen_keras.data.splits import load_splits  # noqa: E402
from actiongen_keras.data.windows import windows_from_sessions  # noqa: E402
from actiongen_keras.errors import ConfigError, DataError  # noqa: E402
from actiongen_keras.recordings.session import iter_sessions, write_session  # noqa: E402
from actiongen_keras.testing.sessions import (  # noqa: E402
    synthetic_session,
    write_dummy_data,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    sess = root / "sessions"
    write_dummy_data(sess)
    # unusable sessions: each must be skipped with its reason
    write_session(synthetic_session("tiny", "carol", source="sapimouse", duration_s=4, rate_hz=5, seed=3), sess / "tiny")
    write_session(synthetic_session("nostate", "dave", source="osu", duration_s=30, rate_hz=5, seed=4, game="osu!"), sess / "nostate")
    bad = sess / "zero"
    write_session(synthetic_session("zero", "erin", source="sapimouse", duration_s=30, rate_hz=5, seed=5), bad)
    meta = json.loads((bad / "session.json").read_text())
    meta["screen"]["width"] = 0
    (bad / "session.json").write_text(json.dumps(meta))
    out = root / "data"
    summary = build_dataset(sess, out, progress=False)
    return sess, out, summary


def test_summary_counts_and_skips(built):
    sess, out, summary = built
    assert summary.builder_config == "all"
    assert summary.windows == {"train": 166, "validation": 4, "test": 32}  # 70/10/20 time blocks
    assert summary.sessions == 2
    reasons = {Path(s["session"]).name: s["reason"] for s in summary.skipped}
    assert reasons["tiny"].startswith("shorter than one window")
    assert "without state" in reasons["nostate"]
    assert "screen.width" in reasons["zero"] and reasons["zero"].startswith("unreadable")
    assert summary.split_modes == {"osu": "blocks", "sapimouse": "blocks"}
    assert "SKIPPED" in summary.text()
    for f in ("splits.json", "preprocessing.json", "build_report.json"):
        assert (out / f).exists()
    assert load_preprocessing(out).builder_config == "all"
    assert set(load_splits(out).blocks) == {"osu", "sapimouse"}


def test_make_dataset_matches_numpy_path(built):
    sess, out, _ = built
    prep = load_preprocessing(out)
    splits = load_splits(out)
    sessions = [s for s, _ in iter_sessions(sess, on_error="skip") if s is not None and s.session_id in ("osu-a", "sapi-b")]
    for split in ("train", "val"):
        parts = splits.parts(split, sessions)
        ranges = {s.session_id: r for s, r in parts}
        ins, tgs, wts, meta = windows_from_sessions([s for s, _ in parts], prep, time_ranges=ranges, with_meta=True)
        ds = make_dataset(out, split, batch_size=1000, shuffle=False, deterministic=True, with_meta=True)
        (x, y, w, m), = list(ds.as_numpy_iterator())
        order = np.lexsort((m["t_ms"], m["session_id"].astype(str)))
        ref = np.lexsort((meta["t_ms"], meta["session_id"].astype(str)))
        assert len(order) == len(ref)
        for k in F.INPUT_NAMES:
            np.testing.assert_array_equal(x[k][order], ins[k][ref], err_msg=k)
            assert x[k].dtype == ins[k].dtype
        for k in F.TARGET_NAMES:
            np.testing.assert_array_equal(y[k][order], tgs[k][ref], err_msg=k)
            np.testing.assert_array_equal(w[k][order], wts[k][ref], err_msg=k)


def test_make_dataset_batches_shapes_and_determinism(built):
    _, out, _ = built
    ds = make_dataset(out, "train", batch_size=64, shuffle=True, deterministic=True, seed=7, drop_remainder=True)
    assert ds.element_spec[0]["hist_type"].shape.as_list() == [64, 128]
    assert ds.element_spec[0]["state_numeric"].shape.as_list() == [64, 10, 4]  # obj_dt_ms, obj_x, obj_y, active
    assert ds.element_spec[0]["anchor_xy"].shape.as_list() == [64, 1, 2]  # the "obj" anchor
    assert ds.element_spec[2]["seq_len"].shape.as_list() == [64]
    a = [b[1]["seq_len"] for b in make_dataset(out, "train", shuffle=True, deterministic=True, seed=7).as_numpy_iterator()]
    b = [b[1]["seq_len"] for b in make_dataset(out, "train", shuffle=True, deterministic=True, seed=7).as_numpy_iterator()]
    assert len(a) == 3 and all((u == v).all() for u, v in zip(a, b))
    assert sum(len(u) for u in a) == 166
    with pytest.raises(DataError, match="unknown split"):
        make_dataset(out, "dev")


def test_tfds_load_after_import(built):
    import tensorflow_datasets as tfds

    _, out, _ = built
    ds = tfds.load("actiongen_sessions/all", data_dir=str(out), split="validation", download=False)
    ex = next(iter(ds))
    assert set(ex) == {"inputs", "targets", "weights", "session_id", "t_ms"}
    assert int(ds.cardinality()) == 4


def test_empty_split_is_an_error(tmp_path):
    sess = tmp_path / "s"
    write_session(synthetic_session("short", "zed", source="sapimouse", duration_s=30, rate_hz=5, seed=1), sess / "short")
    with pytest.raises(DataError, match=r"no windows .*'train': \d+"):
        build_dataset(sess, tmp_path / "out", progress=False)


def test_no_usable_sessions_and_bad_sources(tmp_path):
    sess = tmp_path / "s"
    write_session(synthetic_session("tiny", "zed", source="sapimouse", duration_s=3, rate_hz=5, seed=1), sess / "tiny")
    with pytest.raises(DataError, match="no usable session.*shorter than one window"):
        build_dataset(sess, tmp_path / "out", progress=False)
    with pytest.raises(ConfigError):
        config_for_sources(["all", "osu"])
    assert config_for_sources(["osu", "balabit"]) == ("all", ("balabit", "osu"))
    assert config_for_sources("keystrokes_aalto") == ("aalto", None)
    assert config_for_sources(None) == config_for_sources([]) == ("all", None)
    assert config_for_sources(["osu"]) == ("osu", None)


def test_source_config_and_custom_data_config(built, tmp_path):
    sess, _, _ = built
    cfg = DataConfig(max_history_events=32, max_actions=8, min_move_interval_ms=200.0)
    summary = build_dataset(sess, tmp_path / "osu", config=cfg, sources="osu", progress=False)
    assert summary.builder_config == "osu" and summary.sessions == 1
    assert summary.windows == {"train": 83, "validation": 2, "test": 16}
    prep = load_preprocessing(tmp_path / "osu")
    assert prep.data_config == cfg and prep.builder_config == "osu"
    x, y, w = next(iter(make_dataset(tmp_path / "osu", "test", batch_size=8, shuffle=False)))
    assert x["hist_type"].shape == (8, 32) and y["event_type"].shape == (8, 9)
    shutil.rmtree(tmp_path / "osu")
    # several sources: config "all" filtered to them
    summary = build_dataset(sess, tmp_path / "two", sources=["sapimouse", "osrs"], progress=False)
    assert summary.builder_config == "all" and summary.sessions == 1
    assert load_preprocessing(tmp_path / "two").sources == ["osrs", "sapimouse"]


# --------------------------------------------------------------------------- hardening (#13)


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_failed_rebuild_leaves_the_previous_dataset_untouched(built, tmp_path):
    _, out, _ = built
    data = tmp_path / "data"
    shutil.copytree(out, data)
    before = _files(data)
    bad = tmp_path / "bad_sessions"
    write_session(synthetic_session("short", "zed", source="sapimouse", duration_s=30, rate_hz=5, seed=1), bad / "short")
    with pytest.raises(DataError, match="no windows"):
        build_dataset(bad, data, progress=False, overwrite=True)  # fails inside the TFDS build
    assert _files(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad_sessions", "data"]  # no temporary folder left
    from actiongen_keras.errors import ActiongenError

    with pytest.raises(ActiongenError, match="already exists and is not empty \\(give --overwrite"):
        build_dataset(bad, data, progress=False)
    assert _files(data) == before


def test_duplicate_session_ids_are_refused_before_tfds_with_both_paths(tmp_path):
    sess = tmp_path / "s"
    write_dummy_data(sess)
    first = next(p for p in sorted(sess.iterdir()) if (p / "session.json").exists())
    shutil.copytree(first, sess / "zz_copy")
    with pytest.raises(DataError, match="session ids must be unique") as e:
        build_dataset(sess, tmp_path / "out", progress=False)
    assert str(first) in str(e.value) and str(sess / "zz_copy") in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no empty skeleton


_BUILD_AND_HASH = """
import hashlib, sys
from pathlib import Path
from actiongen_keras.data.build import build_dataset
out = Path(sys.argv[2])
build_dataset(sys.argv[1], out, progress=False)
for p in sorted(out.rglob("*")):
    if p.is_file():
        print("sha256", p.relative_to(out), hashlib.sha256(p.read_bytes()).hexdigest())
"""


@pytest.mark.slow
def test_two_builds_give_byte_identical_files(built, tmp_path):
    """In two processes with different string hashing (the feature-map order of tf.train.Example followed it)."""
    import os
    import subprocess

    sess, _, _ = built
    root = Path(__file__).resolve().parents[2]
    sums = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(root), TF_CPP_MIN_LOG_LEVEL="2")
        res = subprocess.run([sys.executable, "-c", _BUILD_AND_HASH, str(sess), str(tmp_path / f"d{seed}")], env=env,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-2000:]
        sums.append([line for line in res.stdout.splitlines() if line.startswith("sha256 ")])
    assert any("tfrecord" in line for line in sums[0])
    assert sums[0] == sums[1]


def test_epoch_indexed_shuffle_resumes_at_the_same_order(dummy_data_dir):
    """make_dataset(first_epoch=e): epoch e's windows in the order an uninterrupted stream gives
    them at epoch e (a resumed training run reads what an uninterrupted one reads)."""
    from actiongen_keras.data.pipeline import steps_per_epoch

    steps = steps_per_epoch(dummy_data_dir, "train", 64)

    def order(first, epochs):
        ds = make_dataset(dummy_data_dir, "train", 64, seed=5, deterministic=True, first_epoch=first, with_meta=True)
        batches = [m["t_ms"].numpy() for _, _, _, m in ds.take(steps * epochs)]
        return [np.concatenate(batches[i * steps:(i + 1) * steps]) for i in range(epochs)]

    full = order(0, 3)
    assert len(full[0]) == sum(1 for _ in make_dataset(dummy_data_dir, "train", 1, shuffle=False).unbatch())
    assert not np.array_equal(full[0], full[1]) and not np.array_equal(full[1], full[2])  # reshuffled every epoch
    assert sorted(full[0]) == sorted(full[2])  # each epoch: every window once
    resumed = order(2, 1)
    np.testing.assert_array_equal(resumed[0], full[2])
    np.testing.assert_array_equal(order(0, 1)[0], full[0])  # and run to run


@pytest.mark.parametrize("global_seed", [0, 7])
def test_epoch_order_does_not_depend_on_the_global_seed(dummy_data_dir, global_seed):
    """A global seed of 0 (keras.utils.set_random_seed(0), train.seed 0) made TF read the epoch's
    tensor seed as a bool and the pipeline failed to build; the order is (seed, epoch)'s alone."""
    import keras

    keras.utils.set_random_seed(global_seed)
    ds = make_dataset(dummy_data_dir, "train", 64, seed=5, deterministic=True, first_epoch=0, with_meta=True)
    first = next(iter(ds))[3]["t_ms"].numpy()
    keras.utils.set_random_seed(1234)
    again = next(iter(make_dataset(dummy_data_dir, "train", 64, seed=5, deterministic=True, first_epoch=0, with_meta=True)))[3]
    np.testing.assert_array_equal(first, again["t_ms"].numpy())


# --------------------------------------------------------------------------- held-out maps and people (#12)


def _map_sessions(folder):
    """Source 'maps': 2 players on 6 maps (maps held out, players recur). Source 'crowd': 12
    players, each on a map of their own and on a map shared with one other player (maps and
    players held out)."""
    def write(sid, subject, source, beatmap, seed, seconds=9):
        s = synthetic_session(sid, subject, source=source, duration_s=seconds, rate_hz=10, seed=seed)
        s.extra["beatmap_md5"] = beatmap
        write_session(s, folder / sid)

    for m in range(6):
        for j, player in enumerate(("Toy", "abraker")):
            write(f"maps-{m}-{player}", f"osu:{player}", "maps", f"map{m}", 10 * m + j, seconds=9 + 3 * m)
    for i in range(12):
        write(f"crowd-{i}-own", f"crowd:p{i}", "crowd", f"own{i}", 100 + i)
        write(f"crowd-{i}-pair", f"crowd:p{i}", "crowd", f"pair{i // 2}", 200 + i)


def test_built_splits_hold_out_maps_and_people(tmp_path, capsys):
    from actiongen_keras.cli import main

    sess = tmp_path / "s"
    _map_sessions(sess)
    out = tmp_path / "data"
    assert main(["-q", "dataset", "build", str(sess), "--out", str(out), "--split-fractions", "0.6,0.2,0.2"]) == 0
    printed = capsys.readouterr().out
    assert "split maps: map (validation" in printed and "split crowd: map+subject (validation" in printed
    splits = load_splits(out)
    assert splits.modes == {"crowd": "map+subject", "maps": "map"} and splits.fractions == (0.6, 0.2, 0.2)
    sessions = {s.session_id: s for s, _ in iter_sessions(sess) if s is not None}
    # what the records hold, split by split
    held = {}
    for split in ("train", "validation", "test"):
        ids = set()
        for *_, meta in make_dataset(out, split, batch_size=256, shuffle=False, with_meta=True).as_numpy_iterator():
            ids |= {v.decode() for v in meta["session_id"]}
        held[split] = [sessions[i] for i in sorted(ids)]
        assert {s.source for s in held[split]} == {"maps", "crowd"}, split
    for source, attrs in (("maps", ("beatmap_md5",)), ("crowd", ("beatmap_md5", "subject"))):
        for attr in attrs:
            got = {sp: {s.extra[attr] if attr != "subject" else s.subject for s in ss if s.source == source} for sp, ss in held.items()}
            assert not (got["train"] & got["test"]) and not (got["train"] & got["validation"]) and not (got["validation"] & got["test"]), (source, attr)
            if attr == "beatmap_md5":
                assert got["test"] == set(splits.held_out[source]["test"]["maps"])
    assert set(splits.held_out["crowd"]["test"]["subjects"]) == {s.subject for s in held["test"] if s.source == "crowd"}
    # the players of 'maps' recur: its test maps are unseen, its test players are not
    assert {s.subject for s in held["test"] if s.source == "maps"} <= {s.subject for s in held["train"] if s.source == "maps"}
    # statistics from the training split only: the stored ones are a fit on the train parts, not on every session
    from actiongen_keras.data.normalize import fit_preprocessing

    ordered = sorted(sessions.values(), key=lambda s: (s.source, s.session_id))
    stored = load_preprocessing(out).to_dict()
    on_train = fit_preprocessing(splits.parts("train", ordered), builder_config="all", all_sessions=ordered).to_dict()
    on_all = fit_preprocessing([(s, None) for s in ordered], builder_config="all", all_sessions=ordered).to_dict()
    assert stored["interval_quantiles_ms"] == on_train["interval_quantiles_ms"] != on_all["interval_quantiles_ms"]


def test_bad_split_flags_are_one_line_errors(tmp_path, capsys):
    from actiongen_keras.cli import main

    for flag, value, message in (("--split-fractions", "0.5,0.1,0.1", "split fractions must sum to 1, got 0.5,0.1,0.1 (sum 0.7)"),
                                 ("--split-fractions", "1,0,0", "train and test must be > 0"),
                                 ("--split-mode", "maps", "invalid choice: 'maps'")):
        with pytest.raises(SystemExit) as e:
            main(["dataset", "build", str(tmp_path), "--out", str(tmp_path / "o"), flag, value])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert [line for line in err.splitlines() if line.startswith("actiongen dataset build: error:") and message in line], err
    # a mode the sessions cannot have: one line, exit 2
    sess = tmp_path / "s"
    write_session(synthetic_session("a", "zed", source="sapimouse", duration_s=30, rate_hz=5, seed=1), sess / "a")
    assert main(["-q", "dataset", "build", str(sess), "--out", str(tmp_path / "o"), "--split-mode", "map"]) == 2
    assert "split mode 'map' impossible: every session must name its map" in capsys.readouterr().err


def test_unshuffled_reads_come_in_the_same_order_every_time(dummy_data_dir):
    """shuffle=False reads in the stored order (before, the parallel file interleave handed
    windows over as threads finished): validation losses and metrics are float sums whose
    last bits depend on the order."""
    for split in ("validation", "test"):
        reads = []
        for _ in range(8):
            ds = make_dataset(dummy_data_dir, split, 4, shuffle=False, with_meta=True)
            reads.append([w for _, _, _, m in ds.as_numpy_iterator() for w in zip(m["session_id"].tolist(), m["t_ms"].tolist())])
        assert len(reads[0]) > 4
        assert all(r == reads[0] for r in reads), split


def test_examples_of_their_own_are_not_written_on_beam(tmp_path):
    with pytest.raises(ConfigError, match="not on Apache Beam"):
        build_dataset(tmp_path, tmp_path / "out", beam_runner="DirectRunner", examples=lambda prepared, split: iter(()))
    assert not (tmp_path / "out").exists()
