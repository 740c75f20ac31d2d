"""Closed-loop figures over training runs: does a change beat the spread of retraining?

    python benchmarks/training_seeds.py NAME=REPORT_DIR,REPORT_DIR,... [NAME=...]

Each ``REPORT_DIR`` is an ``actiongen evaluate`` folder of one trained model (``--seeds``
sampling seeds inside it); each ``NAME`` groups the models trained by one recipe with
different ``train.seed``. Per recipe and figure it prints the mean over the runs, their
range and every run's mean over its sampling seeds, then, for each recipe after the first,
whether its runs' range clears the first recipe's (every run beyond every run of the first)
or overlaps it (no finding at this number of runs).

Why: the sampling seeds of ``evaluate`` measure how one trained model varies; retraining
the same recipe moves SapiMouse's click pace over 5.7-15.6 targets a minute in four runs,
and osu!'s three-epoch hit rate over 0.354-0.471 in two (README, "Click targets on
SapiMouse", "On maps never trained on"), far more than any sampling seed does. A closed-loop comparison of two recipes needs several training runs
of each.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIGURES = (
    ("detector_auc.model", "detector AUC", "{:.3f}"),
    ("osu_hit_rate.model", "osu! hit rate", "{:.3f}"),
    ("target_clicked_per_minute.model", "targets clicked a minute", "{:.1f}"),
    ("target_stray_presses.model", "stray presses", "{:.3f}"),
    ("target_steering_pull.model", "steering pull", "{:.3f}"),
    ("edge_share.model", "at an edge", "{:.3f}"),
    ("silent_share.model", "silent 3 s slices", "{:.3f}"),
)


def run_means(report_dir):
    """``{summary key: mean over the sampling seeds}`` of one evaluate folder."""
    path = Path(report_dir) / "metrics.json"
    try:
        summary = json.loads(path.read_text())["summary"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"{path}: not an actiongen evaluate report ({e})") from None
    return {k: v["mean"] for k, v in summary.items() if isinstance(v, dict) and v.get("mean") is not None}


def parse_groups(argv):
    groups = {}
    for arg in argv:
        name, sep, dirs = arg.partition("=")
        if not sep or not dirs:
            raise SystemExit(f"{arg!r}: expected NAME=REPORT_DIR[,REPORT_DIR...]")
        groups[name] = [run_means(d) for d in dirs.split(",")]
    if not groups:
        raise SystemExit(__doc__.splitlines()[2].strip())
    return groups


def verdict(base, other):
    """Where the runs of ``other`` lie against those of ``base``: beyond every one of them
    (above or below), or overlapping; with one run on either side there is no spread to
    clear, and the verdict says so."""
    if min(other) > max(base):
        text = "above every run of the first"
    elif max(other) < min(base):
        text = "below every run of the first"
    else:
        return "overlaps the first (no finding)"
    return text + (" (but one run on a side: no spread measured, no power)" if min(len(base), len(other)) < 2 else "")


def main(argv=None):
    groups = parse_groups(sys.argv[1:] if argv is None else argv)
    names = list(groups)
    for key, label, fmt in FIGURES:
        if not any(key in run for runs in groups.values() for run in runs):
            continue
        print(f"{label}:")
        values = {n: [run[key] for run in groups[n] if key in run] for n in names}
        for n in names:
            v = values[n]
            if not v:
                continue
            line = f"  {n}: {fmt.format(sum(v) / len(v))} ({fmt.format(min(v))}-{fmt.format(max(v))}; runs " + ", ".join(fmt.format(x) for x in v) + ")"
            if n != names[0] and values[names[0]]:
                line += f"; {verdict(values[names[0]], v)}"
            print(line)


if __name__ == "__main__":
    main()
