"""Rollout windows (``generation/rollout_windows.py``): the splice, its recovery targets, the held-state rule, the dataset."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from actiongen_keras.config import DataConfig
from actiongen_keras.data.build import split_checksums
from actiongen_keras.data.normalize import fit_preprocessing, load_preprocessing
from actiongen_keras.data.pipeline import load_builder
from actiongen_keras.data.windows import session_windows
from actiongen_keras.errors import ActiongenError, ConfigError
from actiongen_keras.generation.rollout_windows import (
    ROLLOUTS_FILE,
    build_rollout_dataset,
    held_at,
    rollout_times,
    splice,
    window_at,
)
from actiongen_keras.recordings.session import Events, write_session
from actiongen_keras.testing.runs import untrained_run
from actiongen_keras.testing.sessions import synthetic_session

CFG = DataConfig(tick_ms=300.0, history_ticks=4, target_ms=600.0, max_history_events=64, max_actions=32)


@pytest.fixture(scope="module")
def person():
    s = synthetic_session("p", "alice", duration_s=20, rate_hz=30, seed=3, with_state=True, screen=(800, 600), state_step_ms=300.0)
    return s, fit_preprocessing([(s, None)], CFG, all_sessions=[s])


def _span(events, a, b):
    return events.take((events.t_ms >= a) & (events.t_ms < b))


def test_the_persons_own_events_spliced_in_give_the_training_window(person):
    s, prep = person
    ins, tgs, wts, T = session_windows(s, prep)
    for k in (0, 3, len(T) // 2, len(T) - 1):
        for ahead in (1, 2):
            T0 = T[k] - ahead * CFG.target_ms
            spliced, why = splice(s, _span(s.events, T0, T[k]), T0, T[k], 0.2, CFG)
            assert why is None
            got = window_at(spliced, T[k], prep)
            for part, ref in zip(got, (ins, tgs, wts)):
                for name in part:
                    np.testing.assert_array_equal(part[name][0], ref[name][k], err_msg=f"{name} at T={T[k]}")


def test_history_holds_the_rollout_and_targets_fade_back_to_the_person(person):
    s, prep = person
    _, _, _, T = session_windows(s, prep)
    T1 = T[len(T) // 2]
    T0 = T1 - CFG.target_ms
    mine = _span(s.events, T0, T1)
    dx, dy = 40.0, -25.0
    gen = dataclasses.replace(mine, x=np.asarray(mine.x) + dx, y=np.asarray(mine.y) + dy)
    ref_in, ref_tg, _, _ = session_windows(s, prep)
    k = int(np.flatnonzero(T == T1)[0])
    for recovery in (0.2, 0.5, 1.0):
        spliced, why = splice(s, gen, T0, T1, recovery, CFG)
        assert why is None
        ins, tgs, wts = window_at(spliced, T1, prep)
        shift = np.array([dx / 800.0, dy / 600.0], np.float32)
        # the history's events of [T0, T1) are the rollout's: moved by the drift, the rest the person's
        after = ins["hist_t_before"][0] <= T1 - T0
        real = ins["hist_type"][0] > 0
        np.testing.assert_allclose(ins["hist_xy"][0][after & real], ref_in["hist_xy"][k][after & real] + shift, atol=1e-6)
        np.testing.assert_array_equal(ins["hist_xy"][0][~after], ref_in["hist_xy"][k][~after])
        # the decoder starts from the rollout's cursor; target i moved by the drift times (1 - recovery) ** (i + 1)
        np.testing.assert_allclose(ins["dec_xy"][0, 0], ref_in["dec_xy"][k, 0] + shift, atol=1e-6)
        n = int(tgs["seq_len"][0])
        assert n == int(ref_tg["seq_len"][k]) > 3
        fade = (1.0 - recovery) ** np.arange(1, n + 1)
        np.testing.assert_allclose(tgs["xy"][0, :n], ref_tg["xy"][k, :n] + fade[:, None] * shift, atol=1e-6)
        np.testing.assert_allclose(ins["dec_xy"][0, 1 : n + 1], tgs["xy"][0, :n], atol=1e-7)
        # types and times are the person's
        np.testing.assert_array_equal(tgs["event_type"][0], ref_tg["event_type"][k])
        np.testing.assert_array_equal(tgs["timing"][0][1:], ref_tg["timing"][k][1:])


def _ev(rows):
    t, typ, btn = zip(*rows)
    return Events.from_columns(t_ms=list(t), type=list(typ), x=[1.0] * len(t), y=[1.0] * len(t), button=list(btn))


def test_held_state_replay():
    ev = _ev([(0, "press", "left"), (10, "move", ""), (20, "press", "right"), (30, "release", "left")])
    assert held_at(ev, 25) == {("button", "left"), ("button", "right")}
    assert held_at(ev, 40) == {("button", "right")}
    # a release of what is not held: ignored by default (a press before the context), refused when strict
    assert held_at(ev, 40, strict=True) == {("button", "right")}
    assert held_at(_ev([(0, "release", "left")]), 5) == frozenset()
    assert held_at(_ev([(0, "release", "left")]), 5, strict=True) is None
    assert held_at(_ev([(0, "press", "left")]), 5, held={("button", "left")}, strict=True) is None


def test_windows_whose_next_presses_do_not_follow_the_rollouts_held_state_are_left_out(person):
    s, prep = person
    _, _, _, T = session_windows(s, prep)
    ev = s.events
    # a window whose targets press (and release) a button
    T1 = next(t for t in T[2:] if np.isin(_span(ev, t, t + CFG.target_ms).type, ["press"]).any()
              and not held_at(ev, t))
    T0 = T1 - CFG.target_ms
    btn = _span(ev, T1, T1 + CFG.target_ms).button[np.asarray(_span(ev, T1, T1 + CFG.target_ms).type) == "press"][0]
    mine = _span(ev, T0, T1)
    mine = mine.take(~np.isin(np.asarray(mine.type), ["press", "release"]))
    held = Events.concatenate([mine, _ev([(T1 - 5.0, "press", btn)])])  # the rollout still holds that button at T
    spliced, why = splice(s, held, T0, T1, 0.2, CFG)
    assert spliced is None and why == "held"
    other = "middle" if btn != "middle" else "left"
    spliced, why = splice(s, Events.concatenate([mine, _ev([(T1 - 5.0, "press", other)])]), T0, T1, 0.2, CFG)
    assert why is None  # a button the person's window never touches stays held: kept


def test_rollout_times(person):
    s, prep = person
    _, _, _, grid = session_windows(s, prep)  # every 300 ms (a tick); a rollout window is 600 ms
    T0, T = rollout_times(s, prep, 3)
    np.testing.assert_array_equal(T0, grid[::6])  # one rollout every 3 windows of 600 ms
    assert T.shape == (len(T0), 3)
    np.testing.assert_array_equal(T[0], grid[[2, 4, 6]])
    ok = np.isfinite(T)
    assert set(T[ok]) == set(grid[2::2])  # every window 600 ms on from the first, once
    assert np.all(np.isnan(T[-1][T0[-1] + CFG.target_ms * np.arange(1, 4) > grid[-1]]))
    assert np.all(np.isfinite(T[-1][T0[-1] + CFG.target_ms * np.arange(1, 4) <= grid[-1]]))


@pytest.mark.slow
def test_build_rollout_dataset(dummy_data_dir, tmp_path):
    prep = load_preprocessing(dummy_data_dir)
    sessions = dummy_data_dir.parent / "sessions"
    run = untrained_run([], run_dir=tmp_path / "run", preprocessing=prep)
    out = tmp_path / "ro"
    summary, tally = build_rollout_dataset(run.path, dummy_data_dir, sessions, out, windows_ahead=4, recovery=0.3, progress=False,
                                           log=lambda *_: None)
    src = load_builder(dummy_data_dir).info.splits
    assert tally.written > 20 and not tally.failed
    assert summary.windows["train"] == src["train"].num_examples + tally.written
    a, b = split_checksums(dummy_data_dir), split_checksums(out)
    assert a["validation"] == b["validation"] and a["test"] == b["test"]
    assert json.loads((out / "preprocessing.json").read_text()) == json.loads((dummy_data_dir / "preprocessing.json").read_text())
    info = json.loads((out / ROLLOUTS_FILE).read_text())
    assert info["rollout_windows"] == tally.written and info["windows_ahead"] == 4 and info["recovery"] == 0.3

    # the examples' histories are the rollout's own events, their targets the person's (types and times)
    from actiongen_keras.data.splits import load_splits
    from actiongen_keras.generation.rollout_windows import rollout_examples
    from actiongen_keras.recordings.session import read_session

    s = read_session(sessions / "sapi-b")[0]
    parts = load_splits(dummy_data_dir).parts("train", [s])
    ins, tgs, _, T = session_windows(s, prep, time_range=parts[0][1])
    examples = list(rollout_examples(run.path, parts, prep, windows_ahead=4, recovery=0.3))
    assert len(examples) > 5
    own = 0
    for key, ex in examples:
        assert key == f"sapi-b/{ex['t_ms']:.0f}/rollout"
        k = int(np.flatnonzero(T == ex["t_ms"])[0])
        np.testing.assert_array_equal(ex["targets"]["event_type"], tgs["event_type"][k])
        np.testing.assert_array_equal(ex["targets"]["timing"][1:], tgs["timing"][k][1:])
        own += not np.array_equal(ex["inputs"]["hist_xy"], ins["hist_xy"][k])
    assert own == len(examples)  # every history differs from the person's: it holds generated events

    only, t2 = build_rollout_dataset(run.path, dummy_data_dir, sessions, tmp_path / "ro_only", windows_ahead=4, recovery=0.3,
                                     real=False, progress=False, log=lambda *_: None)
    assert only.windows["train"] == t2.written == tally.written  # same seed: the same rollouts

    other = untrained_run([synthetic_session("x", "x", duration_s=20)], run_dir=tmp_path / "other")
    with pytest.raises(ActiongenError, match="other statistics"):
        build_rollout_dataset(other.path, dummy_data_dir, sessions, tmp_path / "bad", progress=False)
    more = tmp_path / "more"
    shutil.copytree(sessions, more)
    write_session(synthetic_session("extra", "carol", source="sapimouse", duration_s=30, seed=9), more / "extra")
    with pytest.raises(ActiongenError, match="do not give this dataset's statistics again"):
        build_rollout_dataset(run.path, dummy_data_dir, more, tmp_path / "bad", progress=False)
    with pytest.raises(ConfigError, match="windows_ahead"):
        build_rollout_dataset(run.path, dummy_data_dir, sessions, tmp_path / "bad", windows_ahead=0, progress=False)
