"""Run a KerasTuner search over :class:`ActiongenHyperModel` and write its results.

``run_search(DATA_DIR, OUT)`` writes:

* ``OUT/kt/<tuner>/``: KerasTuner's project (``oracle.json``, ``trial_*/trial.json``,
  checkpoints). The search resumes from it (``overwrite=False``): finished trials are not
  run again; a search whose ``max_trials`` is reached runs no new trial.
* ``OUT/results.csv``: one row per trial (id, status, worker, every hyperparameter,
  ``val_skill``, its parts and ratios, best epoch, seconds, parameters).
* ``OUT/results.md``: the same, best first, with the per-part baseline references.
* ``OUT/best_config.json``: the best trial's full :class:`Config`
  (``actiongen train --config OUT/best_config.json``).
* ``OUT/reference.json`` (with ``reference=True``): the base config trained and scored
  with the same budget, for comparison.

Distributed (KerasTuner chief/worker): set ``KERASTUNER_TUNER_ID`` (``chief`` or
``tuner0``, ...), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` and run the same
command in every process; the chief serves the oracle and writes the results when the
workers are done (see :mod:`actiongen_keras.tuning.distributed`).
"""

from __future__ import annotations

import csv
import gc
import glob
import json
import math
import os
import time
from pathlib import Path

import keras
import keras_tuner
from keras_tuner.src.engine.trial import Trial

from actiongen_keras.config import Config
from actiongen_keras.errors import ConfigError
from actiongen_keras.models import build_model
from actiongen_keras.training.train import compile_model
from actiongen_keras.tuning.hypermodel import (
    HP_NAMES,
    ActiongenHyperModel,
    config_from_hparams,
    train_and_score,
)
from actiongen_keras.tuning.objective import OBJECTIVE, PARTS

TUNERS = ("random", "bayesian", "hyperband")
METRIC_COLUMNS = (
    OBJECTIVE,
    *(f"val_{p}" for p in PARTS),
    *(f"ratio_{p}" for p in PARTS),
    "best_epoch",
    "epochs_run",
    "trial_seconds",
    "parameters",
)
HYPERBAND_COLUMNS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")


def is_distributed():
    return "KERASTUNER_ORACLE_IP" in os.environ


def is_chief():
    return is_distributed() and "chief" in os.environ.get("KERASTUNER_TUNER_ID", "")


def is_worker():
    return is_distributed() and not is_chief()


class _TrialHygiene:
    """Mixin for the tuners: records which worker ran a trial; frees the model after each trial.

    KerasTuner itself calls ``keras.backend.clear_session()`` before building each model;
    clearing again when a trial ends releases the trained model and its graph before the
    oracle picks the next trial, so nothing of a finished trial is kept between trials.
    """

    def on_trial_end(self, trial):
        try:
            path = os.path.join(self.project_dir, f"trial_{trial.trial_id}", "worker.json")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).write_text(json.dumps({"tuner_id": self.tuner_id, "pid": os.getpid(), "status": trial.status}) + "\n")
        finally:
            super().on_trial_end(trial)
            keras.backend.clear_session()
            gc.collect()


class RandomSearch(_TrialHygiene, keras_tuner.RandomSearch):
    pass


class BayesianOptimization(_TrialHygiene, keras_tuner.BayesianOptimization):
    pass


class Hyperband(_TrialHygiene, keras_tuner.Hyperband):
    pass


def objective():
    return keras_tuner.Objective(OBJECTIVE, direction="max")


