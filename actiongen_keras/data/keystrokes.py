"""Keystrokes of the Aalto "136M Keystrokes" data as training rows of the keystroke-timing model.

The importer (``recordings/importers/aalto.py``) turns a participant's file into a session
of key events; the timing model needs more than that: the character each key typed (case
and shifted symbols), the sentence, and the keystrokes in press order per test section. This
module reads the raw ``<ID>_keystrokes.txt.gz`` (``read_typist``) and encodes keystrokes
(:func:`keystroke_rows`) as the model's inputs and targets.

Vocabulary (:data:`TOKENS`): one token per lower-case letter, digit, common punctuation
character, ``space``, ``shift``, ``backspace``; ``<start>`` before a section's first key and
``<other>`` for any other key (``enter``, ``ctrl``, an accented letter, ...).

Per keystroke ``k`` of a section (in press order, ``k >= 1``), the inputs are the previous
and current token and :data:`NUMERIC` (``shifted``: the character needs shift; the
previous interval, log ms, with ``first`` set where there is none; the typist's pace, the
log median interval and dwell over all their keystrokes) and the targets the interval
(press ``k-1`` to press ``k``; shorter than the previous dwell on a rollover) and the dwell
(press to release), log ms, clipped to :data:`INTERVAL_MS` and :data:`DWELL_MS`.

Person-disjoint split (:func:`typist_split`): a participant is held out when the SHA-1 of
their id, as an integer, is divisible by :data:`HOLDOUT_EVERY`: fixed by the id alone.

The data are for **non-commercial research only** (:data:`NOTICE`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import string
from pathlib import Path

import numpy as np

from actiongen_keras.recordings.importers.tables import drop_bad_rows, parse_numbers, read_source_text, split_table
from actiongen_keras.recordings.session import RepairReport

NOTICE = (
    "Trained on the Aalto '136M Keystrokes' data: Dhakal, Feit, Kristensson, Oulasvirta (2018), 'Observations on "
    "Typing from 136 Million Keystrokes', CHI 2018. Non-commercial research use only, with attribution. Do not ship "
    "this model or anything derived from it in a product."
)
COLUMNS = ("PARTICIPANT_ID", "TEST_SECTION_ID", "SENTENCE", "USER_INPUT", "PRESS_TIME", "RELEASE_TIME", "LETTER")
PUNCTUATION = ".,'\";:!?-()/&@#$%*_+=<>[]{}\\|`~^"
TOKENS = ("<pad>", "<start>", "<other>", "space", "shift", "backspace", *string.ascii_lowercase, *string.digits, *PUNCTUATION)
TOKEN_ID = {t: i for i, t in enumerate(TOKENS)}
START, OTHER, SPACE, SHIFT, BACKSPACE = (TOKEN_ID[t] for t in ("<start>", "<other>", "space", "shift", "backspace"))
#: Characters typed with shift on a US layout (besides the upper-case letters).
SHIFTED_SYMBOLS = set('~!@#$%^&*()_+{}|:"<>?')
NUMERIC = ("shifted", "prev_log_interval", "first", "pace_log_interval", "pace_log_dwell")
INTERVAL_MS = (2.0, 5000.0)
DWELL_MS = (5.0, 2000.0)
LOG_CENTER = 5.0  # log ms: inputs are (log ms - LOG_CENTER), about -2..3
HOLDOUT_EVERY = 5


def char_token(ch):
    """The token of a typed character (``' '`` -> space; upper case -> its letter)."""
    if ch == " ":
        return SPACE
    return TOKEN_ID.get(ch.lower(), OTHER) if len(ch) == 1 else OTHER


def needs_shift(ch):
    """Whether ``ch`` is typed with shift (US layout): an upper-case letter or a shifted symbol."""
    return (ch.isalpha() and ch != ch.lower()) or ch in SHIFTED_SYMBOLS


def letter_token(letter):
    """The token of an aalto ``LETTER`` cell (``SHIFT``, ``BKSP``, ``' '``, a character, a key name)."""
    if letter == "SHIFT":
        return SHIFT
    if letter == "BKSP":
        return BACKSPACE
    return char_token(letter) if len(letter) == 1 else OTHER


def typist_split(pid):
    """``"test"`` (held out) or ``"train"``, fixed by the participant id (module doc)."""
    return "test" if int(hashlib.sha1(str(pid).encode()).hexdigest(), 16) % HOLDOUT_EVERY == 0 else "train"


@dataclasses.dataclass
class Section:
    """One typed sentence: its keystrokes in press order."""

    pid: str
    section: str
    sentence: str
    user_input: str
    press: np.ndarray  # ms since the section's first press
    release: np.ndarray
    letter: list
    token: np.ndarray


@dataclasses.dataclass
class Typist:
    pid: str
    sections: list
    report: RepairReport = dataclasses.field(default_factory=RepairReport)  # the rows read_typist dropped, counted

    def pace(self):
        """(log median interval, log median dwell), ms, over all the typist's sections (:func:`pace_of`)."""
        iv = np.concatenate([np.diff(s.press) for s in self.sections]) if self.sections else np.array([])
        dw = np.concatenate([s.release - s.press for s in self.sections]) if self.sections else np.array([])
        return pace_of(iv, dw)


