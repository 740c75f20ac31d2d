"""Import the Balabit Mouse Dynamics Challenge into ``actiongen-session/1``.

Layout: ``<in_dir>/training_files/userN/session_<id>`` (gzipped CSV, with or without a
``.gz`` name; plain CSV is accepted too), header
``record timestamp,client timestamp,button,state,x,y``: seconds since the session start,
positions on a 1920x1080 screen.

Conversion, one session per file:

* Time: ``client timestamp`` in seconds -> ms. The client timestamp is when the event
  happened on the user's machine; the record timestamp is when the remote-desktop
  capture logged the packet, so it carries network and capture jitter and is not the
  person's timing. The session start (0 s) is kept as ``t_ms = 0``.
* ``Move``/``Drag`` -> ``move``; ``Pressed``/``Released`` -> ``press``/``release`` with
  ``Left``/``Right``/``Middle``/``XButton`` -> ``left``/``right``/``middle``/``x1``.
* Button ``Scroll`` with state ``Down``/``Up`` -> a ``scroll`` event of one notch,
  ``scroll_dy`` +1 (down) / -1 (up). The data log every wheel notch at (0, 0); it gets the
  cursor's last known position (in file order) instead.
* Any other button/state pair is a bad row (strict: error; repair: dropped and counted).
* The 65535 sentinel positions and time going backwards are left to
  :func:`~actiongen_keras.recordings.session.validate_events`: a sentinel is far outside
  the screen, kept and marked ``offscreen`` in both modes; time going backwards is a strict
  error naming the line, sorted (and counted) by repair.
  The data card calls this set dirty, so it is meant to be imported with ``repair=True``.
* ``session_id`` ``balabit-userN-session_<id>``; ``subject`` ``balabit-userN``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actiongen_keras.recordings.importers.base import import_files, safe_id
from actiongen_keras.recordings.importers.tables import (
    carry_position,
    drop_bad_rows,
    empty_check,
    lookup,
    parse_numbers,
    read_source_text,
    split_table,
)
from actiongen_keras.recordings.session import (
    Events,
    RepairReport,
    Session,
    validate_events,
)

SOURCE = "balabit"
PROVENANCE = (
    "Balabit Mouse Dynamics Challenge data set: Fülöp, Kovács, Kurics, Windhager-Pokol (2016)."
)
SCREEN = (1920, 1080)
COLUMNS = ("record timestamp", "client timestamp", "button", "state", "x", "y")
# (button, state) -> (type, button, scroll_dy)
_MOVE = ("move", "", 0)
PAIRS = {
    **{(b, s): _MOVE for b in ("NoButton", "Left", "Right", "Middle", "XButton", "Scroll") for s in ("Move", "Drag")},
    ("Left", "Pressed"): ("press", "left", 0),
    ("Left", "Released"): ("release", "left", 0),
    ("Right", "Pressed"): ("press", "right", 0),
    ("Right", "Released"): ("release", "right", 0),
    ("Middle", "Pressed"): ("press", "middle", 0),
    ("Middle", "Released"): ("release", "middle", 0),
    ("XButton", "Pressed"): ("press", "x1", 0),
    ("XButton", "Released"): ("release", "x1", 0),
    ("Scroll", "Down"): ("scroll", "", 1),
    ("Scroll", "Up"): ("scroll", "", -1),
}


def read_balabit(path, repair=False, subject=None, session_id=None):
    """Convert one Balabit session file.

    Returns:
        ``(session, report, notes)`` as :func:`~actiongen_keras.recordings.importers.sapimouse.read_sapimouse`.

    Raises:
        FormatError: naming the file, line and reason.
    """
    path = Path(path)
    report = RepairReport(path=str(path.parent))
    user = path.parent.name.lower()
    stem = path.name.removesuffix(".gz")
    subject = subject or f"{SOURCE}-{safe_id(user)}"
    session_id = session_id or safe_id(f"{SOURCE}-{user}-{stem}")

    cols, lines = split_table(read_source_text(path), path, COLUMNS, ",", repair, report)
    problems = {}
    t = parse_numbers(cols["client timestamp"], "client timestamp", problems) * 1000.0
    x = parse_numbers(cols["x"], "x", problems)
    y = parse_numbers(cols["y"], "y", problems)
    pair = cols["button"] + "\t" + cols["state"]
    typ, known = lookup(pair, {f"{b}\t{s}": v[0] for (b, s), v in PAIRS.items()})
    button, _ = lookup(pair, {f"{b}\t{s}": v[1] for (b, s), v in PAIRS.items()})
    dy, _ = lookup(pair, {f"{b}\t{s}": v[2] for (b, s), v in PAIRS.items()})
    for i in np.flatnonzero(~known):
        problems.setdefault(
            int(i), ("state", f"unknown button/state pair {cols['button'][i][:20]!r}/{cols['state'][i][:20]!r}")
        )

    keep = drop_bad_rows(problems, len(t), path, lines, repair, report)
    empty_check(int(keep.sum()), path)
    t, x, y, typ, button, dy, lines = (a[keep] for a in (t, x, y, typ, button, dy, lines))
    # Wheel rows are logged at (0, 0): they get the cursor's last known position.
    x, y = carry_position(x, y, typ != "scroll")
    events = Events.from_columns(
        t_ms=np.round(t, 3), type=typ, x=x, y=y, button=button, scroll_dy=dy.astype(np.int64)
    )
    events, report = validate_events(events, SCREEN, path, "repair" if repair else "strict", lines=lines, report=report)
    empty_check(len(events), path)
    session = Session(
        session_id=session_id, source=SOURCE, subject=subject, screen=SCREEN, events=events, provenance=PROVENANCE
    )
    return session, report, []


def import_folder(in_dir, out_dir, repair=False, progress=True):
    """Import every ``userN/session_*`` file under ``in_dir`` into ``out_dir``.

    Returns the :class:`~actiongen_keras.recordings.importers.base.ImportSummary`.
    """
    return import_files(SOURCE, in_dir, "session_*", read_balabit, out_dir, repair, progress)
