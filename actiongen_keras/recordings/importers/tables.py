"""Table reading shared by the CSV/TSV importers (sapimouse, balabit, osrs, aalto).

Raw source files are read as text (gzip detected by its magic bytes), split into
columns with their source line numbers kept, and parsed into NumPy arrays; every bad
cell is recorded with its line so strict mode can name it and repair mode can count it.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError

_GZIP_MAGIC = b"\x1f\x8b"
# Larger magnitudes are not times (ms) or positions (px) of a recording; they would also
# not survive the writer's integer formatting.
MAX_ABS = 1e15




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