def pace_of(intervals, dwells):
    """A typist's pace, the keystroke model's pace input: (log median interval between presses,
    log median dwell), ms, each clipped to :data:`INTERVAL_MS` / :data:`DWELL_MS` first (NaN
    where there is none). The training typists' paces and a ``--style`` session's are read
    by this one rule."""
    iv = np.clip(np.asarray(intervals, dtype=np.float64), *INTERVAL_MS)
    dw = np.clip(np.asarray(dwells, dtype=np.float64), *DWELL_MS)
    return (float(np.log(np.median(iv))) if len(iv) else np.nan, float(np.log(np.median(dw))) if len(dw) else np.nan)


def participant_files(data_dir):
    """``<data_dir>/participants/*_keystrokes.txt.gz``, sorted by participant id (numeric)."""
    folder = Path(data_dir) / "participants"
    files = list(folder.glob("*_keystrokes.txt*"))
    return sorted(files, key=lambda p: (len(p.name.split("_")[0]), p.name))


def pid_of(path):
    return Path(path).name.split("_keystrokes")[0]


def read_typist(path):
    """A :class:`Typist` from a raw participant file. Rows that cannot be used are dropped and
    counted, with their first lines, in the typist's ``report`` (a sentence holding a tab, times
    that are not numbers, a release before its press); a section of one keystroke gives no row."""
    report = RepairReport(path=str(Path(path).parent))
    cols, lines = split_table(read_source_text(path, "latin-1"), path, COLUMNS, "\t", repair=True, report=report)
    problems = {}  # the aalto importer's checks, with its messages
    press = parse_numbers(cols["PRESS_TIME"], "PRESS_TIME", problems)
    release = parse_numbers(cols["RELEASE_TIME"], "RELEASE_TIME", problems)
    for i in np.flatnonzero(release < press):
        problems.setdefault(int(i), ("RELEASE_TIME", "release before its press (PRESS_TIME)"))
    ok = drop_bad_rows(problems, len(press), path, lines, True, report)
    sections = []
    sec = cols["TEST_SECTION_ID"]
    for sid in dict.fromkeys(sec[ok].tolist()):
        rows = np.flatnonzero(ok & (sec == sid))
        rows = rows[np.argsort(press[rows], kind="stable")]
        if len(rows) < 2:
            continue
        p0 = press[rows[0]]
        letters = [str(x) for x in cols["LETTER"][rows]]
        sections.append(Section(pid=pid_of(path), section=str(sid), sentence=str(cols["SENTENCE"][rows[0]]),
                                user_input=str(cols["USER_INPUT"][rows[0]]), press=press[rows] - p0, release=release[rows] - p0,
                                letter=letters, token=np.array([letter_token(x) for x in letters], dtype=np.int32)))
    return Typist(pid=pid_of(path), sections=sections, report=report)


