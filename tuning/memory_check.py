#!/usr/bin/env python
"""Resident memory over N tiny trials of one search: it should stay flat.

    python tuning/memory_check.py                 # 10 trials on a tiny synthetic dataset
    python tuning/memory_check.py --data DATA_DIR --trials 10 [--run-eagerly]

Prints the process's RSS after each trial (after the tuner's clear_session) and the
growth. RSS from psutil when installed, else /proc/self/status (VmRSS).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def rss_mib():
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="DATA_DIR (default: build a tiny synthetic one)")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--run-eagerly", action="store_true")
    p.add_argument("--vary", action="store_true", help="vary heads/layers/batch size too (noisier RSS: sizes differ)")
    args = p.parse_args(argv)

    from actiongen_keras.config import Config
    from actiongen_keras.tuning.hypermodel import ActiongenHyperModel
    from actiongen_keras.tuning.search import RandomSearch, objective

    tmp = Path(tempfile.mkdtemp(prefix="actiongen_memcheck_"))
    data = args.data
    if data is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from actiongen_keras.data.build import build_dataset
        from actiongen_keras.testing.sessions import write_dummy_data

        write_dummy_data(tmp / "sessions")
        build_dataset(tmp / "sessions", tmp / "data", progress=False)
        data = tmp / "data"

    samples = []

    class Measured(RandomSearch):
        def on_trial_end(self, trial):
            super().on_trial_end(trial)  # records the trial, clear_session(), gc
            samples.append((trial.trial_id, rss_mib(), time.perf_counter()))
            print(f"trial {trial.trial_id}: RSS {samples[-1][1]:.1f} MiB", flush=True)

    base = Config()
    base.model.d_model, base.model.num_heads, base.model.ff_dim = 16, 2, 32
    # One architecture (only continuous/cheap hps vary) so RSS differences are leaks, not sizes.
    space = {"d_model": [16], "num_heads": [2], "num_layers": [1], "batch_size": [32], "efficient_attention": [False],
             "timing_boundaries": ["config"]}
    if args.vary:
        space.update(num_heads=[1, 2], num_layers=[1, 2], batch_size=[32, 64], efficient_attention=[False, True])
    hm = ActiongenHyperModel(data, base, space=space, run_eagerly=args.run_eagerly)
    tuner = Measured(hypermodel=hm, objective=objective(), max_trials=args.trials, directory=str(tmp / "kt"),
                     project_name="memcheck", overwrite=True, seed=0)
    print(f"before the search: RSS {rss_mib():.1f} MiB ({'eager' if args.run_eagerly else 'graph'} mode)", flush=True)
    tuner.search(epochs=1, verbose=0)
    rss = [s[1] for s in samples]
    if len(rss) >= 3:
        import numpy as np

        slope = np.polyfit(np.arange(len(rss)), rss, 1)[0]
        print(f"least-squares slope over the trials: {slope:+.1f} MiB per trial")
        print(f"growth trial 1 -> {len(rss)}: {rss[-1] - rss[0]:+.1f} MiB; "
              f"trial 2 -> {len(rss)}: {rss[-1] - rss[1]:+.1f} MiB "
              f"({(rss[-1] - rss[1]) / (len(rss) - 2):+.1f} MiB per trial after the first two); "
              f"max {max(rss):.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
