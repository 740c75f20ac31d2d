"""`actiongen act` on random click targets: how many goals a model carries out, and how fast.

    python benchmarks/act_random_targets.py RUN_DIR/model.keras [--goals 200] [--context SESSION_DIR]
                                            [--screen 1280x720] [--seconds-per-goal 5] [--seed 0]

Draws ``--goals`` click targets (20 px) uniformly on the screen (40 px from its edges; NumPy seed
``--seed``), runs :func:`actiongen_keras.generation.act.act` once and prints the goals achieved,
the time taken and the median time per goal (the README's "Directed generation" figures).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actiongen_keras.generation.act import act  # noqa: E402
from actiongen_keras.recordings.session import read_session  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--goals", type=int, default=200)
    p.add_argument("--context", help="SESSION_DIR whose first 6 s are the history (default: a still cursor)")
    p.add_argument("--screen", default="1280x720")
    p.add_argument("--seconds-per-goal", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    w, h = (float(v) for v in a.screen.split("x"))
    xy = np.random.default_rng(a.seed).uniform([40, 40], [w - 40, h - 40], (a.goals, 2))
    plan = {"screen": {"width": w, "height": h}, "start": {"x": w / 2, "y": h / 2},
            "goals": [{"click": {"x": float(x), "y": float(y)}} for x, y in xy]}
    context = read_session(a.context, "repair")[0] if a.context else None
    t = time.perf_counter()
    _, result = act(a.model, plan, context=context, seed=a.seed, seconds_per_goal=a.seconds_per_goal)
    done = [g["done_ms"] for g in result["goals"] if g["done"]]
    per_goal = np.diff([0.0] + done)
    print(f"{result['achieved']} of {result['of']} goals in {result['seconds']:.1f} s of generated input; "
          f"per goal median {np.median(per_goal) if len(per_goal) else float('nan'):.0f} ms, "
          f"mean {np.mean(per_goal) if len(per_goal) else float('nan'):.0f} ms; {time.perf_counter() - t:.1f} s wall")


if __name__ == "__main__":
    main()
