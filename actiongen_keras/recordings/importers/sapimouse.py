"""Import SapiMouse (mouse on a click-and-drag web task) into ``actiongen-session/1``.

Layout: ``<in_dir>/userN/session_<date>_{1min,3min}.csv.gz``, header
``client timestamp,button,state,x,y``; ``client timestamp`` is ms since page load,
``x``/``y`` page pixels.

Conversion, one session per file:

* ``Move`` and ``Drag`` -> ``move`` (a drag is the moves between a press and its release);
  ``Pressed`` -> ``press``; ``Released`` -> ``release``.
* Buttons ``Left``/``Right``/``Other`` -> ``left``/``right``/``middle``. The data set only says
  "Other"; we take it to be the middle button (the only other one a browser page reports
  for a plain mouse) and say so in the summary notes of the files that have it.
* ``t_ms`` is relative to the session's first event (the earliest time).
* No page size was recorded: the screen is the observed extent
  (``max x + 1`` by ``max y + 1``, at least 1).
* ``session_id`` ``sapimouse-userN-<date>_<length>``; ``subject`` ``sapimouse-userN``.

The small table helpers at the top of this module (:func:`read_source_text`,
:func:`split_table`, :func:`parse_numbers`, :func:`drop_bad_rows`, :func:`lookup`,
:func:`observed_screen`, :func:`carry_position`) are shared by the balabit, osrs and aalto importers.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError
from actiongen_keras.recordings.importers.base import run_import, safe_id
from actiongen_keras.recordings.session import Events, RepairReport, Session, validate_events

SOURCE = "sapimouse"
PROVENANCE = (
    "SapiMouse: Antal, Fejer, Buza (2021), 'SapiMouse: Mouse Dynamics-based User Authentication "
    "Using Deep Feature Learning', SACI 2021. Research use with citation."
)
COLUMNS = ("client timestamp", "button", "state", "x", "y")
STATES = {"Move": "move", "Drag": "move", "Pressed": "press", "Released": "release"}
BUTTONS = {"Left": "left", "Right": "right", "Other": "middle"}

_GZIP_MAGIC = b"\x1f\x8b"
# Larger magnitudes are not times (ms) or positions (px) of a recording; they would also
# not survive the writer's integer formatting.
MAX_ABS = 1e15


# --------------------------------------------------------------------------- shared helpers


def read_source_text(path, encoding="utf-8"):
    """The text of a source file, gunzipped when it is gzip data (by its magic bytes).

    A ``.gz`` name without gzip data, a corrupt or truncated gzip stream, an empty file and
    text that is not in ``encoding`` all raise :class:`FormatError` naming the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.__class__.__name__}: {e.strerror or e})") from None
    if not raw:
        raise FormatError(path, "empty file (0 bytes)", line=1)
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise FormatError(path, f"corrupt gzip data ({e.__class__.__name__}: {e})") from None
    elif path.suffix == ".gz":
        raise FormatError(path, "named .gz but is not gzip data")
    if not raw.strip():
        raise FormatError(path, "empty file (no header)", line=1)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FormatError(path, f"not {encoding} text ({e.reason})", line=line) from None
    return text.lstrip("\ufeff")


