"""osu! context awareness: does the input hit the circles the map asks for?

For every hit object (circles and slider heads; spinners are left out) whose hit time
lies within the session (first to last event), an object is **hit** when

* the cursor is inside the circle (distance to its centre <= ``circle_radius``) at the
  object's hit time (the last on-screen cursor position at or before it), and
* a click (``key_down`` of k1/k2 or any ``press``) happened within ``hit_window_ms``
  (the 50-point half window, wall-clock) of the hit time.

``rate_at_press`` is the game's own rule as a second reading: some click within the
window with the cursor inside the circle *at that click*.

Why an object is missed, read apart (a model that aims but clicks off the beat needs
other work than one that never gets there): ``rate_inside`` (the cursor inside at the hit
time), ``rate_clicked`` (a click within the window), ``rate_reached`` (the cursor inside
the circle at some moment within ``REACH_MS`` of the hit time) and, over the reached
objects, ``approach_offset_ms``: when the cursor came closest to the centre, relative to
the hit time (negative: early; its median and quartiles). A player is there on time
(offset about 0, reached about 1); a late arrival shows as a positive median offset.

Hit objects come from the session's beatmap when it can be found (``beatmap_file`` in
session.json, looked up under ``beatmap_dir``): wall time
``t_ms = (map_ms - map_time_offset_ms) / time_scale``, HR flips ``y``, radius and window
from CS/OD after mods. Otherwise they come from ``state.csv``: each row's
``obj{j}_dt_ms`` gives an upcoming object's hit time (row time + dt), deduplicated.
Stacking offsets are not applied (as in the importer).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.recordings.importers import osu_beatmap as OB
from actiongen_keras.recordings.importers.osu_replay import MOD_BITS, mods_from_names

REACH_MS = 300.0  # the span around a hit time in which arriving at the circle counts as reaching it
REASONS = ("inside", "clicked", "reached")  # the parts of a hit, counted apart


@dataclasses.dataclass
class WallObjects:
    """Hit objects on the session clock: ``t`` (wall ms), ``x``, ``y``, ``kind`` (names)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    radius: float
    window_ms: float
    origin: str  # "beatmap" or "state"


def _mods(session):
    m = session.extra.get("mods") or []
    return mods_from_names("".join(m) if isinstance(m, (list, tuple)) else str(m))


def objects_from_beatmap(session, beatmap):
    """:class:`WallObjects` from a parsed ``Beatmap`` (or a path to a ``.osu``) for ``session``."""
    if not isinstance(beatmap, OB.Beatmap):
        beatmap = OB.read_osu(beatmap)
    mods = _mods(session)
    cs, _, od = OB.effective_difficulty(beatmap.cs, beatmap.ar, beatmap.od, mods)
    ts = float(session.time_scale or 1.0)
    off = float(session.extra.get("map_time_offset_ms", 0.0))
    ob = beatmap.objects
    keep = ob.kind < 3
    y = ob.y[keep]
    if mods & MOD_BITS["HR"]:
        y = OB.PLAYFIELD[1] - y
    return WallObjects(
        t=(ob.time[keep] - off) / ts, x=ob.x[keep].astype(float), y=y.astype(float),
        kind=np.array(OB.KINDS, dtype=object)[ob.kind[keep]], radius=OB.circle_radius(cs),
        window_ms=OB.hit_window_50_ms(od) / ts, origin="beatmap",
    )


def objects_from_state(session):
    """:class:`WallObjects` from ``state.csv`` (``obj{j}_*`` columns), or None without state."""
    st = session.state
    if st is None or "obj0_dt_ms" not in st.columns:
        return None
    ts, xs, ys, ks = [], [], [], []
    j = 0
    while f"obj{j}_dt_ms" in st.columns:
        dt = np.asarray(st.columns[f"obj{j}_dt_ms"], float)
        ok = np.isfinite(dt)
        ts.append((st.t_ms + dt)[ok])
        xs.append(np.asarray(st.columns[f"obj{j}_x"], float)[ok])
        ys.append(np.asarray(st.columns[f"obj{j}_y"], float)[ok])
        ks.append(np.asarray(st.columns[f"obj{j}_kind"], object)[ok])
        j += 1
    t, x, y, k = (np.concatenate(v) for v in (ts, xs, ys, ks))
    # the same object seen from many rows: the same place, the same hit time up to rounding
    key = np.c_[np.round(t), np.round(x, 1), np.round(y, 1)]
    _, first = np.unique(key, axis=0, return_index=True)
    first = np.sort(first)
    t, x, y, k = t[first], x[first], y[first], k[first]
    order = np.argsort(t, kind="stable")
    t, x, y, k = t[order], x[order], y[order], k[order]
    if len(t) > 1:  # drop near-duplicates (< 1 ms apart at the same place) left by float rounding
        dup = np.r_[False, (np.diff(t) < 1.0) & (np.diff(x) == 0) & (np.diff(y) == 0)]
        t, x, y, k = t[~dup], x[~dup], y[~dup], k[~dup]
    radius = float(np.nanmedian(np.asarray(st.columns["circle_radius"], float)))
    window = float(np.nanmedian(np.asarray(st.columns["hit_window_ms"], float)))
    return WallObjects(t=t, x=x, y=y, kind=k, radius=radius, window_ms=window, origin="state")


