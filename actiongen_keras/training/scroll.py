"""Fit the wheel model: intervals between the notches of a scroll, learned from Balabit (``actiongen scroll fit``).

The Balabit Mouse Dynamics Challenge data (``../shared/data/balabit``, 10 people) log every
wheel notch (the importer makes each a ``scroll`` event of one notch). A *burst* is a run of
notches in one direction with less than :data:`BURST_GAP_MS` between them; the model is, per
training person, the 21 quantiles (0, 5, ..., 100 %) of their within-burst inter-notch
intervals: a learned empirical model, not a parametric one. The same quantiles are kept per
position in a burst (:data:`POSITIONS`: the first interval, the middle ones, the last, the one
interval of a two-notch burst), where a person has :data:`MIN_POSITION_INTERVALS` of them:
people slow down over a burst (Balabit: the last interval a median 16 ms longer than the
first), and intervals drawn alike at every position were the detector's first cue. Generation
(``generation/scrolling.py``) draws one person per scroll goal and that person's intervals by
inverse-CDF sampling. Person-disjoint: the people are sorted by name and every
:data:`HOLDOUT_EVERY`-th (starting with the second) is held out, never fitted.

Caveats, said where the model is written: Balabit was captured from remote-desktop traffic on
a ~15.6 ms clock, so intervals come in ticks and notches coalesced into one packet have a
0 ms interval; one person (user20) has a free-spinning or smooth wheel (median 15 ms).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actiongen_keras.errors import ActiongenError
from actiongen_keras.recordings.importers.balabit import read_balabit

FORMAT = "actiongen-scroll-model/1"
BURST_GAP_MS = 1000.0
HOLDOUT_EVERY = 3
#: A training person with fewer within-burst intervals is left out of the model.
MIN_INTERVALS = 50
#: Positions of an interval in its burst (:func:`interval_position`).
POSITIONS = ("first", "middle", "last", "only")
#: A position with fewer of a person's intervals is drawn from all of them.
MIN_POSITION_INTERVALS = 20
NOTICE = ("Fitted on the Balabit Mouse Dynamics Challenge data set (Fulop, Kovacs, Kurics, Windhager-Pokol, 2016): research "
          "use, with attribution; do not ship anything derived from it in a product.")


def scroll_people(data_dir):
    """``{person: [session files]}`` of ``data_dir/training_files``, sorted by person."""
    root = Path(data_dir) / "training_files"
    if not root.is_dir():
        raise ActiongenError(f"{data_dir}: no training_files/ folder (expected the Balabit layout)")
    return {p.name: sorted(f for f in p.iterdir() if f.is_file()) for p in sorted(root.iterdir()) if p.is_dir()}


def split_people(people):
    """(train, held out) lists of person names (module doc)."""
    names = sorted(people)
    held = [n for i, n in enumerate(names) if i % HOLDOUT_EVERY == 1]
    return [n for n in names if n not in held], held


def notch_bursts(t_ms, scroll_dy, gap_ms=BURST_GAP_MS):
    """The bursts of a session's wheel notches (in time order): a list of notch-time arrays, cut
    where two notches are ``gap_ms`` or more apart or change direction (single notches included)."""
    t, d = np.asarray(t_ms, dtype=np.float64), np.asarray(scroll_dy, dtype=np.float64)
    if len(t) == 0:
        return []
    cut = np.flatnonzero((np.diff(t) >= gap_ms) | (np.sign(d[1:]) != np.sign(d[:-1]))) + 1
    return np.split(t, cut)


def session_bursts(files, repairs=None):
    """``[(file, notch times)]`` of the bursts of the session files (:func:`notch_bursts`); the
    files are read in repair mode and every change is appended to ``repairs`` (lines) when given."""
    out = []
    for f in files:
        session, report, _ = read_balabit(f, repair=True)
        if repairs is not None:
            repairs.extend(report.lines())
        ev = session.events
        m = ev.type == "scroll"
        out += [(f, b) for b in notch_bursts(ev.t_ms[m], ev.scroll_dy[m])]
    return out


def burst_intervals(bursts):
    """Within-burst inter-notch intervals (ms) of ``bursts`` (notch-time arrays, :func:`session_bursts`)."""
    gaps = [np.diff(b) for b in bursts]
    return np.concatenate(gaps) if gaps else np.zeros(0)


def interval_position(i, n):
    """The :data:`POSITIONS` name of interval ``i`` of a burst of ``n`` intervals."""
    return "only" if n == 1 else "first" if i == 0 else "last" if i == n - 1 else "middle"


def position_quantiles(bursts, min_intervals=MIN_POSITION_INTERVALS):
    """``{position: 21 quantiles or None}`` of the within-burst intervals of one person's
    ``bursts`` (notch-time arrays), by their position in the burst (:data:`POSITIONS`); None
    where the person has fewer than ``min_intervals`` (generation then draws from all)."""
    by = {p: [] for p in POSITIONS}
    for b in bursts:
        iv = np.diff(np.asarray(b, dtype=np.float64))
        for i, v in enumerate(iv):
            by[interval_position(i, len(iv))].append(v)
    return {p: interval_quantiles(v) if len(v) >= min_intervals else None for p, v in by.items()}


def interval_quantiles(intervals):
    """The model of one person: the 21 quantiles (0, 5, ..., 100 %) of their within-burst intervals."""
    return np.percentile(np.asarray(intervals, dtype=np.float64), np.linspace(0, 100, 21)).round(3).tolist()


def fit_scroll_model(data_dir, out_dir, min_intervals=MIN_INTERVALS, max_sessions=None):
    """Fit on the training people of ``data_dir`` (their first ``max_sessions`` session files) and write
    ``out_dir/scroll.json`` and ``NOTICE``."""
    people = scroll_people(data_dir)
    train, held = split_people(people)
    quantiles, positions, repairs = {}, {}, []
    for name in train:
        bursts = [b for _, b in session_bursts(people[name][:max_sessions], repairs)]
        g = burst_intervals(bursts)
        if len(g) >= min_intervals:
            quantiles[name] = interval_quantiles(g)
            positions[name] = position_quantiles(bursts)
    if not quantiles:
        raise ActiongenError(f"{data_dir}: no training person has {min_intervals} within-burst wheel intervals")
    meta = {"format": FORMAT, "data": "balabit", "license": NOTICE, "burst_gap_ms": BURST_GAP_MS, "people": sorted(quantiles),
            "held_out_people": held, "interval_quantiles_ms": quantiles, "position_quantiles_ms": positions, "repairs": repairs}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scroll.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    (out / "NOTICE").write_text(NOTICE + "\n", encoding="utf-8")
    return meta


__all__ = ["BURST_GAP_MS", "FORMAT", "MIN_INTERVALS", "MIN_POSITION_INTERVALS", "NOTICE", "POSITIONS", "burst_intervals", "fit_scroll_model",
           "interval_position", "interval_quantiles", "position_quantiles",
           "notch_bursts", "scroll_people", "session_bursts", "split_people"]
