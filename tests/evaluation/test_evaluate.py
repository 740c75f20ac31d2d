"""`actiongen evaluate` end to end on a tiny untrained model and synthetic sessions."""

import argparse
import json

import pytest

from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.evaluation.cli import add_evaluation_parsers
from actiongen_keras.generation.rollout import generated_part
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


def _evaluate_args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("-q", "--quiet", action="store_true")
    add_evaluation_parsers(p.add_subparsers(dest="command"))
    return p.parse_args(argv)


def test_evaluate_writes_report_and_metrics(setup):
    root, run = setup
    out = root / "report"
    args = _evaluate_args(["-q", "evaluate", "--model", run.path, "--sessions", str(root / "sessions"), "--out", str(out),
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
    # every segment feature with values on both sides keeps its cue (the ablation tables read the
    # path-shape ones), not only the report's top ones
    assert len(cues) > 6 and len({c["feature"] for c in cues}) == len(cues), [c["feature"] for c in cues]
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
    hf = m["detector_auc"]["human_floor"]
    assert hf["n_subjects"] == 4 and hf["has_power"] is False
    assert "on 4 people (**no power**: needs 8 people" in text


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
    assert m["split"]["modes"] == {"osu": "blocks"} and m["split"]["split"] == "test"
    assert "osu: blocks (each session cut by time)" in (out / "report.md").read_text()
    for folder in find_sessions(out / "generated"):
        g, _ = read_session(folder)
        assert g.extra["generated_from_ms"] == 14000.0
        assert g.events.t_ms[-1] < 16000.0 + 600.0


@pytest.mark.slow
def test_evaluate_over_seeds_reports_each_seed_and_mean_min_max(setup):
    """--seeds: the closed loop once per seed (own folder, own rollouts), numbers per seed with
    mean/min/max, the floor beside every AUC; per-head metrics once."""
    import numpy as np

    root, run = setup
    out = root / "report_seeds"
    args = _evaluate_args(["-q", "evaluate", "--model", run.path, "--sessions", str(root / "sessions"), "--out", str(out),
                         "--seconds", "6", "--seeds", "0,5", "--n-boot", "10"])
    assert args.seeds == [0, 5]
    assert args.func(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["seeds"] == [0, 5] and set(m["per_seed"]) == {"0", "5"}
    for sd in ("0", "5"):
        full = json.loads((out / f"seed_{sd}" / "metrics.json").read_text())
        assert m["per_seed"][sd]["detector_auc.model"] == full["detector_auc"]["model"]["auc"]
        assert m["per_seed"][sd]["human_floor.n_subjects"] == 4 and m["per_seed"][sd]["human_floor.has_power"] is False
        assert (out / f"seed_{sd}" / "report.md").exists() and (out / f"seed_{sd}" / "interval_dwell_hist.png").exists()
    for sd in ("0", "5"):  # the drift figure of each seed is its report's
        full = json.loads((out / f"seed_{sd}" / "metrics.json").read_text())
        assert m["per_seed"][sd]["edge_share.model"] == full["edge_share"]["model"] and 0.0 <= full["edge_share"]["model"] <= 1.0
        # the moves that stand still, as kinematics.still_share counts them in that seed's own rollouts
        gen = [read_session(f)[0] for f in find_sessions(out / f"seed_{sd}" / "generated")]
        assert m["per_seed"][sd]["still_share.model"] == full["still_share"]["model"] == pytest.approx(
            K.still_share([generated_part(g) for g in gen]))
    for key in ("detector_auc.model", "detector_auc.bezier", "interval_ms.tv.model", "edge_share.model"):
        vals = [m["per_seed"][sd][key] for sd in ("0", "5")]
        s = m["summary"][key]
        assert s["per_seed"] == vals and s["mean"] == pytest.approx(np.mean(vals)) and (s["min"], s["max"]) == (min(vals), max(vals))
    # the rollouts differ between seeds and no two share a seed (S * N + i)
    seeds = {sd: sorted(read_session(f)[0].extra["seed"] for f in find_sessions(out / f"seed_{sd}" / "generated")) for sd in ("0", "5")}
    assert seeds == {"0": [0, 1, 2, 3], "5": [20, 21, 22, 23]}
    assert m["per_head"]["model"]["windows"] > 0 and not (out / "generated").exists()
    text = (out / "report.md").read_text()
    assert "| | seed 0 | seed 5 | mean | min | max |" in text
    row = next(line for line in text.splitlines() if line.startswith("| detector AUC, model |"))
    assert row.count("(floor -)") == 2  # 4 people: no floor, said beside each AUC
    assert "| human floor AUC (4 people, no power: needs 8) | - | - | - | - | - |" in text
    assert any(line.startswith("| cursor within 1% of a screen edge, model |") for line in text.splitlines())
    assert "[seed_0/report.md](seed_0/report.md)" in text and "\n## Intervals at 1 ms" not in text  # demoted under the closed loop
    assert "### Intervals at 1 ms and dwell times" in text


def test_seed_list_argument():
    from actiongen_keras.cliargs import seed_list

    assert seed_list("3") == [0, 1, 2] and seed_list("0,1,2") == [0, 1, 2] and seed_list("7") == list(range(7))
    for bad, why in (("0", ">= 1"), ("1,1", "distinct"), ("a,b", "comma-separated")):
        with pytest.raises(argparse.ArgumentTypeError, match=why):
            seed_list(bad)
