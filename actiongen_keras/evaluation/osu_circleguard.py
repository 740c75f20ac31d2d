"""circleguard, the osu! community's anti-cheat library, as the judge of osu! sessions.

A session (a rollout's generated span, or the person's events over the same span) is
written as an ``.osr`` (:func:`~actiongen_keras.recordings.importers.osu.session_to_replay`)
and handed to circleguard together with its beatmap, read from the local ``.osu`` file:
``KeylessCircleguard`` and slider's ``Beatmap.from_path``, so nothing is downloaded.
circleguard then gives what the osu! community measures a replay by:

* **judgments**: 300 / 100 / 50 / miss for each circle and slider head (circleguard leaves
  spinners out) whose hit time lies within the session (first to last event, as
  :func:`~actiongen_keras.evaluation.osu_hits.hit_rate`), with notelock as the game has it;
* **unstable rate** (10 x the standard deviation of the hit errors, in wall-clock ms:
  circleguard's "converted" UR), **median frametime** (converted ms between frames) and the
  number of **snaps** on hit objects (sharp turns between long jumps, an aim-assist sign).

:func:`object_agreement` compares the project's own hit counting
(:mod:`~actiongen_keras.evaluation.osu_hits`) with circleguard's judgments object by object.
"""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path

import numpy as np

from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation import osu_hits as H
from actiongen_keras.recordings.importers.osu import session_to_replay
from actiongen_keras.recordings.importers.osu_replay import pack_osr, write_osr

JUDGMENTS = ("n300", "n100", "n50", "nmiss")
_TYPE_KEY = {"Hit300": "n300", "Hit100": "n100", "Hit50": "n50", "Miss": "nmiss"}


@functools.lru_cache(maxsize=1)
def _circleguard():
    """One offline circleguard per process (its beatmap library is a temporary folder)."""
    # circleguard and slider are imported where used: seconds of imports only osu! judging needs
    from circleguard import KeylessCircleguard

    logging.getLogger("circleguard").setLevel(logging.ERROR)
    return KeylessCircleguard(cache=False)


@functools.lru_cache(maxsize=16)
def _beatmap(path):
    from slider import Beatmap

    try:
        return Beatmap.from_path(str(path))
    except Exception as e:  # noqa: BLE001 (slider raises many kinds on a bad file)
        raise ActiongenError(f"{path}: slider cannot read the beatmap ({e.__class__.__name__}: {e})") from None


def _load(data):
    from circleguard import ReplayString

    cg = _circleguard()
    replay = ReplayString(data)
    cg.load(replay)
    return cg, replay


def judge_osr(data, beatmap_path, span_map_ms=None):
    """circleguard's view of the ``.osr`` bytes ``data`` on the beatmap at ``beatmap_path``.

    ``span_map_ms`` ``(start, end)``: only hit objects with their hit time in it count.
    Returns ``{"n_objects", "n300", "n100", "n50", "nmiss", "hits", "hit_rate", "ur",
    "frametime_ms", "snaps", "objects"}``; ``objects`` lists ``(map ms, judgment)`` in time
    order, ``ur`` is None with fewer than 2 hits.
    """
    from circleguard.utils import convert_statistic

    cg, replay = _load(data)
    bm = _beatmap(Path(beatmap_path))
    judged = []
    with warnings.catch_warnings():  # circleguard's snaps: a NumPy 'where' without 'out' warning
        warnings.simplefilter("ignore", UserWarning)
        snaps = len(cg.snaps(replay, beatmap=bm))
    for j in cg.judgments(replay, beatmap=bm):
        t = float(j.hitobject.time)
        if span_map_ms is None or span_map_ms[0] <= t <= span_map_ms[1]:
            judged.append((t, _TYPE_KEY[j.type.name], float(j.error()) if j.type.name != "Miss" else None))
    judged.sort(key=lambda r: r[0])
    out = {k: sum(1 for _, kind, _ in judged if kind == k) for k in JUDGMENTS}
    n = len(judged)
    errors = [e for _, _, e in judged if e is not None]
    out.update(n_objects=n, hits=n - out["nmiss"], hit_rate=(n - out["nmiss"]) / n if n else None)
    out["ur"] = float(convert_statistic(np.std(errors) * 10, replay.mods, to="cv")) if len(errors) >= 2 else None
    out["frametime_ms"] = float(cg.frametime(replay)) if len(replay.t) > 2 else None
    out["snaps"] = snaps
    out["objects"] = [(t, kind) for t, kind, _ in judged]
    return out


