"""What ``best_of`` costs a rollout: seconds for a batch of contexts, with their anchors and without.

    python benchmarks/bench_best_of.py RUN_DIR/model.keras SESSIONS_DIR [--contexts 16] [--seconds 10]
                                       [--best-of 1,4] [--repeats 2]

Rolls out the first ``--contexts`` sessions of ``SESSIONS_DIR`` (click-target or osu! sessions:
sessions with anchors) for ``--seconds`` each, in one batch, once per ``--best-of`` value and
``--repeats`` times (the first call of a batch size compiles the sampling loop and is reported
apart), then the same sessions with their state taken away (no anchors: every window is drawn
once whatever ``best_of`` says, ``generation/best_of.py``). Prints seconds per rollout call.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actiongen_keras.generation.rollout import Generator, rollout  # noqa: E402
from actiongen_keras.recordings.session import find_sessions, read_session  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("sessions")
    p.add_argument("--contexts", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--best-of", default="1,4", help="comma-separated values")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args(argv)
    folders = find_sessions(a.sessions)[: a.contexts] if Path(a.sessions).is_dir() else []
    if not folders:
        p.error(f"{a.sessions}: no session folder (with session.json) here")
    gen = Generator(a.model)
    real = [read_session(f, "repair")[0] for f in folders]
    bare = [dataclasses.replace(s, state=None, state_columns=None, extra={k: v for k, v in s.extra.items() if k != "state_source"})
            for s in real]
    print(f"{len(real)} contexts, {a.seconds:g} s each, one batch")
    print("| sessions | best_of | first call s (compiles) | then s (each repeat) |")
    print("|---|---:|---:|---|")
    for name, sessions in (("with anchors", real), ("state removed", bare)):
        for n in (int(v) for v in a.best_of.split(",")):
            times = []
            for _ in range(a.repeats + 1):
                t = time.perf_counter()
                rollout(gen, sessions, seconds=a.seconds, seed=0, best_of=n, batch_size=len(sessions))
                times.append(time.perf_counter() - t)
            print(f"| {name} | {n} | {times[0]:.1f} | {', '.join(f'{v:.1f}' for v in times[1:])} |", flush=True)


if __name__ == "__main__":
    main()