def make_tuner(kind, hypermodel, directory, max_trials=10, epochs=2, seed=None, overwrite=False, factor=3,
               hyperband_iterations=1, project_name=None, num_initial_points=None, max_consecutive_failed_trials=3):
    """A KerasTuner tuner of ``kind`` (``random``, ``bayesian``, ``hyperband``) for ``hypermodel``.

    ``epochs`` is Hyperband's ``max_epochs``; for ``hyperband`` ``max_trials`` caps the
    number of trials (brackets may then stay incomplete; ``None`` = no cap).
    """
    if kind not in TUNERS:
        raise ConfigError(f"unknown tuner '{kind}' (choose from {', '.join(TUNERS)})")
    common = {
        "hypermodel": hypermodel,
        "objective": objective(),
        "directory": str(directory),
        "project_name": project_name or kind,
        "overwrite": overwrite,
        "seed": seed,
        "max_consecutive_failed_trials": max_consecutive_failed_trials,
    }
    if kind == "random":
        return RandomSearch(max_trials=int(max_trials), **common)
    if kind == "bayesian":
        n0 = num_initial_points if num_initial_points is not None else max(2, min(int(max_trials) // 3, 10))
        return BayesianOptimization(max_trials=int(max_trials), num_initial_points=n0, **common)
    tuner = Hyperband(max_epochs=int(epochs), factor=int(factor), hyperband_iterations=hyperband_iterations, **common)
    if max_trials:
        tuner.oracle.max_trials = int(max_trials)
    return tuner


def load_trials(project_dir):
    """``[(trial, worker_id)]`` from a KerasTuner project folder, by trial id."""
    out = []
    for fname in sorted(glob.glob(os.path.join(str(project_dir), "trial_*", "trial.json"))):
        trial = Trial.load(fname)
        wfile = Path(fname).with_name("worker.json")
        worker = json.loads(wfile.read_text()).get("tuner_id", "") if wfile.exists() else ""
        out.append((trial, worker))
    return sorted(out, key=lambda tw: tw[0].trial_id)


def _metric(trial, name):
    if name == OBJECTIVE and trial.score is not None:
        return float(trial.score)
    if trial.metrics.exists(name):
        v = trial.metrics.get_last_value(name)
        return float(v) if v is not None else float("nan")
    return float("nan")


def trial_rows(project_dir):
    """One dict per trial: ``trial_id``, ``status``, ``worker``, hyperparameters, metrics."""
    rows = []
    for trial, worker in load_trials(project_dir):
        values = trial.hyperparameters.values
        row = {"trial_id": trial.trial_id, "status": trial.status, "worker": worker}
        for name in HP_NAMES:
            row[name] = values.get(name, "")
        for name in HYPERBAND_COLUMNS:
            if any(k.startswith("tuner/") for k in values):
                row[name] = values.get(name, "")
        for name in METRIC_COLUMNS:
            row[name] = _metric(trial, name) if trial.status == "COMPLETED" else float("nan")
        row["_hp"] = dict(values)
        rows.append(row)
    return rows


def _fmt(v):
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.4g}"
    return str(v)


def best_row(rows):
    done = [r for r in rows if r["status"] == "COMPLETED" and not math.isnan(r[OBJECTIVE])]
    return max(done, key=lambda r: r[OBJECTIVE]) if done else None


def write_results(out_dir, project_dir, base_config, reference=None, baseline_reference=None, title=None):
    """Write ``results.csv``, ``results.md`` and ``best_config.json``; returns the rows (best first)."""
    out_dir = Path(out_dir)
    rows = trial_rows(project_dir)
    columns = [c for c in rows[0] if c != "_hp"] if rows else ["trial_id", "status", "worker", *HP_NAMES, *METRIC_COLUMNS]
    with open(out_dir / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(r[k], float) and math.isnan(r[k]) else r[k]) for k in columns})

    best = best_row(rows)
    if best is not None:
        config = config_from_hparams(base_config, best["_hp"])
        config.to_json(out_dir / "best_config.json")
        (out_dir / "best_trial.json").write_text(
            json.dumps({k: v for k, v in best.items() if k != "_hp"}, indent=2, default=str) + "\n"
        )

    ranked = sorted(rows, key=lambda r: (-r[OBJECTIVE] if not math.isnan(r[OBJECTIVE]) else math.inf, r["trial_id"]))
    lines = [f"# {title or 'Architecture search'}", ""]
    lines.append(f"{len(rows)} trial(s); {sum(r['status'] == 'COMPLETED' for r in rows)} completed. "
                 f"Objective `{OBJECTIVE}` (maximise; 1 = on par with the best baseline of each part).")
    lines.append("")
    if best is not None:
        lines.append(f"Best: trial {best['trial_id']}, `{OBJECTIVE}` = {best[OBJECTIVE]:.4f} -> `best_config.json`.")
    if reference is not None:
        lines.append(f"Base config trained with the same budget: `{OBJECTIVE}` = {reference[OBJECTIVE]:.4f}.")
    lines.append("")
    shown = ["trial_id", "status", "worker", *[c for c in columns if c in HP_NAMES or c.startswith("tuner/")],
             OBJECTIVE, *(f"val_{p}" for p in PARTS), "trial_seconds"]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * len(shown))
    if reference is not None:
        ref = {"trial_id": "base config", "status": "", "worker": "", **reference}
        lines.append("| " + " | ".join(_fmt(ref.get(c, "")) for c in shown) + " |")
    for r in ranked:
        lines.append("| " + " | ".join(_fmt(r.get(c, "")) for c in shown) + " |")
    if baseline_reference:
        lines += ["", "Per-part references (best heuristic baseline on the validation split):", "",
                  "| part | best baseline | value |", "|---|---|---|"]
        for part, ref in baseline_reference.items():
            lines.append(f"| {part} | {ref['baseline']} | {_fmt(float(ref['value']))} |")
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    return ranked


