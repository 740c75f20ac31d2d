"""KerasTuner chief/worker mode: a chief and two workers on 127.0.0.1 share one search."""

import json

import pytest

from actiongen_keras.config import Config
from actiongen_keras.testing.runs import tiny_config
from actiongen_keras.tuning.distributed import free_port, run_distributed

TINY_SPACE = {"d_model": [16], "num_heads": [1, 2], "num_layers": [1], "batch_size": [32, 64], "efficient_attention": [False, True]}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_chief_and_two_workers_share_the_trials(tmp_path, dummy_data_dir):
    (tmp_path / "space.json").write_text(json.dumps({"space": TINY_SPACE}))
    base = tiny_config()
    base.to_json(tmp_path / "base.json")
    args = ["--data", dummy_data_dir, "--tuner", "random", "--max-trials", "4", "--epochs", "1", "--seed", "3",
            "--search", tmp_path / "space.json", "--config", tmp_path / "base.json", "--run-eagerly"]
    out = tmp_path / "out"
    res = run_distributed(args, out, workers=2, timeout=240, port=free_port(), threads=1, log=lambda *_: None)
    logs = {p.name: p.read_text()[-2000:] for p in (out / "logs").glob("*.log")}
    assert not res["timed_out"], logs
    assert res["returncodes"] == {"chief": 0, "tuner0": 0, "tuner1": 0}, logs
    assert not res["partial"]  # the chief wrote the results itself
    rows = res["results"]
    assert len(rows) == 4
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert {r["trial_id"] for r in rows} == {"0", "1", "2", "3"}
    # Both workers trained trials (the chief only serves the oracle).
    assert {r["worker"] for r in rows} == {"tuner0", "tuner1"}
    assert Config.from_json(out / "best_config.json").model.d_model == 16
    for tid in ("chief", "tuner0", "tuner1"):
        assert (out / "logs" / f"{tid}.log").exists()