def _span_map_ms(session, span_ms=None):
    ts = float(session.time_scale or 1.0)
    off = float(session.extra.get("map_time_offset_ms", 0.0))
    t0, t1 = span_ms if span_ms is not None else (session.events.t_ms[0], session.events.t_ms[-1])
    return float(t0) * ts + off, float(t1) * ts + off


def generated_span(session):
    """``(start, end)`` wall ms a rollout generated (``extra.generated_from_ms`` + ``generated_ms``), or None."""
    t0, ms = session.extra.get("generated_from_ms"), session.extra.get("generated_ms")
    return None if t0 is None or ms is None else (float(t0), float(t0) + float(ms))


def judge_session(session, beatmap_path, span_ms=None):
    """:func:`judge_osr` of a session's events over ``span_ms`` (wall ms on the session clock;
    default: its first to last event)."""
    replay = session_to_replay(session, beatmap_path)
    return judge_osr(pack_osr(replay), beatmap_path, _span_map_ms(session, span_ms))


def export_replay(session, beatmap_path, out_path, player=None):
    """Write ``session`` as an ``.osr`` whose header counts are circleguard's judgments.

    Counts are over the whole map (what osu! shows for a replay); ``max_combo`` is the longest
    run of hit objects without a miss (slider ticks are not judged). Returns
    ``(out_path, judgments)``.
    """
    replay = session_to_replay(session, beatmap_path, player=player)
    j = judge_osr(pack_osr(replay), beatmap_path)
    replay.counts.update({k: j[k] for k in JUDGMENTS})
    run, best = 0, 0
    for _, kind in j["objects"]:
        run = 0 if kind == "nmiss" else run + 1
        best = max(best, run)
    replay.max_combo, replay.perfect = best, j["nmiss"] == 0 and j["n_objects"] > 0
    return write_osr(replay, out_path), j


def pooled(sessions, beatmap_dir, spans=None):
    """circleguard over ``sessions`` (those whose beatmap is under ``beatmap_dir``).

    ``spans``: ``{session_id: (start, end)}`` wall ms to judge over (default: each session's
    :func:`generated_span`, else first to last event). Counts and hit rate are pooled over
    the objects; ``ur``, ``frametime_ms`` are medians over sessions, ``snaps`` a sum. None
    when no session has its beatmap.
    """
    per = {}
    for s in sessions:
        path = H.find_beatmap(s, beatmap_dir)
        if path is None or s.extra.get("mode", "osu!std") != "osu!std" or len(s.events) < 2:
            continue
        r = judge_session(s, path, (spans or {}).get(s.session_id) or generated_span(s))
        if r["n_objects"]:
            per[s.session_id] = r
    if not per:
        return None
    tot = {k: sum(r[k] for r in per.values()) for k in (*JUDGMENTS, "n_objects", "hits", "snaps")}

    def median(key):
        v = [r[key] for r in per.values() if r[key] is not None]
        return float(np.median(v)) if v else None

    return {**tot, "hit_rate": tot["hits"] / tot["n_objects"], "ur": median("ur"), "frametime_ms": median("frametime_ms"),
            "n_sessions": len(per), "per_session": {k: {q: r[q] for q in (*JUDGMENTS, "ur", "frametime_ms", "snaps")} for k, r in per.items()}}