def find_beatmap(session, beatmap_dir):
    """Path of the session's ``beatmap_file`` under ``beatmap_dir`` (any depth), or None."""
    name = session.extra.get("beatmap_file")
    if not name or beatmap_dir is None:
        return None
    d = Path(beatmap_dir)
    p = d / name
    if p.exists():
        return p
    hits = sorted(d.rglob(name))
    return hits[0] if hits else None


def hit_objects(session, beatmap_dir=None):
    """Hit objects of an osu! session: from its beatmap if found, else from its state; None if neither."""
    path = find_beatmap(session, beatmap_dir)
    if path is not None:
        return objects_from_beatmap(session, path)
    return objects_from_state(session)


def cursor_samples(events):
    """The on-screen cursor samples of ``events``: times, x, y (NaN positions and off-screen left out)."""
    ev = K._events_of(events)
    m = ~ev.offscreen & np.isfinite(ev.x) & np.isfinite(ev.y)
    return ev.t_ms[m], ev.x[m], ev.y[m]


def held_at(track, t):
    """Last position of ``track`` at or before each time in ``t`` (NaN before the first)."""
    tt, xx, yy = track
    i = np.searchsorted(tt, np.asarray(t, float), side="right") - 1
    ok = i >= 0
    x = np.where(ok, xx[np.maximum(i, 0)] if len(tt) else np.nan, np.nan)
    y = np.where(ok, yy[np.maximum(i, 0)] if len(tt) else np.nan, np.nan)
    return x, y


def cursor_at(events, t):
    """Last on-screen cursor position at or before each time in ``t`` (NaN before the first)."""
    return held_at(cursor_samples(events), t)


def _closest_approach(track, t, x, y):
    """Per object: the cursor's smallest distance to its centre within ``REACH_MS`` of its hit
    time (the position held at the span's start, at the hit time, and at every cursor sample
    in the span; ties go to that order) and when it came (ms relative to the hit time; NaN
    where the cursor is unknown)."""
    tt = track[0]
    xx, yy = held_at(track, tt)  # the position held at each sample's time: the last of samples that share a time
    sx, sy = held_at(track, t - REACH_MS)
    hx, hy = held_at(track, t)
    a = np.searchsorted(tt, t - REACH_MS, side="left")
    b = np.searchsorted(tt, t + REACH_MS, side="left")
    dist, offset = np.full(len(t), np.nan), np.full(len(t), np.nan)
    for i in range(len(t)):
        times = np.r_[t[i] - REACH_MS, t[i], tt[a[i]:b[i]]]
        d = np.hypot(np.r_[sx[i], hx[i], xx[a[i]:b[i]]] - x[i], np.r_[sy[i], hy[i], yy[a[i]:b[i]]] - y[i])
        if np.isfinite(d).any():
            k = int(np.nanargmin(d))
            dist[i], offset[i] = d[k], times[k] - t[i]
    return dist, offset


