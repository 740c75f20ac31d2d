"""Import the Old School RuneScape desktop recorder layout into ``actiongen-session/1``.

Layout of one recording (a folder; ``import_folder`` takes that folder or a folder of them)::

    actions.csv               timestamp,event_type,x_in_window,y_in_window,btn,key,scroll_dx,scroll_dy
    gamestates/<epoch_ms>.json  optional: one game-state snapshot per 600 ms tick
    recording.json            optional: {"start_epoch_ms": ..., "subject": ..., "screen": {"width", "height"}}

``actions.csv`` (pynput-based recorder; extra columns such as ``modifiers`` are ignored):

* Rows are **not** in time order: the recorder writes mouse and keyboard events from two
  queues. Sorting them is part of reading this layout (not a repair); the number of rows
  moved is reported in the summary notes.
* ``click`` is logged on press only (the recorder never logs mouse releases), so each click
  becomes a ``press`` and a ``release`` at the same time (noted in the summary).
* ``key_press``/``key_release`` -> ``key_down``/``key_up``; key names lower case, pynput's
  ``Key.`` prefix and quotes removed, left/right modifiers merged (``shift_r`` -> ``shift``).
* ``scroll``: pynput reports ``dy > 0`` for the wheel turned *up*; the format counts down as
  positive, so ``scroll_dy = -dy`` (``scroll_dx = dx``, right positive in both).
* Key events are logged at (0, 0); per the format they carry the last known cursor
  position (the first known one before any mouse event). Scrolls logged at (0, 0) likewise.
* Timestamps are ms; epoch ms (>= 1e11) or relative ms both work.
* Screen: ``recording.json``'s ``screen`` if given, else the observed extent of the cursor
  positions (``max + 1``).
* ``subject``: ``recording.json``'s ``subject`` if given, else ``osrs-unknown``: recordings of
  unknown people share one subject, so person-disjoint splits stay disjoint.

Game-state time (``gamestates/<epoch_ms>.json`` names are Unix epoch ms), mapped onto the
actions' clock by the first rule that applies:

1. the action timestamps are epoch ms themselves: same clock, used as they are;
2. ``recording.json`` gives ``start_epoch_ms``, the epoch of action timestamp 0:
   ``state time = epoch_ms - start_epoch_ms``;
3. otherwise the first game state is aligned to the first action (an assumption, noted).

``t_ms = 0`` is the earliest event or game state.

Game state JSON (per tick) is flattened into fixed state columns by the declared
:data:`STATE_SCHEMA`: a list of ``(json path, column name, kind)``. Paths are dot-separated
keys and list indices; the lists in :data:`SORTED_LISTS` are sorted nearest first before
indexing, so ``npcs.0`` is the nearest NPC. A missing value is NaN (numeric), ``""``
(categorical) or false (bool). A value of the wrong type is an error in strict mode and is
cleared (with a count) in repair mode. The JSON a tick holds::

    {"tick": 5012,
     "player": {"world_x", "world_y", "plane", "animation", "animation_name", "is_moving",
                "orientation", "health", "max_health", "run_energy"},
     "camera": {"x", "y", "z", "pitch", "yaw", "scale"},
     "inventory": [{"id", "quantity", "name"}, ...]        28 slots in slot order, id -1 = empty
     "bank": {"open", "items": [{"id", "quantity", "name"}, ...]},
     "game_objects": [{"id", "name", "x", "y", "distance"}, ...],
     "npcs": [{"id", "name", "x", "y", "distance"}, ...],
     "skills": {"attack": {"level", "xp"}, ...}}
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError
from actiongen_keras.recordings.importers.base import run_import, safe_id
from actiongen_keras.recordings.importers.tables import (
    MAX_ABS,
    carry_position,
    drop_bad_rows,
    empty_check,
    lookup,
    observed_screen,
    parse_numbers,
    read_source_text,
)
from actiongen_keras.recordings.session import (
    Events,
    RepairReport,
    Session,
    State,
    validate_events,
)

SOURCE = "osrs"
GAME = "osrs"
PROVENANCE = (
    "Old School RuneScape desktop recorder (pynput mouse/keyboard + RuneLite game-state export) "
    "of the imitation-learning project this work descends from; recorded by one player."
)
DEFAULT_SUBJECT = "osrs-unknown"
COLUMNS = ("timestamp", "event_type", "x_in_window", "y_in_window", "btn", "key", "scroll_dx", "scroll_dy")
EVENT_TYPES = {"move": "move", "click": "press", "key_press": "key_down", "key_release": "key_up", "scroll": "scroll"}
MOUSE_BUTTONS = {"left": "left", "right": "right", "middle": "middle", "x1": "x1", "x2": "x2"}
KEY_ALIASES = {
    " ": "space", "return": "enter", "escape": "esc",
    "shift_l": "shift", "shift_r": "shift", "ctrl_l": "ctrl", "ctrl_r": "ctrl",
    "alt_l": "alt", "alt_r": "alt", "alt_gr": "altgr", "cmd_l": "cmd", "cmd_r": "cmd",  # altgr: the key of generation/layouts.py
}
EPOCH_MS_MIN = 1e11  # timestamps at least this large are Unix epoch ms (after 1973)

N_INVENTORY = 28
N_BANK = 10
N_NEARBY = 5
SKILLS = (
    "attack", "defence", "strength", "hitpoints", "ranged", "prayer", "magic", "cooking",
    "woodcutting", "fletching", "fishing", "firemaking", "crafting", "smithing", "mining",
    "herblore", "agility", "thieving", "slayer", "farming", "runecraft", "hunter", "construction",
)
SORTED_LISTS = {"npcs": "distance", "game_objects": "distance"}

STATE_SCHEMA = [
    ("player.world_x", "player_x", "numeric"),
    ("player.world_y", "player_y", "numeric"),
    ("player.plane", "player_plane", "numeric"),
    ("player.animation", "player_animation", "categorical"),
    ("player.animation_name", "player_animation_name", "categorical"),
    ("player.is_moving", "player_moving", "bool"),
    ("player.orientation", "player_orientation", "numeric"),
    ("player.health", "player_health", "numeric"),
    ("player.max_health", "player_max_health", "numeric"),
    ("player.run_energy", "player_run_energy", "numeric"),
    *[(f"camera.{k}", f"camera_{k}", "numeric") for k in ("x", "y", "z", "pitch", "yaw", "scale")],
    *[
        entry
        for i in range(N_INVENTORY)
        for entry in ((f"inventory.{i}.id", f"inv{i}_id", "categorical"), (f"inventory.{i}.quantity", f"inv{i}_qty", "numeric"))
    ],
    ("bank.open", "bank_open", "bool"),
    *[
        entry
        for i in range(N_BANK)
        for entry in ((f"bank.items.{i}.id", f"bank{i}_id", "categorical"), (f"bank.items.{i}.quantity", f"bank{i}_qty", "numeric"))
    ],
    *[
        (f"{lst}.{i}.{field}", f"{prefix}{i}_{col}", kind)
        for lst, prefix in (("game_objects", "obj"), ("npcs", "npc"))
        for i in range(N_NEARBY)
        for field, col, kind in (
            ("id", "id", "categorical"),
            ("name", "name", "categorical"),
            ("x", "x", "numeric"),
            ("y", "y", "numeric"),
            ("distance", "dist", "numeric"),
        )
    ],
    *[(f"skills.{s}.{f}", f"skill_{s}_{f}", "numeric") for s in SKILLS for f in ("level", "xp")],
]
STATE_COLUMNS = [{"name": name, "kind": kind} for _, name, kind in STATE_SCHEMA]

_TICK_NAME = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- game state


def _json_error(path, e):
    """A FormatError for what ``json.loads`` raised."""
    if isinstance(e, json.JSONDecodeError):
        return FormatError(path, f"invalid JSON ({e.msg})", line=e.lineno)
    if isinstance(e, RecursionError):
        return FormatError(path, "invalid JSON (nested too deeply)")
    return FormatError(path, f"invalid JSON ({str(e)[:80]})")


def _read_json_object(path):
    """A JSON file that must hold one object, or a FormatError naming the file and line."""
    try:
        value = json.loads(read_source_text(path))
    except (ValueError, RecursionError) as e:
        raise _json_error(path, e) from None
    if not isinstance(value, dict):
        raise FormatError(path, "must hold a JSON object")
    return value


def _nearest_first(items, key):
    """``items`` sorted by numeric ``key`` (entries without one go last, in their order)."""

    def dist(item):
        v = item.get(key) if isinstance(item, dict) else None
        return (0, float(v)) if _plain_number(v) else (1, 0.0)

    return sorted(items, key=dist)


def _resolve(obj, path):
    """The value at dot-separated ``path`` in ``obj``, or ``None`` when any step is absent."""
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def _convert(value, kind):
    """A JSON value as the column kind wants it; raises ValueError with the reason."""
    if value is None:
        return {"numeric": np.nan, "categorical": "", "bool": 0.0}[kind]
    if kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{str(value)[:40]!r} is not a number")
        try:
            value = float(value)
        except OverflowError:
            raise ValueError("number too large") from None
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        if abs(value) > MAX_ABS:
            raise ValueError(f"out of range (|value| > {MAX_ABS:g})")
        return value
    if kind == "bool":
        if isinstance(value, bool) or value in (0, 1):
            return float(value)
        raise ValueError(f"{str(value)[:40]!r} is not a bool")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"a {type(value).__name__} is not a category")


def flatten_gamestate(state, path, repair, report):
    """One tick's JSON object -> ``{column name: value}`` by :data:`STATE_SCHEMA`."""
    state = dict(state)
    for lst, key in SORTED_LISTS.items():
        if isinstance(state.get(lst), list):
            state[lst] = _nearest_first(state[lst], key)
    row = {}
    for json_path, name, kind in STATE_SCHEMA:
        try:
            row[name] = _convert(_resolve(state, json_path), kind)
        except ValueError as e:
            if not repair:
                raise FormatError(path, str(e), field=json_path) from None
            report.add("gamestates", f"cleared value: {json_path}: {e}", 1)
            row[name] = _convert(None, kind)
    return row


