"""A real (tiny) KerasTuner search: result files, best config, resuming without redoing trials."""

import csv
import json

import pytest

from actiongen_keras.config import Config
from actiongen_keras.testing.runs import tiny_config
from actiongen_keras.tuning import search as search_module
from actiongen_keras.tuning.cli import main as tune_main
from actiongen_keras.tuning.hypermodel import HP_NAMES, ActiongenHyperModel
from actiongen_keras.tuning.objective import OBJECTIVE, PARTS

TINY_SPACE = {"d_model": [16], "num_heads": [1, 2], "num_layers": [1], "batch_size": [32, 64]}


@pytest.fixture(scope="module")
def data_dir(dummy_data_dir):
    return dummy_data_dir


def tiny_base():
    return tiny_config()  # its window sizes give way to the dataset's (the hypermodel takes them)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(data_dir, out, max_trials):
    return search_module.run_search(data_dir, out, tuner="random", max_trials=max_trials, epochs=1, base_config=tiny_base(),
                                    space=TINY_SPACE, seed=1, run_eagerly=True, log=lambda *_: None)


@pytest.mark.slow
def test_random_search_writes_results_and_resumes(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "search"
    fits = []
    real_fit = ActiongenHyperModel.fit

    def counting_fit(self, hp, model, *args, **kwargs):
        fits.append(dict(hp.values))
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(ActiongenHyperModel, "fit", counting_fit)

    # A search stopped after one trial ...
    first = run(data_dir, out, max_trials=1)
    assert first["trials"] == 1 and len(fits) == 1
    trial0 = (out / "kt" / "random" / "trial_0" / "trial.json").read_bytes()

    # ... resumed with a budget of two runs exactly one more trial; trial 0 is untouched.
    second = run(data_dir, out, max_trials=2)
    assert second["trials"] == 2 and len(fits) == 2
    assert (out / "kt" / "random" / "trial_0" / "trial.json").read_bytes() == trial0

    rows = read_rows(out / "results.csv")
    assert len(rows) == 2
    assert [r["trial_id"] for r in rows] == ["0", "1"]
    for r in rows:
        assert r["status"] == "COMPLETED"
        assert set(HP_NAMES) <= set(r)
        assert float(r[OBJECTIVE]) >= 0.0
        for p in PARTS:
            assert r[f"val_{p}"] != ""
        assert float(r["trial_seconds"]) > 0 and float(r["epochs_run"]) == 1
        assert r["d_model"] == "16" and r["num_heads"] in ("1", "2") and r["batch_size"] in ("32", "64")

    # best_config.json is a full config that `actiongen train --config` accepts, from the best trial.
    best = Config.from_json(out / "best_config.json")
    top = max(rows, key=lambda r: float(r[OBJECTIVE]))
    assert best.model.d_model == 16 and best.model.num_heads == int(top["num_heads"])
    assert best.train.batch_size == int(top["batch_size"])
    assert best.train.learning_rate == pytest.approx(float(top["learning_rate"]))
    assert json.loads((out / "best_trial.json").read_text())["trial_id"] == top["trial_id"]
    md = (out / "results.md").read_text()
    assert OBJECTIVE in md and "Per-part references" in md

    # max_trials already reached: resuming trains nothing and adds no trial.
    third = run(data_dir, out, max_trials=2)
    assert third["trials"] == 2 and len(fits) == 2
    assert len(read_rows(out / "results.csv")) == 2

    # The CLI resumes the same search too (and prints the best trial).
    monkeypatch.setattr(ActiongenHyperModel, "fit", real_fit)
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"tuner": "random", "max_trials": 2, "epochs": 1, "seed": 1, "space": TINY_SPACE}))
    tiny_base().to_json(tmp_path / "base.json")
    rc = tune_main(["-q", "--data", str(data_dir), "--out", str(out), "--search", str(space), "--config", str(tmp_path / "base.json"),
                    "--run-eagerly"])
    assert rc == 0 and len(fits) == 2


def test_cli_rejects_bad_settings(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tuner": "random", "max_trails": 3}))
    assert tune_main(["--data", str(tmp_path), "--out", str(tmp_path / "o"), "--search", str(bad)]) == 2
    assert "max_trails" in capsys.readouterr().err
    assert tune_main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2


def test_scorer_pads_the_last_batch_without_changing_the_metrics(data_dir):
    from actiongen_keras.models import build_model
    from actiongen_keras.tuning.objective import ValidationScorer

    hm = ActiongenHyperModel(data_dir, tiny_base(), space={})
    model = build_model(hm.base_config, hm.meta)
    model.run_eagerly = True
    whole = ValidationScorer(data_dir, batch_size=256)
    split = ValidationScorer(data_dir, batch_size=4)  # 6 windows: batches of 4 and 2 (padded to 4)
    a = whole.score(model, hm.base_config, hm.meta)
    b = split.score(model, hm.base_config, hm.meta)
    assert split._sizes == [4, 2] and len(next(iter(split._batches[-1].values()))) == 4
    assert a == pytest.approx(b, nan_ok=True)
    assert whole.model_metrics(model, hm.base_config, hm.meta)["windows"] == 6
