"""Import osu! replays (``actiongen import --source osu``).

Input folder (any nesting): ``*.osr`` replays, ``*.osu`` beatmaps, optionally
``index.csv`` and ``frames_csv/<file>.csv.gz`` (the decoded-frames layout of
``osu_replays/``, used for replays that have no ``.osr``). Each replay becomes one
session:

* **Clock.** Frame times are osu! *map* time. Session ``t_ms`` is wall-clock:
  ``t_ms = (map_ms - map_time_offset_ms) / time_scale``, where ``time_scale`` is 1.5 with
  DT/NC, 0.75 with HT, else 1, and ``map_time_offset_ms`` (extra key in session.json) is
  the map time of the first real frame (negative: the lead-in before the song starts).
* **Events.** ``move`` whenever the cursor position changes; K1/K2 give
  ``key_down``/``key_up`` with keys ``k1``/``k2``; M1/M2 give ``press``/``release`` of
  ``left``/``right`` (osu! sets M1 together with K1 and M2 with K2, so a mouse button
  counts only when its key bit is clear). Smoke is not imported (counted in a note).
  Relax replays keep only the cursor (the game pressed the keys), autopilot replays
  only the keys and buttons (the game moved the cursor); ``human_channels`` in
  session.json says which. Screen: the 512x384 osu! playfield.
* **State** (when the beatmap is in the folder, matched by the MD5 the replay stores):
  one ``state.csv`` row every :data:`STATE_STEP_MS` wall ms with the next
  :data:`N_UPCOMING` visible hit objects, the object just passed and the map's
  constants; see :data:`STATE_COLUMN_NAMES`. HR flips the objects vertically.
* **Pseudo state** (``--source osu_replays``, ``pseudo_state=True``): an osu!std replay
  whose beatmap is not in the folder gets the same state built from its own key presses
  (:mod:`~actiongen_keras.recordings.importers.osu_pseudo`); ``extra.state_source`` says
  ``"beatmap"`` or ``"pseudo_from_presses"``. Replays that cannot have one (osu!mania,
  relax, autopilot, too few presses) are skipped with the reason.
* **osu!mania** replays are imported as key-only, input-only sessions (keys
  ``col1``..``colN`` from the column bitmask; no cursor, positions 0). osu!taiko and
  osu!catch, and replays with no human input (Autoplay, Cinema, or Relax together with
  Autopilot), are skipped as unsupported.

Strict and repair mode behave as in the session reader: the converted events go
through :func:`~actiongen_keras.recordings.session.validate_events`, with frame numbers
of the source (``<file>.osr#frame:N``, or CSV line numbers) in its messages.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import time
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError
from actiongen_keras.recordings.importers.base import (
    UnsupportedRecording,
    run_import,
    safe_id,
)
from actiongen_keras.recordings.importers.osu_beatmap import (
    PLAYFIELD,
    circle_radius,
    effective_difficulty,
    hit_window_50_ms,
    md5_variants,
    preempt_ms,
    read_osu,
)
from actiongen_keras.recordings.importers.osu_pseudo import (
    STATE_SOURCE as PSEUDO_STATE_SOURCE,
)
from actiongen_keras.recordings.importers.osu_pseudo import (
    check_pseudo_possible,
    pseudo_beatmap,
)
from actiongen_keras.recordings.importers.osu_replay import (
    KEY_BITS,
    MOD_BITS,
    MODES,
    STD_EVENTS,
    STD_INPUTS,
    WRITE_VERSION,
    Frames,
    Replay,
    frames_text,
    mods_from_names,
    mods_to_names,
    read_frames_csv,
    read_osr,
    speed_of,
    std_frames,
    std_held,
)
from actiongen_keras.recordings.session import (
    Events,
    RepairReport,
    Session,
    State,
    validate_events,
)

SOURCE = "osu"
GAME = "osu!"
SCREEN = PLAYFIELD
N_UPCOMING = 4
STATE_STEP_MS = 100.0
OBJECT_KINDS = ("circle", "slider", "spinner", "none")
_OBJECT_FIELDS = ("dt_ms", "x", "y", "kind", "end_dt_ms", "end_x", "end_y")
#: state.csv columns, in order (all wall-clock ms / osu! pixels; empty cell = absent).
STATE_COLUMN_NAMES = tuple(f"obj{j}_{f}" for j in range(N_UPCOMING) for f in _OBJECT_FIELDS) + (
    "prev_dt_ms", "prev_x", "prev_y", "approach_ms", "circle_radius", "hit_window_ms",
)
_ANCHOR_OF = {f"obj{j}_{f}": (f"obj{j}{end}", role) for j in range(N_UPCOMING)
              for end, fields in (("", ("x", "y", "dt_ms")), ("_end", ("end_x", "end_y", "end_dt_ms")))
              for f, role in zip(fields, ("x", "y", "dt_ms"))}


def _state_column(name):
    """The session.json entry of a state column; an upcoming object's (and its end's) position
    and time declare an anchor (``data/features.py``: on-screen points the model aims at)."""
    column = {"name": name, "kind": "categorical" if name.endswith("_kind") else "numeric"}
    if name in _ANCHOR_OF:
        column["anchor"], column["role"] = _ANCHOR_OF[name]
    return column


#: The same as session.json ``state_columns`` entries.
STATE_COLUMNS = tuple(_state_column(n) for n in STATE_COLUMN_NAMES)
# Player names that do not identify a person (circlecore's anonymised test replays).
PLACEHOLDER_PLAYERS = frozenset({"", "for testing", "unknown", "guest"})
PROVENANCE = (
    "osu! replay{src}: a player's content under the osu! terms of use; research data, do not publish. "
    "Collected from abraker95/ultimate_osu_analyzer, abraker-osu/osu_analysis, circleguard/circlecore, "
    "burkap/osu-replay-analyzer, kszlim/osu-replay-parser, llllllllll/slider."
)


@dataclasses.dataclass
class _Play:
    """What both layouts (``.osr`` and frames_csv) provide for one replay."""

    label: str  # file name for messages
    stem: str
    frames_path: str  # named in frame-level messages
    mode: int
    mods: int
    player: str
    beatmap_md5: str
    frames: object  # osu_replay.Frames
    human_input: str = ""
    index_row: dict | None = None
    header: dict = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------- folder


def import_folder(in_dir, out_dir, repair=False, progress=True, pseudo_state=False):
    """Import every replay under ``in_dir`` into session folders under ``out_dir``.

    Args:
        in_dir: folder with ``*.osr`` and/or ``frames_csv/*.csv.gz`` (+ ``index.csv``),
            and ``*.osu`` beatmaps (any nesting).
        out_dir: sessions are written to ``out_dir/<session_id>/``.
        repair: repair fixable problems (counted in the summary) instead of failing.
        progress: show a progress bar.
        pseudo_state: give osu!std replays without their beatmap a state built from their
            own key presses, skip those that cannot have one (see :func:`convert_play`).

    Returns:
        :class:`~actiongen_keras.recordings.importers.base.ImportSummary`.
    """
    in_dir = Path(in_dir)
    if not in_dir.is_dir():
        raise FormatError(in_dir, "input folder does not exist")
    index, index_error = _read_index(in_dir)
    maps = _MapLibrary(in_dir)
    osr = sorted(in_dir.rglob("*.osr"))
    osr_stems = {p.stem for p in osr}
    csvs = [p for p in sorted(in_dir.rglob("*.csv.gz")) if p.parent.name == "frames_csv"]
    csvs = [p for p in csvs if _csv_stem(p) not in osr_stems]
    items = [(p.name, ("osr", p)) for p in osr] + [(p.name, ("csv", p)) for p in csvs]
    mode = "repair" if repair else "strict"

    def convert(item, summary):
        kind, path = item
        if kind == "osr":
            play = _play_from_osr(path, index)
        else:
            if index_error is not None:
                raise index_error
            play = _play_from_csv(path, index, in_dir / "index.csv")
        yield convert_play(play, maps, mode, summary, pseudo_state=pseudo_state)

    return run_import("osu_replays" if pseudo_state else SOURCE, items, convert, out_dir, progress=progress)


def _csv_stem(path):
    name = path.name
    return name[: -len(".csv.gz")] if name.endswith(".csv.gz") else path.stem


def _read_index(folder):
    """``{file stem: row}`` from ``index.csv`` (empty if absent) and the error reading it, if any."""
    path = folder / "index.csv"
    if not path.exists():
        return {}, None
    try:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return {}, FormatError(path, f"cannot read index ({e.__class__.__name__}: {e})")
    if rows and "file" not in rows[0]:
        return {}, FormatError(path, "index has no 'file' column", line=1)
    return {r["file"]: r for r in rows if r.get("file")}, None


class _MapLibrary:
    """Beatmaps of a folder by MD5, parsed on first use (errors are kept and re-raised)."""

    def __init__(self, folder):
        self.by_md5 = {}
        for p in sorted(folder.rglob("*.osu")):
            try:
                data = p.read_bytes()
            except OSError:
                continue
            for md5 in md5_variants(data):
                self.by_md5.setdefault(md5, p)
        self._cache = {}

    def get(self, md5):
        """``(path, Beatmap or FormatError)`` for ``md5``, or ``(None, None)`` when not in the folder."""
        path = self.by_md5.get((md5 or "").lower())
        if path is None:
            return None, None
        if path not in self._cache:
            try:
                self._cache[path] = read_osu(path)
            except FormatError as e:
                self._cache[path] = e
        return path, self._cache[path]


def _play_from_osr(path, index):
    r = read_osr(path)
    row = index.get(path.stem)
    header = {
        "version": r.version, "replay_md5": r.replay_md5, "score": r.score, "max_combo": r.max_combo,
        "perfect": r.perfect, **r.counts,
    }
    return _Play(
        label=path.name, stem=path.stem, frames_path=f"{path}#frame", mode=r.mode, mods=r.mods, player=r.player,
        beatmap_md5=r.beatmap_md5, frames=r.frames, human_input=(row or {}).get("human_input") or "", index_row=row,
        header=header,
    )


def _play_from_csv(path, index, index_path):
    stem = _csv_stem(path)
    row = index.get(stem)
    if row is None:
        raise FormatError(path, f"no row for '{stem}' in {index_path} (mods, player and mode are needed)")
    frames = read_frames_csv(path)
    modes = {v: k for k, v in MODES.items()}
    if row.get("mode") not in modes:
        raise FormatError(index_path, f"row '{stem}': unknown mode {row.get('mode')!r}", field="mode")
    try:
        mods = mods_from_names(row.get("mods", ""))
    except ValueError as e:
        raise FormatError(index_path, f"row '{stem}': {e}", field="mods") from None
    return _Play(
        label=path.name, stem=stem, frames_path=str(path), mode=modes[row["mode"]], mods=mods,
        player=row.get("player") or "", beatmap_md5=row.get("beatmap_md5") or "", frames=frames,
        human_input=row.get("human_input") or "", index_row=row,
    )


# --------------------------------------------------------------------------- one replay


def convert_play(play, maps, mode, summary=None, pseudo_state=False):
    """Turn one replay into ``(Session, RepairReport)``.

    ``maps`` has ``get(md5) -> (path, Beatmap | FormatError)``; ``summary`` (optional)
    receives notes (input-only, dropped channels). With ``pseudo_state`` an osu!std replay
    without a usable beatmap gets the state of
    :func:`~actiongen_keras.recordings.importers.osu_pseudo.pseudo_beatmap`, and a replay
    that cannot have one raises ``UnsupportedRecording`` (skipped).
    """
    notes = []
    mods = play.mods
    if play.mode in (1, 2):
        raise UnsupportedRecording(f"{MODES[play.mode]} replays are not supported (osu!std and osu!mania are)")
    if mods & (MOD_BITS["AT"] | MOD_BITS["CN"]):
        raise UnsupportedRecording("Autoplay/Cinema replay: no human input")
    relax = bool(mods & MOD_BITS["RX"]) or play.human_input.startswith("relax")
    autopilot = bool(mods & MOD_BITS["AP"]) or play.human_input.startswith("autopilot")
    if relax and autopilot:
        raise UnsupportedRecording("Relax and Autopilot together: no human input")
    map_path, beatmap = maps.get(play.beatmap_md5) if play.mode == 0 else (None, None)
    real_map = map_path is not None and not isinstance(beatmap, FormatError) and beatmap.mode == 0
    if pseudo_state and not real_map:
        check_pseudo_possible(play.mode, relax, autopilot)
    frames = play.frames
    if len(frames) == 0:
        raise FormatError(play.frames_path, "replay has no frames after the two dummy frames")
    speed = speed_of(mods)
    t0 = float(np.min(frames.t_ms))
    wall = (frames.t_ms - t0) / speed
    session_id = "osu_" + safe_id(play.stem)
    report = RepairReport(path=play.label)

    if play.mode == 3:
        events, lines, columns = _mania_events(wall, frames, play.frames_path, mods)
        human = ["keys"]
        extra_state = {"columns": columns}
        notes.append("osu!mania: keys per column only, input-only (no state)")
    else:
        events, lines, dropped = _std_events(wall, frames, relax, autopilot)
        human = ["cursor"] if relax else ["keys"] if autopilot else ["cursor", "keys"]
        extra_state = {}
        if dropped["smoke"]:
            notes.append(f"{dropped['smoke']} smoke key press(es) not imported")
        if relax:
            notes.append(f"relax: cursor only; {dropped['keys']} game-pressed key/button event(s) not imported")
        if autopilot:
            notes.append(f"autopilot: keys only; {dropped['moves']} game-made cursor move(s) not imported")
    events, report = validate_events(events, SCREEN, play.frames_path, mode, lines=lines, report=report)
    if len(events) == 0:
        raise FormatError(play.frames_path, "no input events left after conversion")

    state = None
    beatmap_file = None
    state_info = {}
    if play.mode == 0:
        why = None
        if map_path is None:
            why = f"beatmap {play.beatmap_md5 or '(no MD5)'} is not in the folder"
        elif isinstance(beatmap, FormatError):
            if mode == "strict":
                raise beatmap
            why = f"beatmap does not parse ({beatmap})"
        elif beatmap.mode != 0:
            why = f"beatmap {map_path.name} is for {MODES.get(beatmap.mode)}, not osu!std"
        else:
            beatmap_file = map_path.name
            state_info = {"state_source": "beatmap"}
        if why is not None and pseudo_state:
            beatmap, info = pseudo_beatmap(events, mods, t0, speed, session_id)
            state_info = {"state_source": PSEUDO_STATE_SOURCE, "pseudo_state": info}
            notes.append(f"pseudo state: {why}; {info['objects']} objects from {info['presses']} key presses")
        elif why is not None:
            notes.append(f"input-only: {why}")
        if state_info:
            state = build_state(beatmap, mods, t0, speed, float(events.t_ms[-1]))

    row = play.index_row or {}
    player = (play.player or "").strip()
    subject = f"osu:unknown-{session_id}" if player.lower() in PLACEHOLDER_PLAYERS else f"osu:{player}"
    extra = {
        "mode": MODES[play.mode],
        "mods": mods_to_names(mods),
        "player": player,
        "human_channels": human,
        "map_time_offset_ms": t0,
        "beatmap_md5": play.beatmap_md5,
        "beatmap_file": beatmap_file,
        "frames_used": int(len(frames)),  # after dropping the dummy and RNG-seed frames
        **extra_state,
        **state_info,
        **({"replay": play.header} if play.header else {}),
    }
    deliberate = (row.get("deliberate_test_play") or "").strip().lower()
    if deliberate:
        extra["deliberate_test_play"] = deliberate in ("true", "1", "yes")
    src = f" ({row['source']})" if row.get("source") else ""
    session = Session(
        session_id=session_id, source=SOURCE, subject=subject, screen=SCREEN, events=events,
        game=GAME if state is not None else None, state_columns=[dict(c) for c in STATE_COLUMNS] if state is not None else None,
        state=state, time_scale=speed, provenance=PROVENANCE.format(src=src), extra=extra,
    )
    if summary is not None:
        summary.notes.extend((play.label, n) for n in notes)
    return session, report


def _events_from_parts(wall, x, y, numbers, parts):
    """Assemble events from ``(frame indices, sub-order, type, button, key)`` parts.

    Sorted by frame, then sub-order (moves, then releases, then presses), so a key event
    carries the position of its frame.
    """
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return Events.empty(), np.zeros(0, dtype=np.int64)
    fi = np.concatenate([p[0] for p in parts])
    sub = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    typ = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
    btn = np.concatenate([np.full(len(p[0]), p[3], dtype=object) for p in parts])
    key = np.concatenate([np.full(len(p[0]), p[4], dtype=object) for p in parts])
    order = np.lexsort((sub, fi))
    fi = fi[order]
    ev = Events.from_columns(t_ms=wall[fi], type=typ[order], x=x[fi], y=y[fi], button=btn[order], key=key[order])
    return ev, numbers[fi]


def _transitions(held):
    """Frame indices where ``held`` turns on and where it turns off (state before frame 0: off)."""
    prev = np.r_[False, held[:-1]]
    return np.flatnonzero(held & ~prev), np.flatnonzero(~held & prev)


def _std_events(wall, frames, relax, autopilot):
    """Events of an osu!std replay and counts of what was left out."""
    k = frames.keys
    x, y = frames.x, frames.y
    moved = np.r_[True, (np.diff(x) != 0) | (np.diff(y) != 0)]
    moves = np.flatnonzero(moved)
    key_parts = []
    held_by_name = std_held(k)
    for _, field, name, _, _ in STD_INPUTS:
        down, up = STD_EVENTS[field]
        on, off = _transitions(held_by_name[name])
        b, kk = (name, "") if field == "button" else ("", name)
        key_parts += [(off, 1, up, b, kk), (on, 2, down, b, kk)]
    dropped = {
        "smoke": len(_transitions((k & KEY_BITS["SMOKE"]) > 0)[0]),
        "keys": sum(len(p[0]) for p in key_parts) if relax else 0,
        "moves": len(moves) if autopilot else 0,
    }
    parts = ([] if autopilot else [(moves, 0, "move", "", "")]) + ([] if relax else key_parts)
    ev, lines = _events_from_parts(wall, x, y, frames.number, parts)
    return ev, lines, dropped


def _mania_events(wall, frames, path, mods):
    """Key events ``col1``..``colN`` of an osu!mania replay (``x`` is the held-column bitmask)."""
    bits = frames.x
    bad = ~np.isfinite(bits) | (bits < 0) | (bits != np.round(bits)) | (bits >= 2**18)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(path, f"osu!mania column bitmask {bits[i]!r} is not a small non-negative integer", line=int(frames.number[i]), field="x")
    bits = bits.astype(np.int64)
    named = [int(n[0]) for n in mods_to_names(mods) if n.endswith("K") and n[0].isdigit()]
    columns = max(named + [int(bits.max()).bit_length(), 1])
    parts = []
    for c in range(columns):
        on, off = _transitions((bits >> c) & 1 > 0)
        parts += [(off, 1, "key_up", "", f"col{c + 1}"), (on, 2, "key_down", "", f"col{c + 1}")]
    zeros = np.zeros(len(wall))
    ev, lines = _events_from_parts(wall, zeros, zeros, frames.number, parts)
    return ev, lines, columns


# --------------------------------------------------------------------------- game state


def build_state(beatmap, mods, map_offset_ms, speed, t_end_ms, step_ms=STATE_STEP_MS, n_upcoming=N_UPCOMING):
    """What the player sees, every ``step_ms`` wall ms from 0 to ``t_end_ms``.

    Row time ``t`` (wall, session clock) is map time ``m = t * speed + map_offset_ms``.
    Upcoming objects are those with hit time ``>= m`` that are already visible
    (``hit time - preempt <= m``); the "previous" object is the last one with hit time
    ``< m``. All durations are converted to wall-clock ms; HR flips ``y``.

    Returns:
        :class:`~actiongen_keras.recordings.session.State` with :data:`STATE_COLUMN_NAMES`.
    """
    cs, ar, od = effective_difficulty(beatmap.cs, beatmap.ar, beatmap.od, mods)
    preempt = preempt_ms(ar)
    ob = beatmap.objects
    keep = ob.kind < 3  # mania hold notes do not belong to an osu!std state
    time, kind = ob.time[keep], ob.kind[keep]
    x, y, end_time, end_x, end_y = ob.x[keep], ob.y[keep], ob.end_time[keep], ob.end_x[keep], ob.end_y[keep]
    if mods & MOD_BITS["HR"]:
        y, end_y = PLAYFIELD[1] - y, PLAYFIELD[1] - end_y
    t = np.arange(0.0, max(t_end_ms, 0.0) + step_ms / 2, step_ms)
    m = t * speed + map_offset_ms
    n = len(time)
    first = np.searchsorted(time, m, side="left")
    kinds = np.array(OBJECT_KINDS, dtype=object)
    cols = {}

    def pick(values, idx, valid):
        out = np.full(len(t), np.nan)
        out[valid] = values[idx[valid]]
        return out

    for j in range(n_upcoming):
        idx = first + j
        valid = idx < n
        valid[valid] &= time[idx[valid]] - preempt <= m[valid]
        cols[f"obj{j}_dt_ms"] = (pick(time, idx, valid) - m) / speed
        cols[f"obj{j}_x"] = pick(x, idx, valid)
        cols[f"obj{j}_y"] = pick(y, idx, valid)
        k = np.full(len(t), len(OBJECT_KINDS) - 1)
        k[valid] = kind[idx[valid]]
        cols[f"obj{j}_kind"] = kinds[k]
        cols[f"obj{j}_end_dt_ms"] = (pick(end_time, idx, valid) - m) / speed
        cols[f"obj{j}_end_x"] = pick(end_x, idx, valid)
        cols[f"obj{j}_end_y"] = pick(end_y, idx, valid)
    idx = first - 1
    valid = idx >= 0
    cols["prev_dt_ms"] = (m - pick(time, idx, valid)) / speed
    cols["prev_x"] = pick(x, idx, valid)
    cols["prev_y"] = pick(y, idx, valid)
    cols["approach_ms"] = np.full(len(t), preempt / speed)
    cols["circle_radius"] = np.full(len(t), circle_radius(cs))
    cols["hit_window_ms"] = np.full(len(t), hit_window_50_ms(od) / speed)
    return State(t_ms=t, columns={name: cols[name] for name in STATE_COLUMN_NAMES})




# --------------------------------------------------------------------------- export


GENERATED_PLAYER = "actiongen"


def _beatmap_md5(session, data):
    known = (session.extra.get("beatmap_md5") or "").lower()
    return known if known in md5_variants(data) else hashlib.md5(data).hexdigest()


def session_to_replay(session, beatmap_path, player=None, timestamp=None):
    """An osu!std session as a :class:`~actiongen_keras.recordings.importers.osu_replay.Replay`.

    The inverse of :func:`convert_play`: wall-clock ``t_ms`` back to map time
    (``t_ms * time_scale + map_time_offset_ms``: DT/NC/HT applied back), positions as
    recorded (HR included: osu! writes the cursor unflipped), key bits from the events
    (:func:`~actiongen_keras.recordings.importers.osu_replay.std_frames`). Header: the MD5
    of ``beatmap_path``'s bytes (or the session's own ``beatmap_md5`` when it names the same
    map with other line ends, see ``md5_variants``), the session's mods, ``player`` (default: the session's
    player, or ``"actiongen"`` for a generated session) and zero counts (the caller judges
    them, see :func:`actiongen_keras.evaluation.osu_circleguard.export_replay`).

    Events osu!std frames cannot hold are left out: scrolls, keys other than k1/k2 and
    buttons other than left/right; a move to the position the cursor already had.
    """
    if session.extra.get("mode", "osu!std") != "osu!std" or tuple(session.screen) != tuple(SCREEN):
        raise FormatError(session.path or session.session_id, f"not an osu!std session (mode {session.extra.get('mode')!r}, "
                          f"screen {session.screen[0]}x{session.screen[1]}; osu!std is on the 512x384 playfield)")
    if len(session.events) == 0:
        raise FormatError(session.path or session.session_id, "no events to write")
    try:
        data = Path(beatmap_path).read_bytes()
    except OSError as e:
        raise FormatError(beatmap_path, f"cannot read beatmap ({e.__class__.__name__}: {e})") from None
    names = session.extra.get("mods") or []
    mods = mods_from_names("".join(names) if isinstance(names, (list, tuple)) else str(names))
    speed = float(session.time_scale or speed_of(mods))
    offset = float(session.extra.get("map_time_offset_ms", 0.0))
    ev = session.events
    t, x, y, keys = std_frames(ev.t_ms * speed + offset, ev)
    frames = Frames(t_ms=t, x=x, y=y, keys=keys, number=np.arange(1, len(t) + 1))
    if player is None:
        player = GENERATED_PLAYER if session.source == "generated" else (session.extra.get("player") or GENERATED_PLAYER)
    if timestamp is None:  # .NET ticks (100 ns since 0001-01-01), as osu! writes them
        timestamp = int((time.time() + 62135596800) * 1e7)
    text = frames_text(frames).encode("ascii")
    return Replay(
        path="", mode=0, version=WRITE_VERSION, beatmap_md5=_beatmap_md5(session, data), player=str(player),
        replay_md5=hashlib.md5(text).hexdigest(), counts={k: 0 for k in ("n300", "n100", "n50", "ngeki", "nkatu", "nmiss")},
        score=0, max_combo=0, perfect=False, mods=mods, life_bar="", timestamp=timestamp, frames=frames, online_id=0,
    )


__all__ = [
    "import_folder", "convert_play", "build_state", "session_to_replay", "STATE_COLUMN_NAMES", "STATE_COLUMNS", "N_UPCOMING",
    "STATE_STEP_MS", "OBJECT_KINDS",
]