def read_gamestates(folder, repair=False, report=None):
    """Read ``folder/*.json`` ticks, sorted by their epoch-ms names.

    Returns:
        ``(epoch_ms, columns)``: a float array and ``{column name: array}`` per
        :data:`STATE_COLUMNS`. Bad ticks (invalid JSON, not an object, a name that is not
        epoch ms) raise :class:`FormatError` in strict mode and are dropped and counted
        in repair mode.
    """
    folder = Path(folder)
    report = report if report is not None else RepairReport(path=str(folder))
    files = sorted((p for p in folder.glob("*.json") if p.is_file()), key=lambda p: (len(p.stem), p.stem))
    epochs, rows = [], []
    for p in files:
        try:
            if not _TICK_NAME.fullmatch(p.stem) or float(p.stem) > MAX_ABS:
                raise FormatError(p, "game-state file name is not epoch milliseconds (<digits>.json)")
            state = _read_json_object(p)
            rows.append(flatten_gamestate(state, p, repair, report))
            epochs.append(float(p.stem))
        except FormatError as e:
            if not repair:
                raise
            report.add("gamestates", f"dropped tick: {e.reason}", 1)
    columns = {}
    for c in STATE_COLUMNS:
        values = [r[c["name"]] for r in rows]
        columns[c["name"]] = np.array(values, dtype=object if c["kind"] == "categorical" else np.float64)
    return np.array(epochs, dtype=np.float64), columns


