"""The wheel model against held-out people: inter-notch intervals within bursts.

    python benchmarks/scroll_benchmark.py [--data ../shared/data/balabit] [--max-sessions N] [--seed 0]

Fits the wheel model (``training/scroll.py``) on the training people, then, for every burst of
2+ notches of the held-out people (never fitted), generates a burst of the same number of
notches (one training person drawn per burst, as ``act()`` does per scroll goal) and prints
the within-burst intervals of both: quantiles, the share of 0 ms intervals (coalesced
remote-desktop packets) and the two-sample Kolmogorov-Smirnov distance of the pooled intervals
and of the per-burst median intervals.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actiongen_keras.generation.scrolling import Scroller  # noqa: E402
from actiongen_keras.recordings.importers.balabit import read_balabit  # noqa: E402
from actiongen_keras.training.scroll import BURST_GAP_MS, fit_scroll_model, scroll_people  # noqa: E402


def bursts(files):
    out = []
    for f in files:
        ev = read_balabit(f, repair=True)[0].events
        m = ev.type == "scroll"
        t, d = ev.t_ms[m], ev.scroll_dy[m]
        cut = np.flatnonzero((np.diff(t) >= BURST_GAP_MS) | (np.sign(d[1:]) != np.sign(d[:-1]))) + 1
        out += [np.diff(b) for b in np.split(t, cut) if len(b) >= 2]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "balabit"))
    ap.add_argument("--max-sessions", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="scroll_model_")
    meta = fit_scroll_model(args.data, folder, max_sessions=args.max_sessions)
    scroller = Scroller(folder)
    people = scroll_people(args.data)
    rng = np.random.default_rng(args.seed)
    real = [b for p in meta["held_out_people"] for b in bursts(people[p][: args.max_sessions])]
    gen = [scroller.intervals(len(b), rng) for b in real]
    print(f"fitted on {len(meta['people'])} people ({', '.join(meta['people'])}); held out {', '.join(meta['held_out_people'])}: "
          f"{len(real)} bursts of 2+ notches, {sum(map(len, real))} intervals")
    for name, bs in (("held-out people", real), ("wheel model", gen)):
        iv = np.concatenate(bs)
        q = np.percentile(iv, [10, 25, 50, 75, 90])
        print(f"{name:16s} intervals ms q10-q90 {' '.join(f'{v:6.0f}' for v in q)}  0 ms: {np.mean(iv == 0):.2f}")
    ks_iv = ks_2samp(np.concatenate(real), np.concatenate(gen)).statistic
    ks_med = ks_2samp([np.median(b) for b in real], [np.median(b) for b in gen]).statistic
    print(f"KS distance: pooled intervals {ks_iv:.3f}, per-burst median {ks_med:.3f}")


if __name__ == "__main__":
    main()
