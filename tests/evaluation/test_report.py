import json

import numpy as np
from helpers import click_session

from actiongen_keras.evaluation import report as R
from actiongen_keras.evaluation import synthetic as S


def test_evaluate_sessions_writes_everything(tmp_path):
    rng = np.random.default_rng(0)
    real = []
    for i in range(6):
        n = 40
        targets = rng.uniform([20, 20], [490, 360], (n, 2))
        times = 300 + np.cumsum(rng.uniform(250, 600, n))
        real.append(click_session([tuple(p) for p in targets], times.tolist(), sid=f"r{i}", subject=f"p{i}", dt=16.0, seed=i))
    gen = [S.bezier_session(s, seed=100 + i) for i, s in enumerate(real)]
    m = R.evaluate_sessions(real, gen, tmp_path / "out", seed=0, n_boot=50, progress=False)
    for k in ("model", "bezier", "wind", "human_floor"):
        assert set(m["detector_auc"][k]) >= {"auc", "ci_low", "ci_high"}
    assert m["detector_auc"]["model"]["auc"] > 0.8  # the Bezier bot against straight-ish human-made paths
    assert m["distances"]["model"]["speed"]["wasserstein"] > 0
    assert m["coherence"]["model"]["release_without_press"] == 0
    assert "osu_hit_rate" not in m
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"report.md", "metrics.json", "timing_hist.png", "interval_dwell_hist.png", "trajectories.png", "detector_roc.png",
            "feature_distributions.png"} <= files
    # the floor with its people and power beside the AUCs: 6 people are too few (needs 8)
    hf = m["detector_auc"]["human_floor"]
    assert hf["auc"] is None and hf["n_subjects"] == 6 and hf["has_power"] is False
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Human floor (real against real of other people): - on 6 people (**no power**: needs 8 people" in text
    # intervals at 1 ms: the sessions sample every 16 ms, the real's dominant tick
    th = m["timing_histograms"]["interval_ms"]
    assert th["ticks_ms"][0] == 16.0 and th["samples"]["real"]["on_ticks"] > 0.8
    assert th["samples"]["model"]["tv"] > 0.1  # the Bezier bot's intervals are not on the 16 ms clock
    assert "## Intervals at 1 ms and dwell times" in text and "| 16 ms |" in text
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["detector_auc"]["wind"]["auc"] == m["detector_auc"]["wind"]["auc"]
