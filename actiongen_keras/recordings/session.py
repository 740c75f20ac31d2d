"""Read and write the ``actiongen-session/1`` interchange format.

A session is a folder with ``session.json``, ``events.csv[.gz]`` and optionally
``state.csv[.gz]`` (see ``shared/spec/recording-format.md``, mirrored in the README).

Two reading modes:

* ``strict`` (default): the first problem rejects the session with a
  :class:`~actiongen_keras.errors.FormatError` naming the file, the line and the reason.
* ``repair``: fixable problems are fixed (rows sorted by time, bad rows dropped) and every
  change is counted in a :class:`RepairReport`. Nothing is dropped without a count.

Strict rejects only what cannot be read or breaks the format: unparsable or non-finite
numbers, numbers beyond the sane bounds below, unknown types, missing fields, time going
backwards. Values that are unusual but real are kept in both modes and counted by
:func:`event_notes`: positions off the screen (a second monitor, a window-relative recorder,
a cursor that leaves the game window; marked ``offscreen``), fractions of a scroll notch
(touchpads, smooth scrolling) and scroll events of zero notches.

Events are held column-wise in NumPy arrays, so windowing and statistics are vectorised.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import math
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError

FORMAT = "actiongen-session/1"
EVENT_COLUMNS = ("t_ms", "type", "x", "y", "button", "key", "scroll_dx", "scroll_dy")
EVENT_TYPES = ("move", "press", "release", "scroll", "key_down", "key_up")
BUTTONS = ("left", "right", "middle", "x1", "x2")
STATE_KINDS = ("numeric", "categorical", "bool")
#: Optional ``"role"`` of a numeric state column that belongs to an ``"anchor"`` (an on-screen
#: point): ``x``/``y`` in screen pixels, ``dt_ms`` wall ms from the snapshot to its moment.
ANCHOR_ROLES = ("x", "y", "dt_ms")
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")
# Positions further than this (a fraction of the screen) outside the screen are marked
# ``offscreen`` (kept; the data side gives them no position target).
OFFSCREEN_MARGIN = 0.5
#: Sane bounds. No real recording comes near them (osu! writes ~14,000 px for an unfocused
#: window, balabit a 65,535 sentinel); a value beyond one is a broken number (1e308, an
#: overflow) that would break windowing, so strict rejects it and repair drops the row.
MAX_T_MS = 1e10  # t_ms in [0, MAX_T_MS]: about 116 days
MAX_ABS_POSITION_PX = 1e6
MAX_ABS_SCROLL_NOTCHES = 1e4

_BUTTON_EVENTS = ("press", "release")
_KEY_EVENTS = ("key_down", "key_up")


@dataclasses.dataclass
class RepairReport:
    """Every change a repairing read made, counted per kind of change.

    ``changes`` maps ``(file name, kind of change)`` to a count; ``examples`` keeps the
    first few affected line numbers of each, so a person can look.
    """

    path: str = ""
    changes: Counter = dataclasses.field(default_factory=Counter)
    examples: dict = dataclasses.field(default_factory=dict)

    def add(self, file, what, count=1, lines=()):
        if count <= 0:
            return
        key = (file, what)
        self.changes[key] += int(count)
        ex = self.examples.setdefault(key, [])
        for line in lines:
            if len(ex) >= 5:
                break
            ex.append(int(line))

    def merge(self, other):
        for key, count in other.changes.items():
            self.add(key[0], key[1], count, other.examples.get(key, ()))

    @property
    def total(self):
        return sum(self.changes.values())

    def lines(self):
        """One human-readable line per kind of change."""
        out = []
        for (file, what), count in sorted(self.changes.items()):
            ex = self.examples.get((file, what))
            at = f" (e.g. line {', '.join(map(str, ex))})" if ex else ""
            prefix = f"{self.path}/" if self.path else ""
            out.append(f"{prefix}{file}: {what}: {count}{at}")
        return out

    def __bool__(self):
        return self.total > 0


@dataclasses.dataclass
class Events:
    """Input events, one NumPy array per column of ``events.csv``.

    ``offscreen`` marks positions found far outside the screen (kept, not moved). Scroll
    notches are floats: fractions of a notch are real (touchpads, smooth scrolling).
    """

    t_ms: np.ndarray
    type: np.ndarray
    x: np.ndarray
    y: np.ndarray
    button: np.ndarray
    key: np.ndarray
    scroll_dx: np.ndarray
    scroll_dy: np.ndarray
    offscreen: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.t_ms)
        self.t_ms = np.asarray(self.t_ms, dtype=np.float64)
        self.x = np.asarray(self.x, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        self.scroll_dx = np.asarray(self.scroll_dx, dtype=np.float64)
        self.scroll_dy = np.asarray(self.scroll_dy, dtype=np.float64)
        self.type = np.asarray(self.type, dtype=object)
        self.button = np.asarray(self.button, dtype=object)
        self.key = np.asarray(self.key, dtype=object)
        if self.offscreen is None:
            self.offscreen = np.zeros(n, dtype=bool)
        self.offscreen = np.asarray(self.offscreen, dtype=bool)
        for f in dataclasses.fields(self):
            if len(getattr(self, f.name)) != n:
                raise ValueError(f"Events column '{f.name}' has {len(getattr(self, f.name))} rows, t_ms has {n}")

    def __len__(self):
        return len(self.t_ms)

    @classmethod
    def empty(cls):
        return cls.from_columns(t_ms=[], type=[])

    @classmethod
    def from_columns(cls, t_ms, type, x=None, y=None, button=None, key=None, scroll_dx=None, scroll_dy=None):
        """Build events from columns; missing columns get their neutral value."""
        n = len(t_ms)

        def fill(v, value, dtype):
            return np.full(n, value, dtype=dtype) if v is None else v

        return cls(
            t_ms=t_ms,
            type=type,
            x=fill(x, 0.0, np.float64),
            y=fill(y, 0.0, np.float64),
            button=fill(button, "", object),
            key=fill(key, "", object),
            scroll_dx=fill(scroll_dx, 0.0, np.float64),
            scroll_dy=fill(scroll_dy, 0.0, np.float64),
        )

    def take(self, index):
        """Rows ``index`` (a boolean mask or integer indices) as new Events."""
        return Events(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    @staticmethod
    def concatenate(parts):
        parts = [p for p in parts if p is not None]
        if not parts:
            return Events.empty()
        return Events(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(Events)})

    def sorted(self):
        """Stably sorted by time (events of equal time keep their order)."""
        return self.take(np.argsort(self.t_ms, kind="stable"))


@dataclasses.dataclass
class State:
    """Game-state snapshots: ``t_ms`` and one array per state column (``session.state_columns`` order)."""

    t_ms: np.ndarray
    columns: dict

    def __len__(self):
        return len(self.t_ms)


@dataclasses.dataclass
class Session:
    """One recording in memory.

    Attributes mirror ``session.json``; ``extra`` keeps keys this version does not know,
    so reading and writing never loses them.
    """

    session_id: str
    source: str
    subject: str
    screen: tuple
    events: Events
    game: str | None = None
    state_columns: list | None = None
    state: State | None = None
    time_scale: float | None = None
    provenance: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    path: str | None = None

    @property
    def duration_ms(self):
        return float(self.events.t_ms[-1] - self.events.t_ms[0]) if len(self.events) else 0.0

    def metadata(self):
        meta = {
            "format": FORMAT,
            "session_id": self.session_id,
            "source": self.source,
            "subject": self.subject,
            "screen": {"width": int(self.screen[0]), "height": int(self.screen[1])},
            "game": self.game,
        }
        if self.state_columns:
            meta["state_columns"] = [dict(c) for c in self.state_columns]
        if self.time_scale is not None:
            meta["time_scale"] = float(self.time_scale)
        if self.provenance is not None:
            meta["provenance"] = self.provenance
        for k, v in self.extra.items():
            meta.setdefault(k, v)
        return meta


# --------------------------------------------------------------------------- reading


def _open_text(path):
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise FormatError(path, f"cannot read file ({e.__class__.__name__}: {e})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FormatError(path, f"not UTF-8 text ({e.reason})", line=line) from None


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        p = Path(folder) / name
        if p.exists() or p.is_symlink():  # a broken or looping link is found, then fails to open with its reason
            return p
    return None


def _read_csv(path):
    """Header and rows of a CSV file; raises FormatError on empty files."""
    text = _open_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as e:
        raise FormatError(path, f"not valid CSV ({e})", line=reader.line_num) from None
    if not rows or not rows[0]:
        raise FormatError(path, "empty file (no header)", line=1)
    return [h.strip() for h in rows[0]], rows[1:]


def _whole_rows(rows, width, path, repair, report):
    """Rows with the header's number of fields, and their line numbers.

    A row with another count (a blank line included) is bad as a whole: an error in
    strict mode, dropped and counted in repair mode.
    """
    good, lines = [], []
    for i, r in enumerate(rows):
        if len(r) != width:
            if not repair:
                raise FormatError(path, f"has {len(r)} fields, header has {width}", line=i + 2)
            report.add(Path(path).name, "dropped row: wrong number of fields", 1, [i + 2])
            continue
        good.append(r)
        lines.append(i + 2)
    return good, np.array(lines, dtype=np.int64)


def _float_column(values, path, field, first_line, bad):
    """Parse a column of strings to float64; unparsable cells are NaN and recorded in ``bad``."""
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except ValueError:
                out[i] = np.nan
                bad.setdefault(i, (field, f"'{v}' is not a number"))
        return out


def _check_metadata(meta, path):
    def need(key, types, what):
        if key not in meta:
            raise FormatError(path, f"missing required key '{key}'", field=key)
        if not isinstance(meta[key], types):
            raise FormatError(path, f"must be {what}, got {meta[key]!r}", field=key)
        return meta[key]

    if meta.get("format") != FORMAT:
        raise FormatError(path, f"format must be '{FORMAT}', got {meta.get('format')!r}", field="format")
    sid = need("session_id", str, "a string")
    if not SESSION_ID_RE.match(sid):
        raise FormatError(path, f"session_id {sid!r} must match [A-Za-z0-9._-]+", field="session_id")
    need("source", str, "a string")
    subject = need("subject", str, "a string")
    if not subject:
        raise FormatError(path, "subject must not be empty", field="subject")
    screen = need("screen", dict, "an object {width, height}")
    for k in ("width", "height"):
        v = screen.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0 or v != int(v):
            raise FormatError(path, f"screen.{k} must be a positive integer, got {v!r}", field=f"screen.{k}")
    game = meta.get("game")
    if game is not None and not isinstance(game, str):
        raise FormatError(path, f"game must be a string or null, got {game!r}", field="game")
    cols = meta.get("state_columns")
    if cols is not None:
        if not isinstance(cols, list):
            raise FormatError(path, "state_columns must be a list", field="state_columns")
        seen = set()
        for i, c in enumerate(cols):
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or c.get("kind") not in STATE_KINDS:
                raise FormatError(
                    path, f"state_columns[{i}] must be {{name: str, kind: one of {STATE_KINDS}}}, got {c!r}", field="state_columns"
                )
            if c["name"] in seen or c["name"] == "t_ms":
                raise FormatError(path, f"state_columns[{i}]: duplicate or reserved name {c['name']!r}", field="state_columns")
            seen.add(c["name"])
            if "anchor" in c or "role" in c:
                if not isinstance(c.get("anchor"), str) or not c["anchor"] or c.get("role") not in ANCHOR_ROLES or c["kind"] != "numeric":
                    raise FormatError(
                        path, f"state_columns[{i}] ({c['name']}): an anchor column needs a numeric kind, a non-empty 'anchor' name and "
                        f"'role' one of {ANCHOR_ROLES}, got {c!r}", field="state_columns",
                    )
    ts = meta.get("time_scale")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, (int, float)) or not ts > 0 or not math.isfinite(ts)):
        raise FormatError(path, f"time_scale must be a positive number, got {ts!r}", field="time_scale")


def read_metadata(folder):
    """``session.json`` of a session folder, checked."""
    path = Path(folder) / "session.json"
    if not path.exists():
        raise FormatError(path, "missing session.json")
    text = _open_text(path)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(path, f"invalid JSON ({e.msg})", line=e.lineno) from None
    if not isinstance(meta, dict):
        raise FormatError(path, "must hold a JSON object")
    _check_metadata(meta, path)
    return meta


def _read_events(path, screen, repair, report):
    header, rows = _read_csv(path)
    missing = [c for c in EVENT_COLUMNS if c not in header]
    if missing:
        raise FormatError(path, f"header lacks column(s) {missing}; expected {','.join(EVENT_COLUMNS)}", line=1)
    idx = {c: header.index(c) for c in EVENT_COLUMNS}
    off_idx = header.index("offscreen") if "offscreen" in header else None
    width = len(header)
    good_rows, lines = _whole_rows(rows, width, path, repair, report)
    bad = {}  # row index -> (field, reason)
    cols = list(zip(*good_rows)) if good_rows else [()] * width

    def col(c):
        return list(cols[idx[c]]) if good_rows else []

    t = _float_column(col("t_ms"), path, "t_ms", 2, bad)
    x = _float_column(col("x"), path, "x", 2, bad)
    y = _float_column(col("y"), path, "y", 2, bad)
    sdx = _float_column([v or "0" for v in col("scroll_dx")], path, "scroll_dx", 2, bad)
    sdy = _float_column([v or "0" for v in col("scroll_dy")], path, "scroll_dy", 2, bad)
    typ = np.array([v.strip() for v in col("type")], dtype=object)
    btn = np.array([v.strip() for v in col("button")], dtype=object)
    key = np.array([v.strip() for v in col("key")], dtype=object)
    offscreen = np.zeros(len(t), dtype=bool)
    if off_idx is not None and good_rows:
        offscreen = np.array([c.strip() in ("1", "true", "True") for c in cols[off_idx]], dtype=bool)
    ev = Events(t_ms=t, type=typ, x=x, y=y, button=btn, key=key, scroll_dx=sdx, scroll_dy=sdy, offscreen=offscreen)
    return validate_events(ev, screen, path, "repair" if repair else "strict", lines=lines, report=report, problems=bad)


def validate_events(events, screen, path, mode="strict", lines=None, report=None, problems=None):
    """Check events against the format's rules; in repair mode, fix what can be fixed.

    Importers call this on what they converted, with ``path`` and ``lines`` pointing
    at the *source* file, so a message names the line a person can open.

    Args:
        events: :class:`Events` to check.
        screen: ``(width, height)``.
        path: file named in messages and in the report.
        mode: ``"strict"`` (raise :class:`FormatError` at the first problem) or ``"repair"``.
        lines: source line number of each event (default: row index + 2, as in a CSV with header).
        report: :class:`RepairReport` to add changes to (a new one if ``None``).
        problems: ``{row index: (field, reason)}`` found while parsing.

    Returns:
        ``(events, report)``: the (repaired) events, sorted by time.
    """
    repair = mode == "repair"
    report = report if report is not None else RepairReport(path=str(path))
    name = Path(path).name
    ev = events
    n = len(ev)
    lines = np.arange(2, n + 2, dtype=np.int64) if lines is None else np.asarray(lines, dtype=np.int64)
    bad = dict(problems or {})
    t, x, y, typ, btn, key = ev.t_ms, ev.x, ev.y, ev.type, ev.button, ev.key
    sdx, sdy = ev.scroll_dx, ev.scroll_dy

    def flag(mask, field, reason):
        for i in np.flatnonzero(mask):
            bad.setdefault(int(i), (field, reason))

    for values, field, low, high, unit in (
        (t, "t_ms", 0.0, MAX_T_MS, "ms"),
        (x, "x", -MAX_ABS_POSITION_PX, MAX_ABS_POSITION_PX, "px"),
        (y, "y", -MAX_ABS_POSITION_PX, MAX_ABS_POSITION_PX, "px"),
        (sdx, "scroll_dx", -MAX_ABS_SCROLL_NOTCHES, MAX_ABS_SCROLL_NOTCHES, "notches"),
        (sdy, "scroll_dy", -MAX_ABS_SCROLL_NOTCHES, MAX_ABS_SCROLL_NOTCHES, "notches"),
    ):
        finite = np.isfinite(values)
        flag(~finite, field, "not a finite number")
        with np.errstate(invalid="ignore"):
            flag(finite & ((values < low) | (values > high)), field, f"outside the sane range [{low:g}, {high:g}] {unit}")
    known = np.isin(typ, EVENT_TYPES)
    flag(~known, "type", f"unknown event type (expected one of {', '.join(EVENT_TYPES)})")
    is_btn = np.isin(typ, _BUTTON_EVENTS)
    flag(is_btn & ~np.isin(btn, BUTTONS), "button", f"press/release needs a button in {BUTTONS}")
    is_key = np.isin(typ, _KEY_EVENTS)
    flag(is_key & (key == ""), "key", "key_down/key_up needs a key name")
    is_scroll = typ == "scroll"

    keep = np.ones(n, dtype=bool)
    if bad:
        order = sorted(bad)
        if not repair:
            field, reason = bad[order[0]]
            raise FormatError(path, reason, line=int(lines[order[0]]), field=field)
        for (field, reason), count in Counter(bad[i] for i in order).items():
            where = [lines[i] for i in order if bad[i] == (field, reason)][:5]
            report.add(name, f"dropped row: {field}: {reason}", count, where)
        keep[order] = False

    # Fields that do not belong to an event's type are cleared (repair) or rejected (strict).
    stray_btn = keep & ~is_btn & (btn != "")
    stray_key = keep & ~is_key & (key != "")
    stray_scroll = keep & ~is_scroll & ((sdx != 0) | (sdy != 0))
    for mask, field in ((stray_btn, "button"), (stray_key, "key"), (stray_scroll, "scroll_dx")):
        if mask.any():
            if not repair:
                i = int(np.flatnonzero(mask)[0])
                raise FormatError(path, f"'{field}' set on a '{typ[i]}' event", line=int(lines[i]), field=field)
            report.add(name, f"cleared stray '{field}'", int(mask.sum()), lines[mask][:5])
    btn = np.where(stray_btn, "", btn).astype(object)
    key = np.where(stray_key, "", key).astype(object)
    upper = keep & is_key & np.array([k != k.lower() for k in key.astype(str)], dtype=bool)
    if upper.any():  # key names are lower case: 'Shift' and 'shift' are one key
        if not repair:
            i = int(np.flatnonzero(upper)[0])
            raise FormatError(path, f"key names are lower case, got {key[i]!r}", line=int(lines[i]), field="key")
        report.add(name, "lower-cased key name", int(upper.sum()), lines[upper][:5])
        key = np.array([k.lower() if u else k for k, u in zip(key, upper)], dtype=object)
    sdx = np.where(stray_scroll, 0.0, sdx)
    sdy = np.where(stray_scroll, 0.0, sdy)

    # Off-screen positions are valid (spec): kept and marked in both modes; only the
    # marking is counted as a repair change, since it adds the ``offscreen`` column.
    offscreen = ev.offscreen.copy()
    outside = keep & ~offscreen & _far_outside(x, y, screen)
    if outside.any():
        if repair:
            report.add(name, "marked off-screen position", int(outside.sum()), lines[outside][:5])
        offscreen |= outside

    ev = Events(t_ms=t, type=typ, x=x, y=y, button=btn, key=key, scroll_dx=sdx, scroll_dy=sdy, offscreen=offscreen).take(keep)
    kept_lines = lines[keep]
    back = np.flatnonzero(np.diff(ev.t_ms) < 0)
    if len(back):
        if not repair:
            i = int(back[0]) + 1
            raise FormatError(
                path, f"time goes backwards ({ev.t_ms[i]:g} ms after {ev.t_ms[i - 1]:g} ms)", line=int(kept_lines[i]), field="t_ms"
            )
        order = np.argsort(ev.t_ms, kind="stable")
        moved = int((order != np.arange(len(order))).sum())
        report.add(name, "sorted rows by time (rows moved)", moved, kept_lines[back + 1][:5])
        ev = ev.take(order)
    return ev, report


def _far_outside(x, y, screen):
    w, h = screen
    mx, my = OFFSCREEN_MARGIN * w, OFFSCREEN_MARGIN * h
    with np.errstate(invalid="ignore"):
        return (x < -mx) | (x > w + mx) | (y < -my) | (y > h + my)


def event_notes(events, screen):
    """Counts of values that are valid but unusual, for ``validate`` and ``stats``.

    A recorder that writes many of them is worth a look even though nothing is wrong:
    ``outside_screen`` (any position outside ``[0, w] x [0, h]``), ``offscreen`` (marked:
    far outside), ``fractional_scrolls`` (a part of a notch on either axis) and
    ``zero_notch_scrolls`` among ``scrolls``.
    """
    w, h = screen
    x, y = events.x, events.y
    with np.errstate(invalid="ignore"):
        outside = (x < 0) | (x > w) | (y < 0) | (y > h)
    scroll = events.type == "scroll"
    sdx, sdy = events.scroll_dx, events.scroll_dy
    return {
        "events": len(events),
        "outside_screen": int(outside.sum()),
        "offscreen": int(np.sum(events.offscreen | _far_outside(x, y, screen))),
        "scrolls": int(scroll.sum()),
        "fractional_scrolls": int(np.sum(scroll & ((sdx != np.round(sdx)) | (sdy != np.round(sdy))))),
        "zero_notch_scrolls": int(np.sum(scroll & (sdx == 0) & (sdy == 0))),
    }


def notes_text(notes):
    """One line for :func:`event_notes` counts, or ``""`` when there is nothing to note."""
    parts = []
    if notes["outside_screen"]:
        share = notes["outside_screen"] / max(notes["events"], 1)
        parts.append(f"{share:.1%} of positions outside the screen ({notes['outside_screen']} of {notes['events']}, "
                     f"{notes['offscreen']} far outside)")
    if notes["fractional_scrolls"]:
        share = notes["fractional_scrolls"] / max(notes["scrolls"], 1)
        parts.append(f"{share:.1%} of scrolls fractional ({notes['fractional_scrolls']} of {notes['scrolls']})")
    if notes["zero_notch_scrolls"]:
        parts.append(f"{notes['zero_notch_scrolls']} zero-notch scroll(s)")
    return "; ".join(parts)


_BOOL_TEXT = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "True": 1.0, "False": 0.0}


def _read_state(path, state_columns, repair, report):
    header, rows = _read_csv(path)
    name = path.name
    want = ["t_ms"] + [c["name"] for c in state_columns]
    missing = [c for c in want if c not in header]
    if missing:
        raise FormatError(path, f"header lacks state column(s) {missing} named in session.json", line=1)
    undeclared = [c for c in header if c not in want]
    if undeclared:  # not silently lost on read-and-write
        if not repair:
            raise FormatError(path, f"column(s) {undeclared} not declared in session.json state_columns", line=1)
        report.add(name, f"dropped undeclared state column(s) {', '.join(undeclared)}", len(undeclared), [1])
    width = len(header)
    good, lines = _whole_rows(rows, width, path, repair, report)
    cols = list(zip(*good)) if good else [()] * width
    bad = {}
    t = _float_column(list(cols[header.index("t_ms")]), path, "t_ms", 2, bad)
    for i in np.flatnonzero(~np.isfinite(t)):
        bad.setdefault(int(i), ("t_ms", "not a finite number"))
    out = {}
    for c in state_columns:
        raw = [v.strip() for v in cols[header.index(c["name"])]]
        if c["kind"] == "numeric":
            # An empty cell means "not present" (NaN); text and infinities are errors.
            vals = _float_column([v if v else "nan" for v in raw], path, c["name"], 2, bad)
            for i in np.flatnonzero(np.isinf(vals)):
                bad.setdefault(int(i), (c["name"], "infinite value"))
        elif c["kind"] == "bool":
            vals = np.array([_BOOL_TEXT.get(v, np.nan) if v else 0.0 for v in raw], dtype=np.float64)
            for i in np.flatnonzero(np.isnan(vals)):
                bad.setdefault(int(i), (c["name"], f"'{raw[i]}' is not a bool (0/1/true/false)"))
        else:
            vals = np.array(raw, dtype=object)
        out[c["name"]] = vals
    keep = np.ones(len(t), dtype=bool)
    if bad:
        order = sorted(bad)
        if not repair:
            field, reason = bad[order[0]]
            raise FormatError(path, reason, line=int(lines[order[0]]), field=field)
        for (field, reason), count in Counter(bad[i] for i in order).items():
            report.add(name, f"dropped row: {field}: {reason}", count)
        keep[order] = False
    t = t[keep]
    out = {k: v[keep] for k, v in out.items()}
    lines = lines[keep]
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        if not repair:
            i = int(back[0]) + 1
            raise FormatError(path, f"time goes backwards ({t[i]:g} ms after {t[i - 1]:g} ms)", line=int(lines[i]), field="t_ms")
        order = np.argsort(t, kind="stable")
        report.add(name, "sorted rows by time (rows moved)", int((order != np.arange(len(order))).sum()))
        t = t[order]
        out = {k: v[order] for k, v in out.items()}
    return State(t_ms=t, columns=out)


def read_session(folder, mode="strict"):
    """Read one session folder.

    Args:
        folder: the session's directory.
        mode: ``"strict"`` or ``"repair"``.

    Returns:
        ``(session, report)``; ``report`` is an empty :class:`RepairReport` in strict mode.

    Raises:
        FormatError: naming file, line and reason, when the session cannot be read
            (in strict mode, at the first problem; in repair mode, only for what cannot be fixed).
    """
    if mode not in ("strict", "repair"):
        raise ValueError(f"mode must be 'strict' or 'repair', got {mode!r}")
    repair = mode == "repair"
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(folder, "not a session folder (no such directory)")
    meta = read_metadata(folder)
    report = RepairReport(path=str(folder))
    ev_path = _find(folder, "events.csv")
    if ev_path is None:
        raise FormatError(folder / "events.csv", "missing events.csv (or events.csv.gz)")
    screen = (int(meta["screen"]["width"]), int(meta["screen"]["height"]))
    events, _ = _read_events(ev_path, screen, repair, report)
    state = None
    st_path = _find(folder, "state.csv")
    cols = meta.get("state_columns")
    if st_path is not None:
        if not cols:
            raise FormatError(folder / "session.json", "state.csv present but session.json has no state_columns", field="state_columns")
        state = _read_state(st_path, cols, repair, report)
    known = {"format", "session_id", "source", "subject", "screen", "game", "state_columns", "time_scale", "provenance"}
    session = Session(
        session_id=meta["session_id"],
        source=meta["source"],
        subject=meta["subject"],
        screen=screen,
        events=events,
        game=meta.get("game"),
        state_columns=cols,
        state=state,
        time_scale=meta.get("time_scale"),
        provenance=meta.get("provenance"),
        extra={k: v for k, v in meta.items() if k not in known},
        path=str(folder),
    )
    return session, report


def find_sessions(root):
    """Every session folder (one holding ``session.json``) under ``root``, sorted."""
    root = Path(root)
    if (root / "session.json").exists():
        return [root]
    return sorted(p.parent for p in root.rglob("session.json"))


def iter_sessions(root, mode="strict", on_error="raise"):
    """Yield ``(session, report)`` for each session under ``root``.

    ``on_error="raise"`` stops at the first unreadable session; ``"skip"`` yields
    ``(None, error)`` for it instead, so a caller can list every problem.
    """
    for folder in find_sessions(root):
        try:
            yield read_session(folder, mode)
        except FormatError as e:
            if on_error == "raise":
                raise
            yield None, e


# --------------------------------------------------------------------------- writing


def _fmt_col(a):
    """Numbers as short text, to 1/1000 (ms, px, notch): whole numbers without a point (NumPy's C paths, no Python loop)."""
    r = np.round(np.asarray(a, dtype=np.float64), 3)
    whole = (r == np.round(r)) & (np.abs(r) < 1e15)
    out = r.astype(str)
    out[whole] = r[whole].astype(np.int64).astype(str)
    return out


def write_session(session, folder, compress=True, overwrite=True):
    """Write ``session`` to ``folder`` in ``actiongen-session/1``.

    ``compress`` writes ``events.csv.gz``/``state.csv.gz``. Reading the folder back gives
    the same session (times and positions to 1/1000 ms and pixel).
    """
    folder = Path(folder)
    if folder.exists() and not overwrite and (folder / "session.json").exists():
        raise FormatError(folder, "session already exists (overwrite=False)")
    folder.mkdir(parents=True, exist_ok=True)
    meta = session.metadata()
    _check_metadata(meta, folder / "session.json")
    for stale in ("events.csv", "events.csv.gz", "state.csv", "state.csv.gz"):
        if (folder / stale).exists():
            os.remove(folder / stale)
    (folder / "session.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    ev = session.events
    cols = [
        _fmt_col(ev.t_ms),
        np.asarray(ev.type, dtype=str),
        _fmt_col(ev.x),
        _fmt_col(ev.y),
        np.asarray(ev.button, dtype=str),
        np.asarray(ev.key, dtype=str),
        _fmt_col(ev.scroll_dx),
        _fmt_col(ev.scroll_dy),
    ]
    header = list(EVENT_COLUMNS)
    if ev.offscreen is not None and ev.offscreen.any():
        header.append("offscreen")
        cols.append(ev.offscreen.astype(np.int8).astype(str))
    _write_csv(folder / ("events.csv.gz" if compress else "events.csv"), header, cols)
    if session.state is not None:
        names = [c["name"] for c in session.state_columns]
        scols = [_fmt_col(session.state.t_ms)]
        for c in session.state_columns:
            v = session.state.columns[c["name"]]
            if c["kind"] == "categorical":
                scols.append(np.asarray(v, dtype=str))
            else:
                f = _fmt_col(np.nan_to_num(v, nan=0.0))
                scols.append(np.where(np.isnan(np.asarray(v, dtype=float)), "", f))
        _write_csv(folder / ("state.csv.gz" if compress else "state.csv"), ["t_ms"] + names, scols)
    return folder


def _write_csv(path, header, cols):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    if len(cols[0]):
        values = [np.asarray(c).tolist() for c in cols]
        # every column arrives as text; one C-speed scan per column (a generator over every
        # value cost 8 times as much; 0.1 s of the 7.3 s write of 1M events)
        if any("\r" in "".join(c) for c in values):
            # Python 3.11's csv quotes a field for the line terminator's characters only: a
            # carriage return inside a text field would read back as a line break, so the
            # rows holding one are written quoted whole (the reader unquotes them).
            quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
            for row in zip(*values):
                (quoted if any("\r" in v for v in row) else w).writerow(row)
        else:
            w.writerows(zip(*values))
    data = buf.getvalue().encode("utf-8")
    if str(path).endswith(".gz"):
        with gzip.GzipFile(path, "wb", compresslevel=5, mtime=0) as f:  # no clock in the header: same session, same bytes
            f.write(data)
    else:
        Path(path).write_bytes(data)