def split_table(text, path, columns, sep=",", repair=False, report=None):
    """Split delimited text (no quoting) into named columns.

    The header must name every column of ``columns`` (in any order; extra columns are
    ignored). Rows whose number of fields differs from the header's (blank lines included)
    are rejected in strict mode and dropped with a count in repair mode.

    Returns:
        ``(cols, lines)``: ``cols`` maps each name of ``columns`` to a NumPy object array of str;
        ``lines`` holds the 1-based source line of each kept row.
    """
    text = text.replace("\r\n", "\n")
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    header = [h.strip() for h in rows[0].split(sep)]
    missing = [c for c in columns if c not in header]
    if missing:
        raise FormatError(path, f"header lacks column(s) {missing}; expected {sep.join(columns)}", line=1)
    width = len(header)
    parts = [r.split(sep) for r in rows[1:]]
    counts = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    lines = np.arange(2, len(parts) + 2, dtype=np.int64)
    wrong = np.flatnonzero(counts != width)
    if len(wrong):
        if not repair:
            i = int(wrong[0])
            raise FormatError(path, f"has {counts[i]} fields, header has {width}", line=int(lines[i]))
        report.add(Path(path).name, "dropped row: wrong number of fields", len(wrong), lines[wrong][:5])
        ok = np.flatnonzero(counts == width)
        parts = [parts[i] for i in ok]
        lines = lines[ok]
    fields = list(zip(*parts)) if parts else [()] * width
    cols = {c: _object_array(fields[header.index(c)]) for c in columns}
    return cols, lines


