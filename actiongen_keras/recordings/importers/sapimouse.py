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

from pathlib import Path

import numpy as np

from actiongen_keras.recordings.importers.base import import_files, safe_id
from actiongen_keras.recordings.session import (
    Events,
    RepairReport,
    Session,
    validate_events,
)

SOURCE = "sapimouse"
PROVENANCE = (
    "SapiMouse: Antal, Fejer, Buza (2021), 'SapiMouse: Mouse Dynamics-based User Authentication "
    "Using Deep Feature Learning', SACI 2021. Research use with citation."
)
COLUMNS = ("client timestamp", "button", "state", "x", "y")
STATES = {"Move": "move", "Drag": "move", "Pressed": "press", "Released": "release"}
BUTTONS = {"Left": "left", "Right": "right", "Other": "middle"}


from actiongen_keras.recordings.importers.tables import (  # noqa: E402
    drop_bad_rows,
    empty_check,
    lookup,
    observed_screen,
    parse_numbers,
    read_source_text,
    split_table,
)


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
    return import_files(SOURCE, in_dir, "*.csv*", read_sapimouse, out_dir, repair, progress)
