"""`actiongen act` on random click targets: how many goals a model carries out, and how fast.

    python benchmarks/act_random_targets.py RUN_DIR/model.keras [--goals 200] [--context SESSION_DIR]
                                            [--screen 1280x720] [--seconds-per-goal 5] [--seed 0] [--tempo 1[,2,...]] [--best-of 1] [--no-moves-on-change]

Draws ``--goals`` click targets (20 px) uniformly on the screen (40 px from its edges; NumPy seed
``--seed``), runs :func:`actiongen_keras.generation.act.act` once and prints the goals achieved,
the time taken, the median time per goal, and the presses and goals done per minute of
generated input (the README's "Directed generation" figures). ``--tempo`` takes a list: one
run per tempo on the same targets (the README's tempo table; needs a model trained with the
pace column). ``--best-of N``: each window drawn N times, the one nearest to the target kept
(``generation/best_of.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actiongen_keras.generation.act import act  # noqa: E402
from actiongen_keras.generation.rollout import Generator  # noqa: E402
from actiongen_keras.recordings.click_targets import session_pace  # noqa: E402
from actiongen_keras.recordings.session import read_session  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--goals", type=int, default=200)
    p.add_argument("--context", help="SESSION_DIR whose first 6 s are the history (default: a still cursor); several, comma-separated: "
                                      "one run each, and per tempo the mean over them")
    p.add_argument("--screen", default="1280x720")
    p.add_argument("--seconds-per-goal", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tempo", default="1", help="comma-separated tempos, one run each (act(tempo=...))")
    p.add_argument("--best-of", type=int, default=1, help="windows drawn per window, the nearest to the target kept (act(best_of=...))")
    p.add_argument("--no-moves-on-change", action="store_true",
                   help="keep generated moves that stand still (act(moves_on_change=False); generation/clock.py)")
    a = p.parse_args(argv)
    w, h = (float(v) for v in a.screen.split("x"))
    xy = np.random.default_rng(a.seed).uniform([40, 40], [w - 40, h - 40], (a.goals, 2))
    plan = {"screen": {"width": w, "height": h}, "start": {"x": w / 2, "y": h / 2},
            "goals": [{"click": {"x": float(x), "y": float(y)}} for x, y in xy]}
    contexts = [read_session(c, "repair")[0] for c in a.context.split(",")] if a.context else [None]
    gen = Generator(a.model)
    tempos = [float(v) for v in a.tempo.split(",")]
    rates = {tempo: [] for tempo in tempos}  # (presses, goals done) per minute, one per context
    for context in contexts:
        if context is not None:
            print(f"== {context.session_id}: the person presses {session_pace(context.events):.1f} times a minute", flush=True)
        for tempo in tempos:
            t = time.perf_counter()
            session, result = act(gen, plan, context=context, seed=a.seed, seconds_per_goal=a.seconds_per_goal, tempo=tempo,
                                  best_of=a.best_of, moves_on_change=not a.no_moves_on_change)
            done = [g["done_ms"] for g in result["goals"] if g["done"]]
            per_goal = np.diff([0.0] + done)
            ev = session.events
            presses = int(((ev.type == "press") & (ev.t_ms >= session.extra["generated_from_ms"])).sum())
            minutes = result["seconds"] / 60.0
            rates[tempo].append((presses / minutes, result["achieved"] / minutes, result["achieved"], result["of"]))
            print(f"tempo {tempo:g}: {result['achieved']} of {result['of']} goals in {result['seconds']:.1f} s of generated input "
                  f"({presses / minutes:.1f} presses, {result['achieved'] / minutes:.1f} goals done per minute); per goal median "
                  f"{np.median(per_goal) if len(per_goal) else float('nan'):.0f} ms, "
                  f"mean {np.mean(per_goal) if len(per_goal) else float('nan'):.0f} ms; {time.perf_counter() - t:.1f} s wall", flush=True)
    if len(contexts) > 1:
        print(f"== mean over the {len(contexts)} contexts")
        for tempo, r in rates.items():
            r = np.array(r)
            print(f"tempo {tempo:g}: {r[:, 0].mean():.1f} presses per minute ({', '.join(f'{v:.1f}' for v in r[:, 0])}), "
                  f"{r[:, 1].mean():.1f} goals done per minute, {int(r[:, 2].sum())} / {int(r[:, 3].sum())} goals done")


if __name__ == "__main__":
    main()
