"""How often each recorder writes a move at the position of the event before it.

    python benchmarks/still_moves.py SESSIONS_DIR [SESSIONS_DIR ...]

For each folder of imported sessions (``actiongen import``), the share of each session's moves
that stand still (:func:`actiongen_keras.evaluation.kinematics.still_share`, the one definition
:func:`~actiongen_keras.generation.clock.moves_on_change` reads a recorder by): median, 90th
percentile and maximum over the sessions, and how many sessions a recorder whose share reaches
``clock.STILL_MAX`` would be taken for a poller (their generated still moves kept). The figures
behind ``moves_on_change``'s docstring and the README's "Moves on change".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actiongen_keras.evaluation.kinematics import still_share  # noqa: E402
from actiongen_keras.generation.clock import STILL_MAX  # noqa: E402
from actiongen_keras.recordings.session import iter_sessions  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", metavar="SESSIONS_DIR")
    a = p.parse_args(argv)
    for folder in a.folders:
        shares = [v for s, _ in iter_sessions(folder, mode="repair") if (v := still_share([s])) is not None]
        if not shares:
            print(f"{folder}: no session with moves")
            continue
        v = np.asarray(shares)
        print(f"{folder}: {len(v)} sessions; moves standing still: median {np.median(v):.4f}, 90th percentile "
              f"{np.quantile(v, 0.9):.4f}, max {v.max():.4f}; sessions at or above STILL_MAX {STILL_MAX:g}: {int((v >= STILL_MAX).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