def compare(real, sets, beatmap_dir):
    """``{"human": pooled(real), name: pooled(sessions)}`` for the generated sets (bots left
    out: they make only a cursor), or None when no real session's beatmap is under ``beatmap_dir``.

    The real sessions are the people's events over the span each rollout generated: both
    sides are judged over that span (``extra.generated_from_ms`` + ``generated_ms`` of the
    rollout whose ``context_session_id`` is the real session), so on the same objects.
    """
    if beatmap_dir is None:
        return None
    spans = {g.extra.get("context_session_id"): generated_span(g) for g in sets.get("model") or []}
    human = pooled(real, beatmap_dir, {k: v for k, v in spans.items() if k and v})
    if human is None:
        return None
    out = {"human": human}
    for name in ("model",):
        if sets.get(name):
            out[name] = pooled(sets[name], beatmap_dir)
    return out


def markdown(section):
    """The ``report.md`` table of :func:`compare`'s result."""
    rows = ["## osu! judged by circleguard", "",
            ("circleguard (the osu! community's anti-cheat library) on each session written as an osu! replay: judgments of "
             "the circles and slider heads in the span, unstable rate (converted, median over sessions), median frametime "
             "(converted ms, median over sessions) and snaps on hit objects (sum)."), "",
            "| sample | objects | 300 | 100 | 50 | miss | hit rate | UR | frametime ms | snaps | sessions |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v, nd=3):
        return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))

    for name, r in section.items():
        if r is None:
            rows.append(f"| {name} | - | - | - | - | - | - | - | - | - | 0 |")
            continue
        rows.append(f"| {name} | {r['n_objects']} | {r['n300']} | {r['n100']} | {r['n50']} | {r['nmiss']} | {f(r['hit_rate'])} | "
                    f"{f(r['ur'], 1)} | {f(r['frametime_ms'], 1)} | {r['snaps']} | {r['n_sessions']} |")
    return "\n".join(rows) + "\n"


def object_agreement(session, beatmap_path, osr_path=None):
    """Object by object, the project's hit counting against circleguard's judgments.

    circleguard judges ``osr_path`` (the original replay the session was imported from)
    when given, else the session written back as an ``.osr``.

    Returns ``{"n_objects", "agree", "agree_at_press", "ours", "ours_at_press", "circleguard"}``
    (hits of each), where ``agree`` is the share of objects both call the same (hit or
    not) with :func:`~actiongen_keras.evaluation.osu_hits.hit_rate`'s rule (cursor in the
    circle at the hit time, a click in the 50-window) and ``agree_at_press`` with its game
    rule (some click in the window with the cursor in the circle at that click).
    """
    obj = H.objects_from_beatmap(session, beatmap_path)
    ours = H.object_hits(session, obj)
    if osr_path is None:
        cg = judge_session(session, beatmap_path)
    else:
        cg = judge_osr(Path(osr_path).read_bytes(), beatmap_path, _span_map_ms(session))
    ts = float(session.time_scale or 1.0)
    off = float(session.extra.get("map_time_offset_ms", 0.0))
    cg_t = np.array([t for t, _ in cg["objects"]])
    cg_hit = np.array([kind != "nmiss" for _, kind in cg["objects"]])
    # match by hit time (both lists are the map's circles and slider heads, in time order)
    m = (ours["t"] * ts + off)[:, None]
    j = np.argmin(np.abs(m - cg_t[None, :]), axis=1) if len(cg_t) else np.zeros(0, int)
    ok = np.abs(m[:, 0] - cg_t[j]) < 1.0 if len(cg_t) else np.zeros(len(m), bool)
    a, b, c = ours["hit"][ok], ours["hit_at_press"][ok], cg_hit[j[ok]]
    n = int(ok.sum())
    return {"n_objects": n, "agree": float(np.mean(a == c)) if n else None, "agree_at_press": float(np.mean(b == c)) if n else None,
            "ours": int(a.sum()), "ours_at_press": int(b.sum()), "circleguard": int(c.sum()),
            "differ_at": [float(t) for t in (ours["t"][ok][a != c] * ts + off)]}


__all__ = ["JUDGMENTS", "compare", "export_replay", "generated_span", "judge_osr", "judge_session", "markdown", "object_agreement", "pooled"]