def evaluate_config(data_dir, config, epochs, train_split="train", scorer=None, run_eagerly=False):
    """Train ``config`` as one trial would (same data, budget, objective) and score it."""
    hm = ActiongenHyperModel(data_dir, config, space={}, train_split=train_split, scorer=scorer)
    started = time.perf_counter()
    keras.backend.clear_session()
    cfg = hm.base_config
    keras.utils.set_random_seed(cfg.train.seed)
    model = compile_model(build_model(cfg, hm.meta), cfg, hm.meta)
    model.run_eagerly = bool(run_eagerly)
    result = train_and_score(model, cfg, hm.meta, hm.data_dir, hm.scorer, epochs, train_split=train_split, started=started)
    del model
    keras.backend.clear_session()
    gc.collect()
    return result


def run_search(data_dir, out_dir, tuner="random", max_trials=10, epochs=2, base_config=None, space=None,
               train_split="train", seed=None, factor=3, reference=False, overwrite=False, verbose=0, log=print,
               num_initial_points=None, run_eagerly=False):
    """Search, then (unless this process is a distributed worker) write the results.

    Returns ``{"rows", "best", "reference", "seconds", "trials"}`` (``None`` on a worker).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base_config = base_config or Config()
    hm = ActiongenHyperModel(data_dir, base_config, space=space, train_split=train_split, run_eagerly=run_eagerly)
    (out_dir / "search.json").write_text(json.dumps({
        "data": str(data_dir), "tuner": tuner, "max_trials": max_trials, "epochs": epochs, "factor": factor,
        "train_split": train_split, "seed": seed, "space": hm.space, "objective": OBJECTIVE, "run_eagerly": bool(run_eagerly),
    }, indent=2) + "\n")
    if not is_distributed() or is_chief():
        hm.base_config.to_json(out_dir / "base_config.json")

    ref = None
    ref_path = out_dir / "reference.json"
    if reference and not is_distributed():
        key = {"epochs": int(epochs), "train_split": train_split, "config": json.loads(hm.base_config.to_json())}
        if ref_path.exists() and json.loads(ref_path.read_text()).get("key") == key:
            ref = json.loads(ref_path.read_text())["result"]
            log(f"base config (cached): {OBJECTIVE} = {ref[OBJECTIVE]:.4f}")
        else:
            log(f"training the base config for {epochs} epoch(s) as the reference")
            ref = evaluate_config(data_dir, hm.base_config, epochs, train_split, scorer=hm.scorer, run_eagerly=run_eagerly)
            ref_path.write_text(json.dumps({"key": key, "result": ref}, indent=2) + "\n")
            log(f"base config: {OBJECTIVE} = {ref[OBJECTIVE]:.4f} ({ref['trial_seconds']:.0f} s)")
    elif ref_path.exists():
        ref = json.loads(ref_path.read_text())["result"]

    kt = make_tuner(tuner, hm, out_dir / "kt", max_trials=max_trials, epochs=epochs, seed=seed, overwrite=overwrite,
                    factor=factor, num_initial_points=num_initial_points)
    started = time.perf_counter()
    kt.search(epochs=int(epochs), verbose=verbose)
    seconds = time.perf_counter() - started
    if is_worker():
        return None
    rows = write_results(out_dir, kt.project_dir, hm.base_config, reference=ref,
                         baseline_reference=hm.scorer.reference_table(), title=f"{tuner} search on {data_dir}")
    best = best_row(rows)
    return {"rows": rows, "best": best, "reference": ref, "seconds": seconds, "trials": len(rows)}
