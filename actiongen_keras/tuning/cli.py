"""``actiongen tune``: architecture search with KerasTuner.

Hooked into the ``actiongen`` command by ``add_tune_parser(sub)``; also runnable on its
own: ``python -m actiongen_keras.tuning.cli --data DATA_DIR --out DIR ...`` (the
distributed launcher starts its processes that way).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import keras
import tensorflow as tf

from actiongen_keras.config import Config
from actiongen_keras.errors import ActiongenError, ConfigError
from actiongen_keras.tuning.objective import OBJECTIVE
from actiongen_keras.tuning.search import is_worker, run_search

SEARCH_KEYS = {"tuner", "max_trials", "epochs", "factor", "train_split", "seed", "space", "num_initial_points"}
DEFAULTS = {"tuner": "random", "max_trials": None, "epochs": 2, "factor": 3, "train_split": "train", "seed": None,
            "space": None, "num_initial_points": None}


def load_search_file(path):
    """A search settings JSON (``tuning/hyperband.json``): keys of :data:`SEARCH_KEYS`."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{path}: no such search file")
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    d = {k: v for k, v in d.items() if not k.startswith("_")}  # "_comment" keys
    unknown = sorted(set(d) - SEARCH_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} (known: {sorted(SEARCH_KEYS)})")
    return d


def add_tune_arguments(s):
    s.add_argument("--data", required=True, help="DATA_DIR from 'actiongen dataset build'")
    s.add_argument("--out", required=True, help="DIR: results.csv, results.md, best_config.json, kt/ (resumable)")
    s.add_argument("--tuner", choices=("hyperband", "bayesian", "random"), help="default random (or the search file's)")
    s.add_argument("--max-trials", type=int, help="trials in all (default 10; for hyperband an optional cap)")
    s.add_argument("--epochs", type=int, help="epochs per trial (hyperband: max_epochs); default 2")
    s.add_argument("--config", help="base config JSON the hyperparameters are applied to")
    s.add_argument("--search", help="search settings JSON (tuner, max_trials, epochs, factor, train_split, seed, space), "
                                    "e.g. tuning/bayesian.json; command-line options win")
    s.add_argument("--train-split", help="TFDS split to train trials on, e.g. 'train[:50%%]' (default train)")
    s.add_argument("--factor", type=int, help="hyperband reduction factor (default 3)")
    s.add_argument("--seed", type=int, help="oracle seed")
    s.add_argument("--reference", action="store_true", help="also train the base config with the same budget and report it")
    s.add_argument("--overwrite", action="store_true", help="start the search afresh instead of resuming")
    s.add_argument("--run-eagerly", action="store_true", help="no graph tracing (faster only on tiny datasets, e.g. tests)")
    s.add_argument("--threads", type=int, help="TensorFlow intra/inter-op threads (for several processes on one machine)")
    s.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="model.fit verbosity")


def add_tune_parser(subparsers):
    """Add the ``tune`` subcommand to an ``argparse`` subparsers object."""
    s = subparsers.add_parser("tune", help="architecture search with KerasTuner (hyperband, bayesian, random)")
    add_tune_arguments(s)
    s.set_defaults(func=cmd_tune)
    return s


def _settings(args):
    d = dict(DEFAULTS)
    if args.search:
        d.update(load_search_file(args.search))
    for key in ("tuner", "max_trials", "epochs", "factor", "train_split", "seed"):
        v = getattr(args, key)
        if v is not None:
            d[key] = v
    if d["max_trials"] is None and d["tuner"] != "hyperband":
        d["max_trials"] = 10  # hyperband: no cap unless asked (its budget is max_epochs x factor)
    if d["epochs"] is None or int(d["epochs"]) < 1:
        raise ConfigError(f"epochs must be >= 1, got {d['epochs']}")
    if d["max_trials"] is not None and int(d["max_trials"]) < 1:
        raise ConfigError(f"max-trials must be >= 1, got {d['max_trials']}")
    return d


def _set_threads(n):
    if n and keras.backend.backend() == "tensorflow":
        tf.config.threading.set_intra_op_parallelism_threads(int(n))
        tf.config.threading.set_inter_op_parallelism_threads(int(n))


def cmd_tune(args):
    if not Path(args.data).is_dir():
        raise ActiongenError(f"{args.data}: no such folder")
    s = _settings(args)
    _set_threads(args.threads)
    config = Config.from_json(args.config) if args.config else Config()
    quiet = getattr(args, "quiet", False)
    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    result = run_search(
        args.data, args.out, tuner=s["tuner"], max_trials=s["max_trials"], epochs=s["epochs"], base_config=config,
        space=s["space"], train_split=s["train_split"], seed=s["seed"], factor=s["factor"], reference=args.reference,
        overwrite=args.overwrite, verbose=args.verbose, log=log, num_initial_points=s["num_initial_points"],
        run_eagerly=args.run_eagerly,
    )
    if result is None:
        if is_worker():
            print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: done", file=sys.stderr)
        return 0
    best = result["best"]
    print(f"{result['trials']} trial(s) in {args.out} ({result['seconds']:.0f} s this run)")
    if best is None:
        print("no completed trial", file=sys.stderr)
        return 1
    print(f"best: trial {best['trial_id']}, {OBJECTIVE} = {best[OBJECTIVE]:.4f}")
    if result["reference"] is not None:
        print(f"base config: {OBJECTIVE} = {result['reference'][OBJECTIVE]:.4f}")
    print(f"wrote {args.out}/results.csv, results.md, best_config.json")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="actiongen-tune", description="Architecture search with KerasTuner (actiongen tune).")
    p.add_argument("-q", "--quiet", action="store_true")
    add_tune_arguments(p)
    args = p.parse_args(argv)
    try:
        return cmd_tune(args)
    except ActiongenError as e:
        print(f"actiongen tune: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
