"""Import speed per source: prints events/s for each real data set found.

    python benchmarks/bench_import.py [--data ../shared/data] [--only osu sapimouse ...]

Each source is imported into a temporary folder (strict where the data card says the
data are clean, repair where it says they are dirty), timed end to end: reading the
raw files, converting, validating and writing the sessions.
"""

import argparse
import importlib
import tempfile
import time
from pathlib import Path

from actiongen_keras.cli import IMPORTERS

# (source, folder under the data root, repair?)
SOURCES = [
    ("osu", "osu", True),  # one replay has off-screen frames (window unfocused)
    ("osu", "osu_replays", True),
    ("sapimouse", "sapimouse", False),
    ("balabit", "balabit", True),
    ("osrs", "osrs_sample", False),
    ("aalto", "keystrokes_aalto", True),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    p.add_argument("--only", nargs="*")
    args = p.parse_args()
    print(f"{'source':<10} {'folder':<18} {'mode':<7} {'sessions':>8} {'events':>11} {'seconds':>8} {'events/s':>11} failed skipped")
    for source, folder, repair in SOURCES:
        if args.only and source not in args.only and folder not in args.only:
            continue
        in_dir = Path(args.data) / folder
        if not in_dir.exists():
            print(f"{source:<10} {folder:<18} (not found: {in_dir})")
            continue
        module = importlib.import_module(IMPORTERS[source])
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            summary = module.import_folder(in_dir, out, repair=repair, progress=False)
            seconds = time.perf_counter() - start
        print(
            f"{source:<10} {folder:<18} {'repair' if repair else 'strict':<7} {len(summary.written):>8} {summary.events:>11,} "
            f"{seconds:>8.1f} {summary.events / seconds:>11,.0f} {len(summary.failed):>6} {len(summary.skipped):>7}"
        )


if __name__ == "__main__":
    main()