def _object_array(values):
    """A 1-D object array of the given strings (cheap: no fixed-width copy)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def parse_numbers(values, field, problems, limit=MAX_ABS):
    """Strings to float64; cells that are not usable numbers become NaN and are noted in ``problems``.

    ``problems`` maps row index -> ``(field, reason)`` (the first problem of a row wins).
    Non-finite values (``nan``, ``inf``) and magnitudes above ``limit`` are noted too.
    """
    try:
        out = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        out = np.empty(len(values), dtype=np.float64)
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except (ValueError, TypeError, OverflowError):
                out[i] = np.nan
                problems.setdefault(i, (field, f"{str(v)[:40]!r} is not a number"))
    for i in np.flatnonzero(~np.isfinite(out)):
        problems.setdefault(int(i), (field, "not a finite number"))
    with np.errstate(invalid="ignore"):
        too_big = np.abs(out) > limit
    for i in np.flatnonzero(too_big):
        problems.setdefault(int(i), (field, f"out of range (|value| > {limit:g})"))
    return out


def drop_bad_rows(problems, n, path, lines, repair, report):
    """Rows to keep, given ``problems`` (row index -> ``(field, reason)``).

    Strict: the first problem raises :class:`FormatError` with its source line.
    Repair: every bad row is dropped and counted per reason, with example lines.
    """
    keep = np.ones(n, dtype=bool)
    if not problems:
        return keep
    order = sorted(problems)
    if not repair:
        field, reason = problems[order[0]]
        raise FormatError(path, reason, line=int(lines[order[0]]), field=field)
    for (field, reason), count in Counter(problems[i] for i in order).items():
        where = [lines[i] for i in order if problems[i] == (field, reason)][:5]
        report.add(Path(path).name, f"dropped row: {field}: {reason}", count, where)
    keep[order] = False
    return keep


def lookup(values, table):
    """Map each string of ``values`` through ``table`` (vectorised over the unique values).

    Returns ``(mapped, known)``: an object array (``None`` where unknown) and a bool mask.
    """
    values = np.asarray(values, dtype=str)
    if len(values) == 0:
        return np.empty(0, dtype=object), np.zeros(0, dtype=bool)
    uniq, inv = np.unique(values, return_inverse=True)
    mapped = np.array([table.get(u) for u in uniq.tolist()], dtype=object)
    return mapped[inv], np.array([u in table for u in uniq.tolist()], dtype=bool)[inv]


def observed_screen(x, y):
    """``(width, height)`` spanning the finite positions seen: ``max + 1``, at least 1."""

    def extent(v):
        v = np.asarray(v, dtype=np.float64)
        v = v[np.isfinite(v)]
        return max(1, int(np.floor(v.max())) + 1) if len(v) else 1

    return extent(x), extent(y)


def carry_position(x, y, has_pos):
    """Positions where ``has_pos`` is false replaced by the last known one.

    Rows before the first known position take the first known one; with none known,
    everything is (0, 0). Returns new ``(x, y)`` arrays.
    """
    if not np.any(has_pos):
        return np.zeros(len(x)), np.zeros(len(y))
    last = np.maximum.accumulate(np.where(has_pos, np.arange(len(x)), -1))
    last = np.where(last < 0, np.flatnonzero(has_pos)[0], last)
    return np.asarray(x)[last], np.asarray(y)[last]


def empty_check(n, path):
    """Raise :class:`FormatError` when a recording has no usable event left."""
    if n == 0:
        raise FormatError(path, "no events (nothing after the header, or every row was dropped)")


# --------------------------------------------------------------------------- sapimouse


def read_sapimouse(path, repair=False, subject=None, session_id=None):
    """Convert one SapiMouse ``.csv.gz`` file.

    Args:
        path: the source file.
        repair: fix what can be fixed (counted in the report) instead of rejecting the file.
        subject, session_id: default to values made from ``userN/session_<...>``.

    Returns:
        ``(session, report, notes)``: the :class:`Session`, its :class:`RepairReport` and a
        list of notes (strings) about conversion choices that apply to this file.

    Raises:
        FormatError: naming the file, line and reason.
    """
    path = Path(path)
    report = RepairReport(path=str(path.parent))
    user = path.parent.name.lower()
    stem = path.name.removesuffix(".gz").removesuffix(".csv").removeprefix("session_")
    subject = subject or f"{SOURCE}-{safe_id(user)}"
    session_id = session_id or safe_id(f"{SOURCE}-{user}-{stem}")

    cols, lines = split_table(read_source_text(path), path, COLUMNS, ",", repair, report)
    problems = {}
    t = parse_numbers(cols["client timestamp"], "client timestamp", problems)
    x = parse_numbers(cols["x"], "x", problems)
    y = parse_numbers(cols["y"], "y", problems)
    typ, known = lookup(cols["state"], STATES)
    for i in np.flatnonzero(~known):
        problems.setdefault(int(i), ("state", f"unknown state {cols['state'][i][:40]!r} (expected {', '.join(STATES)})"))
    is_btn = (typ == "press") | (typ == "release")
    button, known_btn = lookup(cols["button"], BUTTONS)
    for i in np.flatnonzero(is_btn & ~known_btn):
        problems.setdefault(int(i), ("button", f"{cols['state'][i]} needs a button in {', '.join(BUTTONS)}"))

    keep = drop_bad_rows(problems, len(t), path, lines, repair, report)
    empty_check(int(keep.sum()), path)
    t, x, y, typ, is_btn, button, lines = (a[keep] for a in (t, x, y, typ, is_btn, button, lines))
    events = Events.from_columns(
        t_ms=t - t.min(), type=typ, x=x, y=y, button=np.where(is_btn, button, "").astype(object)
    )
    screen = observed_screen(x, y)
    events, report = validate_events(events, screen, path, "repair" if repair else "strict", lines=lines, report=report)
    empty_check(len(events), path)

    notes = []
    if np.any(cols["button"] == "Other"):
        notes.append("button 'Other' taken as the middle button")
    session = Session(
        session_id=session_id, source=SOURCE, subject=subject, screen=screen, events=events, provenance=PROVENANCE
    )
    return session, report, notes


def import_folder(in_dir, out_dir, repair=False, progress=True):
    """Import every ``userN/session_*.csv.gz`` under ``in_dir`` into ``out_dir``.

    Returns the :class:`~actiongen_keras.recordings.importers.base.ImportSummary`.
    """
    in_dir = Path(in_dir)
    files = sorted(p for p in in_dir.rglob("*.csv*") if p.is_file())
    items = [(str(p.relative_to(in_dir)), p) for p in files]

    def convert(path, summary):
        session, report, notes = read_sapimouse(path, repair=repair)
        summary.notes.extend((str(path.relative_to(in_dir)), n) for n in notes)
        yield session, report

    return run_import(SOURCE, items, convert, out_dir, progress)