def object_hits(session, obj):
    """Per hit object in the session's span (spinners left out): ``{"t", "x", "y", "hit",
    "hit_at_press", "inside", "clicked", "reached", "approach_offset_ms"}``.

    ``hit``: the cursor inside the circle at the hit time (``inside``) and a click within the
    window (``clicked``); ``hit_at_press``: some click within the window with the cursor inside
    at that click; ``reached``: inside at some moment within ``REACH_MS`` of the hit time,
    ``approach_offset_ms`` the time of the closest approach minus the hit time (NaN if unknown).
    """
    ev = session.events
    m = (obj.kind != "spinner") & (obj.t >= ev.t_ms[0]) & (obj.t <= ev.t_ms[-1]) if len(ev) else np.zeros(len(obj.t), bool)
    t, x, y = obj.t[m], obj.x[m], obj.y[m]
    n = len(t)
    out = {"t": t, "x": x, "y": y, **{k: np.zeros(n, bool) for k in ("hit", "hit_at_press", "inside", "clicked", "reached")},
           "approach_offset_ms": np.full(n, np.nan)}
    if n == 0:
        return out
    track = cursor_samples(ev)
    cx, cy = held_at(track, t)
    inside = np.hypot(cx - x, cy - y) <= obj.radius
    ct, _, _ = K.click_times(ev)
    ct = np.sort(ct)
    lo = np.searchsorted(ct, t - obj.window_ms, side="left")
    hi = np.searchsorted(ct, t + obj.window_ms, side="right")
    out["inside"], out["clicked"] = inside, hi > lo
    out["hit"] = inside & (hi > lo)
    dist, out["approach_offset_ms"] = _closest_approach(track, t, x, y)
    out["reached"] = dist <= obj.radius
    # game rule: some click in the window with the cursor inside at that click
    px, py = held_at(track, ct)
    for i in range(n):
        if hi[i] > lo[i]:
            d = np.hypot(px[lo[i]: hi[i]] - x[i], py[lo[i]: hi[i]] - y[i])
            out["hit_at_press"][i] = bool(np.any(d <= obj.radius))
    return out


def hit_rate(session, objects=None, beatmap_dir=None):
    """Hit counts of one osu! session (see the module docstring and :func:`object_hits`).

    Returns ``{"n_objects", "hits", "rate", "hits_at_press", "rate_at_press", "origin"}`` and
    the reasons' counts and rates (``inside``, ``clicked``, ``reached``: ``hits_inside``,
    ``rate_inside`` and so on) with the reached objects' ``approach_offsets_ms``, or None when
    the session has no hit objects.
    """
    obj = objects if objects is not None else hit_objects(session, beatmap_dir)
    if obj is None or len(session.events) == 0:
        return None
    o = object_hits(session, obj)
    n = len(o["t"])
    counts = {"hits": int(o["hit"].sum()), "hits_at_press": int(o["hit_at_press"].sum()),
              **{f"hits_{k}": int(o[k].sum()) for k in REASONS}}
    rates = {f"rate{c[4:]}": (v / n if n else None) for c, v in counts.items()}
    offsets = o["approach_offset_ms"][o["reached"]]
    return {"n_objects": n, **counts, **rates, "approach_offsets_ms": offsets, "origin": obj.origin}



def pooled_hit_rate(sessions, beatmap_dir=None):
    """Hits / objects over ``sessions`` (those without objects are skipped), with per-session
    rates; the reasons' rates pooled the same way and the closest approach's offset over
    every reached object (``approach_offset_ms``: median, quartiles, count)."""
    per = {}
    for s in sessions:
        r = hit_rate(s, beatmap_dir=beatmap_dir)
        if r is not None and r["n_objects"]:
            per[s.session_id] = r
    n = sum(r["n_objects"] for r in per.values())
    keys = ("", "_at_press") + tuple(f"_{k}" for k in REASONS)
    if n == 0:
        return {**{f"rate{k}": None for k in keys}, "approach_offset_ms": None, "n_objects": 0, "n_sessions": 0, "per_session": {}}
    offsets = np.concatenate([r["approach_offsets_ms"] for r in per.values()])
    q = np.percentile(offsets, [25, 50, 75]) if len(offsets) else [None] * 3
    return {
        **{f"rate{k}": sum(r[f"hits{k}"] for r in per.values()) / n for k in keys},
        "approach_offset_ms": {"median": q[1], "p25": q[0], "p75": q[2], "n": len(offsets)},
        "n_objects": n, "n_sessions": len(per),
        "per_session": {k: round(v["rate"], 4) for k, v in per.items()},
    }


__all__ = ["REACH_MS", "REASONS", "WallObjects", "cursor_at", "cursor_samples", "held_at", "find_beatmap", "hit_objects", "hit_rate", "object_hits", "objects_from_beatmap", "objects_from_state", "pooled_hit_rate"]
