"""Closed-loop figures while training (``evaluation/closed_loop_monitor.py``, ``actiongen train --closed-loop``)."""

import csv
import dataclasses

import numpy as np
import pytest

from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.data.splits import load_splits
from actiongen_keras.data.windows import history_ms
from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.evaluation.closed_loop_monitor import ClosedLoopMonitor, closed_loop_figures, rollout_contexts, split_contexts
from actiongen_keras.generation.rollout import generated_part, rollout
from actiongen_keras.recordings.session import Events
from actiongen_keras.testing.runs import tiny_train_config, untrained_run
from actiongen_keras.testing.sessions import synthetic_session
from actiongen_keras.training.train import train


def test_rollout_contexts_follow_the_evaluations_rule():
    from actiongen_keras.config import DataConfig

    cfg = DataConfig()
    long = synthetic_session("long", "a", duration_s=20, rate_hz=20, seed=1)
    short = synthetic_session("short", "b", duration_s=6.4, rate_hz=20, seed=2)  # a context but no window after it
    bot = dataclasses.replace(synthetic_session("bot", "c", duration_s=20, rate_hz=20, seed=3), extra={"human_channels": ["keys"]})
    found = rollout_contexts([long, short, bot], cfg)
    assert [s.session_id for s, _, _ in found] == ["long"]
    s, T0, end = found[0]
    assert T0 == long.events.t_ms[0] + history_ms(cfg) and end == long.events.t_ms[-1]
    (s, T0, end), = rollout_contexts([long], cfg, ranges={"long": (2000.0, 15000.0)})
    assert (T0, end) == (2000.0 + history_ms(cfg), 15000.0)  # a time block: the context inside it
    assert rollout_contexts([long, long], cfg, max_sessions=1) == found[:1]


def test_figures_of_a_still_cursor_at_an_edge():
    s = synthetic_session("a", "a", duration_s=12, rate_hz=20, seed=1)
    n = len(s.events)
    still = dataclasses.replace(s, events=Events.from_columns(t_ms=np.linspace(0, 6000, n), type=["move"] * n, x=np.zeros(n), y=np.full(n, 300.0)))
    f = closed_loop_figures([still], targets=False)
    assert f["edge_share"] == 1.0 and f["edge_share"] == K.edge_share([still])
    assert f["silent_share"] == K.silent_share([still]) == 0.0 and "osu_hit_rate" not in f and "targets_per_minute" not in f


@pytest.mark.slow
def test_train_logs_the_closed_loop_of_each_epoch(dummy_data_dir, tmp_path):
    sessions = dummy_data_dir.parent / "sessions"
    contexts = split_contexts(sessions, dummy_data_dir, "validation", max_sessions=2)
    assert {s.session_id for s, _, _ in contexts} == {"osu-a", "sapi-b"}
    r = dict(load_splits(dummy_data_dir).blocks["osu"]["osu-a"])["validation"]
    assert [T0 for s, T0, _ in contexts if s.session_id == "osu-a"] == [r[0] + 6000.0]  # inside the validation block

    config = tiny_train_config(run_eagerly=True)  # one step: tracing would cost more than it
    prep = load_preprocessing(dummy_data_dir)
    start = untrained_run([], config, tmp_path / "start", preprocessing=prep)  # fast timing: the 1-epoch model moves within seconds
    contexts = split_contexts(sessions, dummy_data_dir, "train", max_sessions=2)  # 64 s blocks: 4 s rollouts
    lines = []
    monitor = ClosedLoopMonitor(contexts, prep, config, seconds=4.0, seed=5, log=lines.append)
    train(dummy_data_dir, tmp_path / "run", config, epochs=1, gru_baseline=False, progress=False, log=lambda *_: None, monitors=[monitor],
          init_from=start.path)
    assert lines[0].startswith("closed loop (2 contexts x 4 s): the people over the same spans: edge_share")
    rows = list(csv.DictReader((tmp_path / "run" / "history.csv").read_text().splitlines()))
    assert len(rows) == 1
    logged = {k: float(v) for k, v in rows[0].items() if k.startswith("closed_loop_")}
    assert set(logged) == {"closed_loop_edge_share", "closed_loop_silent_share"}
    # the saved model rolled out by the public API from the same contexts and seeds gives the logged figures again
    rolled = rollout(tmp_path / "run" / "model.keras", [s for s, _, _ in contexts], seconds=4.0, seed=[5, 6],
                     start_ms=[T0 for _, T0, _ in contexts])
    parts = [generated_part(g) for g in rolled]
    assert logged["closed_loop_edge_share"] == pytest.approx(K.edge_share(parts), abs=1e-9)
    assert logged["closed_loop_silent_share"] == pytest.approx(K.silent_share(parts), abs=1e-9)
    assert 0.0 <= logged["closed_loop_edge_share"] <= 1.0 and 0.0 <= logged["closed_loop_silent_share"] <= 1.0