# --------------------------------------------------------------------------- actions


def _read_actions_table(path, repair, report):
    """``actions.csv`` (written by Python's csv module, so quoted cells are possible)."""
    text = read_source_text(path).replace("\r\n", "\n")
    try:
        reader = csv.reader(io.StringIO(text))
        header = [h.strip() for h in next(reader)]
        rows, lines = [], []
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise FormatError(path, f"not readable as CSV ({e})", line=reader.line_num) from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise FormatError(path, f"header lacks column(s) {missing}; expected {','.join(COLUMNS)}", line=1)
    lines = np.array(lines, dtype=np.int64)
    good = np.array([len(r) == len(header) for r in rows], dtype=bool)
    if not good.all():
        if not repair:
            i = int(np.flatnonzero(~good)[0])
            raise FormatError(path, f"has {len(rows[i])} fields, header has {len(header)}", line=int(lines[i]))
        report.add(path.name, "dropped row: wrong number of fields", int((~good).sum()), lines[~good][:5])
        rows = [r for r, g in zip(rows, good) if g]
        lines = lines[good]
    fields = list(zip(*rows)) if rows else [()] * len(header)
    return {c: np.array(fields[header.index(c)], dtype=str) for c in COLUMNS}, lines


def _key_name(raw):
    """A recorder key cell as a format key name (``None`` when there is none)."""
    key = raw.strip() or raw
    if len(key) >= 3 and key[0] == key[-1] and key[0] in "'\"":
        key = key[1:-1]  # pynput's repr of a character key: 'a'
    if key.lower().startswith("key."):
        key = key[4:]
    key = key.lower()
    return KEY_ALIASES.get(key, key.strip()) or None


