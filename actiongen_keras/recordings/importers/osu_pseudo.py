"""Pseudo beatmaps from a replay's own key presses (``actiongen import --source osu_replays``).

Most replays of ``../shared/data/osu_replays`` come without their beatmap, yet a good
player presses a key on every hit object, with the cursor on it: the presses mark where
and when the objects were, within the player's error (measured against the five real
maps: README, "Pseudo game state"). :func:`pseudo_beatmap` turns the presses into a
:class:`~actiongen_keras.recordings.importers.osu_beatmap.Beatmap` in map coordinates,
which the osu! importer then turns into the same ``state.csv`` columns and anchors as a
real map (:func:`~actiongen_keras.recordings.importers.osu.build_state`), so the model
reads both the same way. ``session.json`` says which it is: ``extra.state_source`` is
``"beatmap"`` or ``"pseudo_from_presses"`` (with ``extra.pseudo_state``: counts and the
assumptions below).

* **Objects.** Each onset of K1, K2, M1 or M2 (an M1/M2 onset only while its key is up,
  as the importer reads them) is one object at the cursor position and the map time of
  that press. Onsets less than :data:`MERGE_MS` after the previous one are the same object
  (both keys at once); presses with the cursor far off the playfield (an unfocused window,
  ``offscreen`` in the events) mark no object. Both are counted.
* **Kinds.** A press held at least :data:`SLIDER_MIN_HOLD_MS` is a slider ending where and
  when it was released (circles are tapped for 60-110 ms, sliders held for their length);
  a hold winding at least :data:`SPINNER_MIN_TURNS` times around the playfield centre is a
  spinner at the centre, as osu! places them.
* **The player's error.** Taken as is, every anchor would sit exactly on the press it
  predicts, which no real map gives (the answer would be in the input). Each object is
  moved by Gaussian noise of the size of the human error measured on the real maps
  (:data:`POSITION_NOISE_PX` per axis, :data:`TIME_NOISE_MS` wall ms), seeded by the
  session id, so the anchor-to-press offsets look like a real map's.
* **Difficulty.** The map's CS/AR/OD are unknown: :data:`ASSUMED_DIFFICULTY` (typical of
  the five real maps); mods then change it as for a real map.
* **Not possible** (skipped, with the reason): osu!mania (no positions), relax (the game
  pressed the keys) or autopilot (the game moved the cursor), fewer than
  :data:`MIN_OBJECTS` objects.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from actiongen_keras.recordings.importers.base import UnsupportedRecording, session_seed
from actiongen_keras.recordings.importers.osu_beatmap import (
    PLAYFIELD,
    Beatmap,
    HitObjects,
)
from actiongen_keras.recordings.importers.osu_replay import (
    MOD_BITS,
    STD_EVENTS,
    STD_INPUTS,
)

STATE_SOURCE = "pseudo_from_presses"
MERGE_MS = 20.0  # wall ms
SLIDER_MIN_HOLD_MS = 150.0  # wall ms
SPINNER_MIN_TURNS = 2.0
POSITION_NOISE_PX = 9.0  # per axis, osu! px
TIME_NOISE_MS = 10.0  # wall ms
ASSUMED_DIFFICULTY = {"cs": 4.0, "ar": 9.0, "od": 8.0}
MIN_OBJECTS = 10
_CENTRE = (PLAYFIELD[0] / 2, PLAYFIELD[1] / 2)


@dataclasses.dataclass
class Holds:
    """Every press onset of the osu!std inputs, by time: event indices of the press and its release."""

    down: np.ndarray
    up: np.ndarray  # the release, or the last event when the press is never released


def press_holds(events):
    """:class:`Holds` of K1/K2/M1/M2 in (time-sorted) session events."""
    idx = np.arange(len(events))
    downs, ups = [], []
    for _, field, name, _, _ in STD_INPUTS:
        col = events.key if field == "key" else events.button
        down_type, up_type = STD_EVENTS[field]
        d = idx[(events.type == down_type) & (col == name)]
        u = idx[(events.type == up_type) & (col == name)]
        k = np.searchsorted(u, d, side="right")  # the first release after each press
        last = np.r_[u, len(events) - 1]  # never released: held to the end
        downs.append(d)
        ups.append(last[k])
    down, up = np.concatenate(downs), np.concatenate(ups)
    order = np.lexsort((down, events.t_ms[down]))
    return Holds(down=down[order], up=up[order])


def _turns_about_centre(events):
    """Cumulative signed turns of the cursor around the playfield centre, per event."""
    angle = np.unwrap(np.arctan2(events.y - _CENTRE[1], events.x - _CENTRE[0]))
    return angle / (2 * np.pi)


def pseudo_beatmap(events, mods, map_offset_ms, speed, session_id, noise=True):
    """A :class:`Beatmap` (map time, map coordinates) of the hit objects the presses mark.

    Args:
        events: the session's validated, time-sorted events (wall ms, as recorded).
        mods: the replay's mods int (HR: objects are stored unflipped, as in a ``.osu``).
        map_offset_ms, speed: the session clock (``map = t_ms * speed + map_offset_ms``).
        session_id: seeds the noise.
        noise: add the player's error (:data:`POSITION_NOISE_PX`, :data:`TIME_NOISE_MS`).

    Returns:
        ``(beatmap, info)``; ``info`` goes into ``session.json`` as ``extra.pseudo_state``.

    Raises:
        UnsupportedRecording: fewer than :data:`MIN_OBJECTS` objects.
    """
    holds = press_holds(events)
    t = events.t_ms
    presses = len(holds.down)
    onscreen = ~events.offscreen[holds.down] & np.isfinite(events.x[holds.down]) & np.isfinite(events.y[holds.down])
    down, up = holds.down[onscreen], holds.up[onscreen]
    keep = np.r_[True, np.diff(t[down]) >= MERGE_MS] if len(down) else np.zeros(0, dtype=bool)
    merged = int((~keep).sum())
    down, up = down[keep], up[keep]
    if len(down) < MIN_OBJECTS:
        raise UnsupportedRecording(f"only {len(down)} on-screen key press(es) (at least {MIN_OBJECTS} needed for a pseudo state)")

    hold_ms = t[up] - t[down]
    turns = _turns_about_centre(events)
    kind = np.where(hold_ms >= SLIDER_MIN_HOLD_MS, 1, 0).astype(np.int8)
    kind[np.abs(turns[up] - turns[down]) >= SPINNER_MIN_TURNS] = 2
    x, y = events.x[down].copy(), events.y[down].copy()
    end_x, end_y = events.x[up].copy(), events.y[up].copy()
    spinner = kind == 2
    x[spinner], end_x[spinner] = _CENTRE[0], _CENTRE[0]
    y[spinner], end_y[spinner] = _CENTRE[1], _CENTRE[1]
    circle = kind == 0
    end_x[circle], end_y[circle] = x[circle], y[circle]
    start, end = t[down], np.where(circle, t[down], t[up])
    if noise:
        rng = np.random.default_rng(session_seed(session_id))
        shift_t = rng.normal(0.0, TIME_NOISE_MS, len(down))
        shift_xy = rng.normal(0.0, POSITION_NOISE_PX, (2, len(down)))
        shift_xy[:, spinner] = 0.0
        start, end = start + shift_t, end + shift_t
        x, y, end_x, end_y = x + shift_xy[0], y + shift_xy[1], end_x + shift_xy[0], end_y + shift_xy[1]
    if mods & MOD_BITS["HR"]:  # the cursor is on the flipped map; a .osu holds it unflipped
        y, end_y = PLAYFIELD[1] - y, PLAYFIELD[1] - end_y
    order = np.argsort(start, kind="stable")
    objects = HitObjects(
        time=start[order] * speed + map_offset_ms, x=x[order], y=y[order], kind=kind[order],
        end_time=end[order] * speed + map_offset_ms, end_x=end_x[order], end_y=end_y[order],
        new_combo=np.zeros(len(order), dtype=bool), line=down[order] + 2,  # events.csv line of the press
    )
    d = ASSUMED_DIFFICULTY
    beatmap = Beatmap(path="<pseudo>", format_version=14, mode=0, cs=d["cs"], ar=d["ar"], od=d["od"], hp=5.0,
                      slider_multiplier=1.4, objects=objects)
    info = {
        "presses": presses, "objects": len(objects), "merged_presses": merged, "offscreen_presses": int((~onscreen).sum()),
        "sliders": int((kind == 1).sum()), "spinners": int(spinner.sum()), "assumed_difficulty": dict(d),
        "position_noise_px": POSITION_NOISE_PX if noise else 0.0, "time_noise_ms": TIME_NOISE_MS if noise else 0.0,
    }
    return beatmap, info


def check_pseudo_possible(mode, relax, autopilot):
    """Raise :class:`UnsupportedRecording` when the replay's presses cannot mark its objects."""
    if mode == 3:
        raise UnsupportedRecording("osu!mania: no positions to build a pseudo state from (--source osu imports its keys)")
    if relax:
        raise UnsupportedRecording("relax: the game pressed the keys, no human presses to build a pseudo state from")
    if autopilot:
        raise UnsupportedRecording("autopilot: the game moved the cursor, no human aim to build a pseudo state from")


