"""`actiongen evaluate` end to end on a tiny untrained model and synthetic sessions."""

import argparse
import json

import pytest

from actiongen_keras.evaluation.cli import add_evaluation_parsers
from actiongen_keras.recordings.session import (
    find_sessions,
    read_session,
    write_session,
)
from actiongen_keras.scoring.window_metrics import METRIC_NAMES
from actiongen_keras.testing.runs import tiny_config, untrained_run
from actiongen_keras.testing.sessions import synthetic_session


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    sessions = [
        synthetic_session(f"s{i}", f"person{i}", source="osu", duration_s=16, rate_hz=30, seed=i, with_state=True, screen=(512, 384))
        for i in range(4)
    ]
    for s in sessions:
        write_session(s, root / "sessions" / s.session_id)
    run = untrained_run(sessions[:2], tiny_config(), run_dir=root / "run")
    return root, run


def test_evaluate_writes_report_and_metrics(setup):
    root, run = setup
    out = root / "report"
    p = argparse.ArgumentParser()
    p.add_argument("-q", "--quiet", action="store_true")
    add_evaluation_parsers(p.add_subparsers(dest="command"))
    args = p.parse_args(["-q", "evaluate", "--model", run.path, "--sessions", str(root / "sessions"), "--out", str(out),
                         "--seconds", "6", "--max-sessions", "4", "--seed", "1", "--n-boot", "20"])
    assert args.func(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["detector_auc"]) == {"model", "bezier", "wind", "human_floor"}
    for name in ("model", "bezier", "wind"):
        auc = m["detector_auc"][name]["auc"]
        assert auc is not None and 0.0 <= auc <= 1.0, m["detector_auc"][name]
    assert set(m["detector_cues"]) == {"model", "bezier", "wind"}
    cues = m["detector_cues"]["model"]
    assert cues and all(0.5 <= c["auc"] <= 1.0 for c in cues) and [c["auc"] for c in cues] == sorted((c["auc"] for c in cues), reverse=True)
    ph = m["per_head"]
    assert set(METRIC_NAMES) <= set(ph["model"])
    assert {"previous_event", "majority_event", "repeat_last_window", "hold_cursor", "constant_velocity"} <= set(ph["baselines"])
    assert ph["model"]["windows"] > 0 and 0.0 <= ph["model"]["event_accuracy"] <= 1.0
    g = m["generation"]
    assert g["sessions"] == 4 and g["windows"] == 4 * 10 and g["ms_per_window"] > 0
    assert m["counts"]["model_sessions"] == 4
    text = (out / "report.md").read_text()
    assert text.index("Per-head metrics") < text.index("Closed-loop generation") < text.index("Detector")
    assert "| model |" in text and "| previous_event |" in text
    assert f"| model | {cues[0]['feature']} |" in text  # the cue table
    for png in ("timing_hist.png", "trajectories.png", "detector_roc.png", "feature_distributions.png"):
        assert (out / png).exists(), png
    # the rollouts, readable in strict mode, one per session, seeds seed..seed+3
    gen = find_sessions(out / "generated")
    assert len(gen) == 4
    seeds = sorted(read_session(f, "strict")[0].extra["seed"] for f in gen)
    assert seeds == [1, 2, 3, 4]


def test_evaluate_on_one_split_uses_only_its_time_blocks(setup):
    """With --data/--split, windows and rollouts come from each session's test block only."""
    from actiongen_keras.data.splits import Splits
    from actiongen_keras.evaluation.evaluate import evaluate

    root, run = setup
    data_dir = root / "data"
    blocks = {f"s{i}": {"train": [0.0, 8000.0], "test": [8000.0, 16000.0]} for i in range(4)}
    Splits(blocks={"osu": blocks}, modes={"osu": "blocks"}).save(data_dir)
    out = root / "report_split"
    m = evaluate(run.path, root / "sessions", out, seconds=30, seed=0, n_boot=10, progress=False, data_dir=data_dir, split="test")
    # Window boundaries lie on the session's 600 ms grid (6000 + 600 k): with the context inside
    # [8000, 16000) and the target before 16000, T in {14400, 15000}: 2 windows per session.
    assert m["per_head"]["model"]["windows"] == 4 * 2
    for folder in find_sessions(out / "generated"):
        g, _ = read_session(folder)
        assert g.extra["generated_from_ms"] == 14000.0
        assert g.events.t_ms[-1] < 16000.0 + 600.0