def read_typists(data_dir, split="train", max_people=None):
    """The typists of ``split`` (``"train"``, ``"test"`` or ``"all"``), in id order, at most ``max_people``."""
    out = []
    for f in participant_files(data_dir):
        if split != "all" and typist_split(pid_of(f)) != split:
            continue
        t = read_typist(f)
        if t.sections:
            out.append(t)
        if max_people is not None and len(out) >= max_people:
            break
    return out


def log_ms(ms, bounds):
    return np.log(np.clip(np.asarray(ms, dtype=np.float64), *bounds))


def section_rows(section, pace):
    """The rows of one section: ``(prev_token, token, numeric [n, len(NUMERIC)], targets [n, 2])``
    (targets: log interval, log dwell)."""
    tok = section.token
    iv = log_ms(np.diff(section.press), INTERVAL_MS)
    dw = log_ms((section.release - section.press)[1:], DWELL_MS)
    n = len(iv)
    prev_iv = np.r_[0.0, iv[:-1] - LOG_CENTER] if n else np.zeros(0)
    first = np.r_[1.0, np.zeros(max(n - 1, 0))][:n]
    shifted = np.array([needs_shift(x) if len(x) == 1 else False for x in section.letter[1:]], dtype=np.float64)
    numeric = np.column_stack([shifted, prev_iv, first, np.full(n, pace[0] - LOG_CENTER), np.full(n, pace[1] - LOG_CENTER)])
    return tok[:-1], tok[1:], numeric.astype(np.float32), np.column_stack([iv, dw]).astype(np.float32)


def keystroke_rows(typists):
    """All rows of ``typists`` (:func:`section_rows`), concatenated: ``{"prev", "key", "numeric"}`` and targets."""
    parts = [section_rows(s, t.pace()) for t in typists for s in t.sections]
    prev, key, num, y = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return {"prev": prev.astype(np.int32), "key": key.astype(np.int32), "numeric": num}, y


def typo_statistics(typists, max_run=10):
    """Typos with corrections, learned from the data: per typed (non-shift, non-backspace) key, the
    rate at which a run of backspaces begins, and the distribution of run lengths (1..``max_run``)."""
    runs, typed = [], 0
    for t in typists:
        for s in t.sections:
            bk = s.token == BACKSPACE
            typed += int((~bk & (s.token != SHIFT)).sum())
            edges = np.diff(np.r_[0, bk.astype(int), 0])
            runs += (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()
    runs = np.clip(np.array(runs, dtype=int), 1, max_run)
    counts = np.bincount(runs, minlength=max_run + 1)[1:]
    return {"rate_per_key": float(len(runs) / max(typed, 1)), "run_length_p": (counts / max(counts.sum(), 1)).tolist(),
            "runs": int(len(runs)), "typed_keys": int(typed)}


def shift_release_lags(typists):
    """Over every shift press followed by a shifted character: shift release minus that character's
    press (ms); the shift is let go this long after the key it modified went down."""
    lags = []
    for t in typists:
        for s in t.sections:
            for i in np.flatnonzero(s.token[:-1] == SHIFT):
                j = i + 1
                if len(s.letter[j]) == 1 and needs_shift(s.letter[j]):
                    lags.append(s.release[i] - s.press[j])
    return np.array(lags, dtype=np.float64)


__all__ = [
    "BACKSPACE", "HOLDOUT_EVERY", "NOTICE", "NUMERIC", "SHIFT", "SPACE", "START", "TOKENS", "Section", "Typist", "char_token",
    "keystroke_rows", "needs_shift", "pace_of", "participant_files", "read_typist", "read_typists", "section_rows", "shift_release_lags",
    "typist_split", "typo_statistics",
]