def match_objects(pseudo, real, window_ms, speed=1.0):
    """How close pseudo objects are to a real map's (both :class:`HitObjects`, map time and coordinates).

    Each real circle or slider takes the pseudo object nearest in time; it is matched when
    that is within ``window_ms`` (map ms; the 50-point hit window). Returns the number of
    real objects, the fraction matched, the median position error (osu! px) and time error
    (wall ms) of the matches, the fraction of pseudo objects no real one took, and the
    fraction of matches of the same kind.
    """
    sel = real.kind < 2
    rt, rx, ry, rk = real.time[sel], real.x[sel], real.y[sel], real.kind[sel]
    pt = pseudo.time
    j = np.clip(np.searchsorted(pt, rt), 1, max(len(pt) - 1, 1))
    nearest = np.where(np.abs(pt[j - 1] - rt) <= np.abs(pt[np.minimum(j, len(pt) - 1)] - rt), j - 1, np.minimum(j, len(pt) - 1))
    dt = pt[nearest] - rt
    ok = np.abs(dt) <= window_ms
    err = np.hypot(pseudo.x[nearest] - rx, pseudo.y[nearest] - ry)
    return {
        "real_objects": int(sel.sum()),
        "matched": float(ok.mean()) if len(ok) else 0.0,
        "median_position_error_px": float(np.median(err[ok])) if ok.any() else float("nan"),
        "median_time_error_ms": float(np.median(np.abs(dt[ok]))) / speed if ok.any() else float("nan"),
        "unmatched_pseudo": 1.0 - len(np.unique(nearest[ok])) / len(pt),
        "same_kind": float(np.mean(pseudo.kind[nearest[ok]] == rk[ok])) if ok.any() else float("nan"),
    }


def import_folder(in_dir, out_dir, repair=False, progress=True):
    """The osu! importer (:func:`actiongen_keras.recordings.importers.osu.import_folder`), with a
    pseudo state for every osu!std replay whose beatmap is not in ``in_dir``."""
    from actiongen_keras.recordings.importers import osu  # osu imports this module

    return osu.import_folder(in_dir, out_dir, repair=repair, progress=progress, pseudo_state=True)


__all__ = ["STATE_SOURCE", "check_pseudo_possible", "import_folder", "match_objects", "press_holds", "pseudo_beatmap"]