def _button_name(raw):
    """A recorder ``btn`` cell (``left``, ``Button.left``, ...) as a format button, or ``None``."""
    return MOUSE_BUTTONS.get(raw.strip().lower().removeprefix("button."))


def _names(values, name_of):
    """``name_of`` applied to each unique value: ``(names, known)`` as :func:`lookup` returns."""
    table = {}
    for v in np.unique(values).tolist():
        name = name_of(v)
        if name is not None:
            table[v] = name
    return lookup(values, table)


def _plain_number(value):
    """Whether a JSON value is a number (not a bool) of magnitude at most :data:`MAX_ABS`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return abs(float(value)) <= MAX_ABS
    except OverflowError:
        return False


def _read_recording_json(folder):
    path = Path(folder) / "recording.json"
    if not path.exists():
        return {}
    meta = _read_json_object(path)
    start = meta.get("start_epoch_ms")
    if start is not None and not _plain_number(start):
        raise FormatError(path, f"must be a number, got {start!r}", field="start_epoch_ms")
    subject = meta.get("subject")
    if subject is not None and (not isinstance(subject, str) or not subject):
        raise FormatError(path, f"must be a non-empty string, got {subject!r}", field="subject")
    screen = meta.get("screen")
    if screen is not None:
        ok = isinstance(screen, dict) and all(
            isinstance(screen.get(k), int) and not isinstance(screen.get(k), bool) and screen.get(k) > 0
            for k in ("width", "height")
        )
        if not ok:
            raise FormatError(path, f"must be {{width: int > 0, height: int > 0}}, got {screen!r}", field="screen")
    return meta


def read_osrs(folder, repair=False, session_id=None):
    """Convert one recording folder (``actions.csv`` [+ ``gamestates/``] [+ ``recording.json``]).

    Returns:
        ``(session, report, notes)``: notes (strings) count the rows sorted, the clicks
        expanded to press + release and say how game-state time was aligned.

    Raises:
        FormatError: naming the file, line (or JSON field) and reason.
    """
    folder = Path(folder)
    path = folder / "actions.csv"
    report = RepairReport(path=str(folder))
    meta = _read_recording_json(folder)
    session_id = session_id or safe_id(f"{SOURCE}-{folder.name}")
    notes = []

    cols, lines = _read_actions_table(path, repair, report)
    problems = {}
    ts = parse_numbers(cols["timestamp"], "timestamp", problems)
    typ, known = lookup(cols["event_type"], EVENT_TYPES)
    for i in np.flatnonzero(~known):
        problems.setdefault(int(i), ("event_type", f"unknown event type {cols['event_type'][i][:40]!r}"))
    is_click, is_scroll = typ == "press", typ == "scroll"
    is_key = (typ == "key_down") | (typ == "key_up")
    positional = (typ == "move") | is_click

    def numbers(name, rows):  # parse a column; its problems count only on ``rows``
        found = {}
        out = parse_numbers(cols[name], name, found)
        for i, why in found.items():
            if rows[i]:
                problems.setdefault(i, why)
        return out

    x = numbers("x_in_window", positional | is_scroll)
    y = numbers("y_in_window", positional | is_scroll)
    sdx = numbers("scroll_dx", is_scroll)
    sdy = numbers("scroll_dy", is_scroll)
    with np.errstate(invalid="ignore"):
        odd = (sdx != np.round(sdx)) | (sdy != np.round(sdy)) | (np.abs(sdx) > 1000) | (np.abs(sdy) > 1000)
    for i in np.flatnonzero(is_scroll & np.isfinite(sdx) & np.isfinite(sdy) & odd):
        problems.setdefault(int(i), ("scroll_dy", "not a whole number of notches (0 to 1000)"))
    button, known = _names(cols["btn"], _button_name)
    for i in np.flatnonzero(is_click & ~known):
        problems.setdefault(int(i), ("btn", f"{cols['btn'][i][:40]!r} is not a mouse button"))
    key, known = _names(cols["key"], _key_name)
    for i in np.flatnonzero(is_key & ~known):
        problems.setdefault(int(i), ("key", "key_press/key_release needs a key name"))

    keep = drop_bad_rows(problems, len(ts), path, lines, repair, report)
    empty_check(int(keep.sum()), path)
    # The documented layout: two queues written into one file. Sort (stable) by time.
    order = np.flatnonzero(keep)[np.argsort(ts[keep], kind="stable")]
    moved = int((order != np.sort(order)).sum())
    if moved:
        notes.append(f"{moved} rows of actions.csv out of time order (two recorder queues): sorted")
    ts, typ, x, y, sdx, sdy, button, key, lines = (a[order] for a in (ts, typ, x, y, sdx, sdy, button, key, lines))
    is_click, is_scroll = typ == "press", typ == "scroll"
    is_key = (typ == "key_down") | (typ == "key_up")

    # A click is logged on press only: emit press + release at the same time.
    rep = np.where(is_click, 2, 1)
    src = np.repeat(np.arange(len(ts)), rep)
    second = np.r_[False, src[1:] == src[:-1]]
    ts, typ, x, y, sdx, sdy, button, key, lines = (a[src] for a in (ts, typ, x, y, sdx, sdy, button, key, lines))
    typ = typ.copy()
    typ[second] = "release"
    if is_click.any():
        notes.append(f"{int(is_click.sum())} clicks logged as presses only: each written as press + release at the same time")

    # Key events (and scrolls logged at 0,0) carry the last known cursor position.
    is_btn = (typ == "press") | (typ == "release")
    is_scroll, is_key = typ == "scroll", (typ == "key_down") | (typ == "key_up")
    has_pos = (typ == "move") | is_btn | (is_scroll & ~((x == 0) & (y == 0)))
    x, y = carry_position(x, y, has_pos)

    screen = observed_screen(x[has_pos], y[has_pos])
    if meta.get("screen"):
        screen = (meta["screen"]["width"], meta["screen"]["height"])

    # Game state, mapped onto the actions' clock.
    state = None
    gs_folder = folder / "gamestates"
    state_t = np.empty(0)
    if gs_folder.is_dir():
        epochs, state_cols = read_gamestates(gs_folder, repair, report)
        if len(epochs):
            if ts.min() >= EPOCH_MS_MIN:
                state_t = epochs
            elif meta.get("start_epoch_ms") is not None:
                state_t = epochs - float(meta["start_epoch_ms"])
            else:
                state_t = epochs - epochs[0] + ts.min()
                notes.append("game state time: no start epoch known; first game state aligned to the first action")
            state = State(t_ms=state_t, columns=state_cols)
    origin = min(ts.min(), state_t.min()) if len(state_t) else ts.min()
    if state is not None:
        state.t_ms = np.round(state.t_ms - origin, 3)

    events = Events.from_columns(
        t_ms=np.round(ts - origin, 3),
        type=typ,
        x=x,
        y=y,
        button=np.where(is_btn, button, "").astype(object),
        key=np.where(is_key, key, "").astype(object),
        scroll_dx=np.where(is_scroll, sdx, 0).astype(np.int64),
        scroll_dy=np.where(is_scroll, -sdy, 0).astype(np.int64),
    )
    events, report = validate_events(events, screen, path, "repair" if repair else "strict", lines=lines, report=report)
    empty_check(len(events), path)
    session = Session(
        session_id=session_id,
        source=SOURCE,
        subject=meta.get("subject") or DEFAULT_SUBJECT,
        screen=screen,
        events=events,
        game=GAME if state is not None else None,
        state_columns=STATE_COLUMNS if state is not None else None,
        state=state,
        provenance=PROVENANCE,
    )
    return session, report, notes


def import_folder(in_dir, out_dir, repair=False, progress=True):
    """Import every recording folder (one holding ``actions.csv``) under ``in_dir``.

    ``session_id`` is ``osrs-<path of the folder below in_dir, or its name>``.
    Returns the :class:`~actiongen_keras.recordings.importers.base.ImportSummary`.
    """
    in_dir = Path(in_dir)
    folders = sorted(p.parent for p in in_dir.rglob("actions.csv") if p.is_file())
    items = []
    for f in folders:
        rel = f.relative_to(in_dir)
        label = str(rel) if str(rel) != "." else f.name
        items.append((label, (f, safe_id(f"{SOURCE}-{label.replace('/', '-')}"), label)))

    def convert(item, summary):
        folder, session_id, label = item
        session, report, notes = read_osrs(folder, repair=repair, session_id=session_id)
        summary.notes.extend((label, n) for n in notes)
        if session.subject == DEFAULT_SUBJECT:
            summary.notes.append((label, f"no recording.json subject: subject '{DEFAULT_SUBJECT}'"))
        yield session, report

    return run_import(SOURCE, items, convert, out_dir, progress)
