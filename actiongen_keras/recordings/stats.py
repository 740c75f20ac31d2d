"""Tables and plots describing a folder of sessions (``actiongen stats DIR``).

Per source and per event type: event counts, hours, inter-event interval
p10/p50/p90 (ms, between consecutive events of any type within a session, attributed
to the later event's type), screen sizes and the notes of valid but unusual values
(positions outside the screen, fractional and zero-notch scrolls); plus histograms of inter-event intervals
and cursor speed per source, written as PNGs next to the text table.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from actiongen_keras.errors import ActiongenError
from actiongen_keras.recordings.session import (
    EVENT_TYPES,
    event_notes,
    find_sessions,
    notes_text,
    read_session,
)

# Gaps longer than this are pauses (away from the keyboard), not part of the rhythm.
MAX_INTERVAL_MS = 10_000.0


@dataclasses.dataclass
class SourceStats:
    sessions: int = 0
    subjects: set = dataclasses.field(default_factory=set)
    hours: float = 0.0
    counts: Counter = dataclasses.field(default_factory=Counter)
    intervals: dict = dataclasses.field(default_factory=lambda: defaultdict(list))  # type -> arrays
    speeds: list = dataclasses.field(default_factory=list)  # px/ms arrays (moves only)
    screens: Counter = dataclasses.field(default_factory=Counter)
    notes: Counter = dataclasses.field(default_factory=Counter)  # event_notes, summed


def _session_arrays(session, st):
    ev = session.events
    st.sessions += 1
    st.subjects.add(session.subject)
    st.hours += session.duration_ms / 3.6e6
    st.screens[f"{session.screen[0]}x{session.screen[1]}"] += 1
    st.notes.update(event_notes(ev, session.screen))
    types = np.asarray(ev.type, dtype=str)
    for name, count in zip(*np.unique(types, return_counts=True)):
        st.counts[name] += int(count)
    if len(ev) < 2:
        return
    dt = np.diff(ev.t_ms)
    later = types[1:]
    ok = dt <= MAX_INTERVAL_MS
    for name in np.unique(later):
        sel = ok & (later == name)
        if sel.any():
            st.intervals[name].append(dt[sel])
    moves = np.flatnonzero((types == "move") & ~ev.offscreen)
    if len(moves) > 1:
        mdt = np.diff(ev.t_ms[moves])
        dist = np.hypot(np.diff(ev.x[moves]), np.diff(ev.y[moves]))
        sel = (mdt > 0) & (mdt <= 200)
        st.speeds.append(dist[sel] / mdt[sel])


def collect(root, mode="strict", progress=True):
    """Read every session under ``root``; returns ``({source: SourceStats}, [errors])``."""
    stats = defaultdict(SourceStats)
    errors = []
    for folder in tqdm(find_sessions(root), desc="stats", unit="session", disable=not progress):
        try:
            session, _ = read_session(folder, mode)
        except ActiongenError as e:  # reported per session, never fatal
            errors.append(str(e))
            continue
        _session_arrays(session, stats[session.source])
    return dict(stats), errors


def _notes(st):
    keys = ("events", "outside_screen", "offscreen", "scrolls", "fractional_scrolls", "zero_notch_scrolls")
    return {k: int(st.notes.get(k, 0)) for k in keys}


def _pct(arrays, q):
    if not arrays:
        return float("nan")
    return float(np.percentile(np.concatenate(arrays), q))


def table(stats):
    """The text table: one block per source, one row per event type and a total row."""
    head = f"{'source':<12} {'type':<9} {'events':>10} {'p10 ms':>8} {'p50 ms':>8} {'p90 ms':>8}"
    lines = []
    for source in sorted(stats):
        st = stats[source]
        screens = ", ".join(f"{k} ({v})" for k, v in st.screens.most_common(3))
        if len(st.screens) > 3:
            screens += f", ... {len(st.screens)} sizes"
        lines.append(
            f"{source}: {st.sessions} sessions, {len(st.subjects)} subjects, {st.hours:.2f} h, screens: {screens}"
        )
        note = notes_text(_notes(st))
        if note:
            lines.append(f"notes: {note}")
        lines.append(head)
        for name in EVENT_TYPES:
            if st.counts.get(name):
                iv = st.intervals.get(name, [])
                lines.append(
                    f"{source:<12} {name:<9} {st.counts[name]:>10,} {_pct(iv, 10):>8.1f} {_pct(iv, 50):>8.1f} {_pct(iv, 90):>8.1f}"
                )
        all_iv = [a for v in st.intervals.values() for a in v]
        lines.append(
            f"{source:<12} {'all':<9} {sum(st.counts.values()):>10,} {_pct(all_iv, 10):>8.1f} {_pct(all_iv, 50):>8.1f} {_pct(all_iv, 90):>8.1f}"
        )
        lines.append("")
    return "\n".join(lines)


def to_json(stats):
    out = {}
    for source, st in stats.items():
        per_type = {}
        for name, count in st.counts.items():
            iv = st.intervals.get(name, [])
            per_type[name] = {"events": count, **{f"interval_p{q}_ms": _pct(iv, q) for q in (10, 50, 90)}}
        out[source] = {
            "sessions": st.sessions,
            "subjects": len(st.subjects),
            "hours": st.hours,
            "screens": dict(st.screens),
            "per_type": per_type,
            "notes": _notes(st),
        }
    return out


def plot(stats, out_dir):
    """Write ``intervals.png`` and ``speed.png`` (one histogram line per source)."""
    out_dir = Path(out_dir)
    paths = []
    for name, xlabel, get, bins in (
        ("intervals.png", "inter-event interval (ms, log scale)", lambda st: [a for v in st.intervals.values() for a in v], np.logspace(-1, 4, 60)),
        ("speed.png", "cursor speed (px/ms, log scale)", lambda st: st.speeds, np.logspace(-3, 1.5, 60)),
    ):
        fig = Figure(figsize=(7, 4))  # no pyplot: the user's matplotlib backend is left alone
        ax = fig.subplots()
        for source in sorted(stats):
            arrays = get(stats[source])
            if not arrays:
                continue
            v = np.concatenate(arrays)
            v = v[v > 0]
            if len(v):
                # Fractions per (log-spaced) bin: a density per ms would over-weight short intervals.
                ax.hist(v, bins=bins, histtype="step", weights=np.full(len(v), 1.0 / len(v)), label=f"{source} (n={len(v):,})")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fraction per bin")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.set_title(name.split(".")[0].replace("intervals", "inter-event intervals") + " per source")
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        paths.append(out_dir / name)
    return paths


def write_report(root, out_dir=None, mode="strict", progress=True):
    """Collect, write ``stats.txt``, ``stats.json`` and the PNGs; returns ``(text, errors, paths)``."""
    stats, errors = collect(root, mode, progress)
    out_dir = Path(out_dir or root)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = table(stats)
    (out_dir / "stats.txt").write_text(text + "\n")
    (out_dir / "stats.json").write_text(json.dumps(to_json(stats), indent=2) + "\n")
    paths = [out_dir / "stats.txt", out_dir / "stats.json"] + plot(stats, out_dir)
    return text, errors, paths
