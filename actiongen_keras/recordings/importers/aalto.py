"""Import the Aalto "136M Keystrokes" subset into ``actiongen-session/1``.

Layout: ``<in_dir>/participants/<ID>_keystrokes.txt.gz``: tab-separated, latin-1, no
quoting, header ``PARTICIPANT_ID TEST_SECTION_ID SENTENCE USER_INPUT KEYSTROKE_ID
PRESS_TIME RELEASE_TIME LETTER KEYCODE``, times in epoch ms. One row per keystroke.

Conversion, one session per participant file:

* Each row gives a ``key_down`` at ``PRESS_TIME`` and a ``key_up`` at ``RELEASE_TIME``; the
  file lists keystrokes (not events, and not always in press order), so the events are
  sorted by time (stable: a zero-length keystroke keeps its down before its up).
* ``t_ms`` is relative to the participant's first press.
* Key names, lower case, in the pynput-style vocabulary the osrs importer uses: ``LETTER``
  lower-cased (``T`` -> ``t``), ``' '`` -> ``space``, names mapped by :data:`KEY_NAMES`
  (``SHIFT`` -> ``shift``, ``BKSP`` -> ``backspace``, ``ARW_LEFT`` -> ``left``, ...). An empty
  or control-character ``LETTER`` (some browsers report none) is named from the
  JavaScript ``KEYCODE`` (:data:`JS_KEYCODES`, else ``keycode_<n>``).
* No cursor was recorded: the screen is a nominal 1920x1080 with the cursor parked at
  (0, 0); ``session.json`` says so with ``"cursor_recorded": false``.
* State: the sentence being typed, one row per test section at its first press
  (columns ``test_section_id`` and ``sentence``, categorical; ``game`` ``typing-test``).
* Bad rows (a field count other than 9, e.g. a sentence holding a tab; times that are not
  numbers; a release before its press; no key name) are rejected in strict mode naming the
  line, and dropped with a count in repair mode.
* ``session_id`` and ``subject`` ``aalto-<ID>``.

Per-row work is vectorised: one split per line, then NumPy over columns and over the
unique key names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actiongen_keras.recordings.importers.base import import_files, safe_id
from actiongen_keras.recordings.importers.tables import (
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
    State,
    validate_events,
)

SOURCE = "aalto"
GAME = "typing-test"
PROVENANCE = (
    "Aalto 136M Keystrokes: Dhakal, Feit, Kristensson, Oulasvirta (2018), 'Observations on Typing "
    "from 136 Million Keystrokes', CHI 2018. Non-commercial use only, with attribution."
)
SCREEN = (1920, 1080)
COLUMNS = (
    "PARTICIPANT_ID", "TEST_SECTION_ID", "SENTENCE", "USER_INPUT", "KEYSTROKE_ID",
    "PRESS_TIME", "RELEASE_TIME", "LETTER", "KEYCODE",
)
STATE_COLUMNS = [{"name": "test_section_id", "kind": "categorical"}, {"name": "sentence", "kind": "categorical"}]
KEY_NAMES = {
    " ": "space", "BKSP": "backspace", "SHIFT": "shift", "CAPS_LOCK": "caps_lock", "CTRL": "ctrl",
    "ALT": "alt", "WIN": "cmd", "ARW_LEFT": "left", "ARW_RIGHT": "right", "ARW_UP": "up",
    "ARW_DOWN": "down", "NUM_LK": "num_lock", "SCR_LK": "scroll_lock", "PG_UP": "page_up",
    "PG_DOWN": "page_down", "ENTER": "enter", "ESC": "esc",
}
# JavaScript ``keyCode`` -> key name, for rows without a usable LETTER.
JS_KEYCODES = {
    8: "backspace", 9: "tab", 13: "enter", 16: "shift", 17: "ctrl", 18: "alt", 19: "pause",
    20: "caps_lock", 27: "esc", 32: "space", 33: "page_up", 34: "page_down", 35: "end", 36: "home",
    37: "left", 38: "up", 39: "right", 40: "down", 45: "insert", 46: "delete", 91: "cmd", 92: "cmd",
    93: "menu", 144: "num_lock", 145: "scroll_lock", 186: ";", 187: "=", 188: ",", 189: "-",
    190: ".", 191: "/", 192: "`", 219: "[", 220: "\\", 221: "]", 222: "'", 229: "process",
    **{c: chr(c) for c in range(48, 58)},
    **{c: chr(c).lower() for c in range(65, 91)},
    **{96 + d: f"num_{d}" for d in range(10)},
    106: "num_multiply", 107: "num_add", 109: "num_subtract", 110: "num_decimal", 111: "num_divide",
    **{111 + n: f"f{n}" for n in range(1, 13)},
}


def _letter_name(letter):
    """Key name from ``LETTER``, or ``None`` when it has none (empty, control character)."""
    if letter.upper() in KEY_NAMES:
        return KEY_NAMES[letter.upper()]
    if len(letter) == 1:
        return letter.lower() if letter.isprintable() else None
    name = letter.strip().lower()
    return name if name and name.isprintable() else None


def _keycode_name(code):
    """Key name from a ``KEYCODE`` cell, or ``None`` when it is not an integer."""
    code = code.strip()
    if not code.isdigit() or len(code) > 6:
        return None
    return JS_KEYCODES.get(int(code), f"keycode_{int(code)}")


def key_names(letters, keycodes):
    """Vectorised key names (object array, ``None`` where no name can be given)."""
    names, _ = lookup(letters, {u: _letter_name(u) for u in np.unique(letters).tolist()})
    need = np.flatnonzero(names == None)  # noqa: E711 (element-wise test)
    if len(need):
        codes = keycodes[need]
        names[need], _ = lookup(codes, {u: _keycode_name(u) for u in np.unique(codes).tolist()})
    return names


def read_aalto(path, repair=False, subject=None, session_id=None):
    """Convert one participant's ``<ID>_keystrokes.txt.gz``.

    Returns:
        ``(session, report, notes)``; notes say how many keystroke rows were out of press order.

    Raises:
        FormatError: naming the file, line and reason.
    """
    path = Path(path)
    report = RepairReport(path=str(path.parent))
    pid = path.name.split("_keystrokes")[0] if "_keystrokes" in path.name else path.name.split(".")[0]
    subject = subject or safe_id(f"{SOURCE}-{pid}")
    session_id = session_id or subject

    cols, lines = split_table(read_source_text(path, "latin-1"), path, COLUMNS, "\t", repair, report)
    problems = {}
    press = parse_numbers(cols["PRESS_TIME"], "PRESS_TIME", problems)
    release = parse_numbers(cols["RELEASE_TIME"], "RELEASE_TIME", problems)
    for i in np.flatnonzero(release < press):
        problems.setdefault(int(i), ("RELEASE_TIME", "release before its press (PRESS_TIME)"))
    key = key_names(cols["LETTER"], cols["KEYCODE"])
    for i in np.flatnonzero(key == None):  # noqa: E711
        problems.setdefault(int(i), ("LETTER", "no key name (LETTER empty and KEYCODE not a number)"))

    keep = drop_bad_rows(problems, len(press), path, lines, repair, report)
    empty_check(int(keep.sum()), path)
    press, release, key, lines = press[keep], release[keep], key[keep], lines[keep]
    section, sentence = cols["TEST_SECTION_ID"][keep], cols["SENTENCE"][keep]
    notes = []
    back = int((np.diff(press) < 0).sum())
    if back:
        notes.append(f"{back} keystroke rows listed before an earlier press: events sorted by time")

    origin = press.min()
    n = len(press)
    t = np.concatenate([press, release]) - origin
    order = np.argsort(t, kind="stable")
    events = Events.from_columns(
        t_ms=t[order],
        type=np.repeat(np.array(["key_down", "key_up"], dtype=object), n)[order],
        key=np.concatenate([key, key])[order],
    )
    events, report = validate_events(
        events, SCREEN, path, "repair" if repair else "strict", lines=np.concatenate([lines, lines])[order], report=report
    )
    empty_check(len(events), path)

    # The sentence being typed: one state row per test section, at its first press.
    by_press = np.argsort(press, kind="stable")
    _, first = np.unique(section[by_press], return_index=True)
    first = by_press[np.sort(first)]  # each section's first press, in press order
    state = State(
        t_ms=press[first] - origin,
        columns={"test_section_id": section[first].astype(object), "sentence": sentence[first].astype(object)},
    )
    session = Session(
        session_id=session_id,
        source=SOURCE,
        subject=subject,
        screen=SCREEN,
        events=events,
        game=GAME,
        state_columns=STATE_COLUMNS,
        state=state,
        provenance=PROVENANCE,
        extra={"cursor_recorded": False},
    )
    return session, report, notes


def import_folder(in_dir, out_dir, repair=False, progress=True):
    """Import every ``*_keystrokes.txt[.gz]`` under ``in_dir`` into ``out_dir``.

    Rows out of press order are common (the files list keystrokes by id); they are counted
    in one summary note for the whole folder rather than one per file.
    Returns the :class:`~actiongen_keras.recordings.importers.base.ImportSummary`.
    """
    unordered = []
    summary = import_files(
        SOURCE, in_dir, "*_keystrokes.txt*", read_aalto, out_dir, repair, progress, on_notes=lambda _, notes: unordered.extend(notes)
    )
    if unordered:
        rows = sum(int(n.split()[0]) for n in unordered)
        summary.notes.append(
            (str(in_dir), f"{len(unordered)} file(s) list {rows} keystroke row(s) before an earlier press: events sorted by time")
        )
    return summary
