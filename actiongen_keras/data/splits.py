"""Train/validation/test splits: person-disjoint where there are enough people.

The rule, per source:

1. **By person** (the default). Each ``subject`` string is hashed (SHA-256 -> a number
   ``u`` in [0, 1)); ``u < 0.8`` -> train, ``u < 0.9`` -> validation, else test (the
   fractions are configurable). A person's sessions all land in one split, and adding
   sessions or people never moves anyone already assigned.
2. **By time blocks**, for a source with fewer than ``min_subjects`` people (default 10),
   or where the hash leaves a split without any of its people (osu! here: 2 players, one
   of them with a single 53-minute replay). Each session of such a source is cut by time:
   with ``t0``/``t1`` its first/last event and ``d = t1 - t0``, train is
   ``[t0, t0 + 0.8 d)``, validation ``[t0 + 0.8 d, t0 + 0.9 d)``, test ``[t0 + 0.9 d, t1]``.
   A window belongs to a block only if its whole span, history and target
   (``[T - history_ms, T + target_ms)``), lies inside the block, so no window's context
   crosses into another split and between the last training target and the first
   validation target there are at least ``history_ms`` of events that are nobody's
   target. Block splits are *not* person-disjoint (the report says so); they measure
   generalisation to later play of the same people. Adding a session never changes the
   blocks of another; a source that reaches ``min_subjects`` people switches to rule 1.

``splits.json`` (format ``actiongen-splits/1``)::

    {
      "format": "actiongen-splits/1",
      "fractions": [0.8, 0.1, 0.1],
      "min_subjects": 10,
      "subjects": {"<subject>": "train" | "validation" | "test", ...},   # rule 1 sources
      "__blocks__": {                                                     # rule 2 sources
        "<source>": {"<session_id>": {"train": [r0, r1], "validation": [r1, r2], "test": [r2, r3]}}
      },
      "modes": {"<source>": "subject" | "blocks"}
    }

Split names are the TFDS ones: ``train``, ``validation``, ``test`` (``val`` is accepted
as an alias wherever a split is named).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict

from actiongen_keras.data.jsonfile import load_json, save_json
from actiongen_keras.errors import DataError, FormatError

SPLITS = ("train", "validation", "test")
SPLITS_FORMAT = "actiongen-splits/1"
SPLITS_FILE = "splits.json"
_ALIASES = {"val": "validation", "valid": "validation", "validation": "validation", "train": "train", "test": "test"}


def canonical_split(name):
    """``"val"`` -> ``"validation"``; unknown names raise DataError."""
    base = str(name).split("[")[0]
    if base not in _ALIASES:
        raise DataError(f"unknown split {name!r}; expected one of {SPLITS} (or 'val')")
    return _ALIASES[base] + str(name)[len(base):]


def subject_fraction(subject):
    """Stable number in [0, 1) from the subject string (SHA-256, not Python's salted hash)."""
    h = hashlib.sha256(str(subject).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


def subject_split(subject, fractions=(0.8, 0.1, 0.1)):
    u = subject_fraction(subject)
    a = fractions[0]
    b = fractions[0] + fractions[1]
    return "train" if u < a else ("validation" if u < b else "test")


@dataclasses.dataclass
class SessionInfo:
    """What the split rule needs of a session."""

    session_id: str
    source: str
    subject: str
    t_start: float
    t_end: float

    @classmethod
    def of(cls, session):
        t = session.events.t_ms
        return cls(session.session_id, session.source, session.subject, float(t[0]) if len(t) else 0.0, float(t[-1]) if len(t) else 0.0)


@dataclasses.dataclass
class Splits:
    fractions: tuple = (0.8, 0.1, 0.1)
    min_subjects: int = 10
    subjects: dict = dataclasses.field(default_factory=dict)
    blocks: dict = dataclasses.field(default_factory=dict)  # source -> session_id -> split -> [r0, r1]
    modes: dict = dataclasses.field(default_factory=dict)

    def parts(self, split, sessions):
        """``[(session, time_range or None)]`` of ``split`` among ``sessions``."""
        split = canonical_split(split)
        out = []
        for s in sessions:
            blk = self.blocks.get(s.source, {}).get(s.session_id)
            if blk is not None:
                if split in blk:
                    out.append((s, tuple(blk[split])))
            elif self.subjects.get(s.subject) == split:
                out.append((s, None))
        return out

    def split_of_session(self, session_id, source, subject):
        blk = self.blocks.get(source, {}).get(session_id)
        return "blocks" if blk is not None else self.subjects.get(subject)

    def to_dict(self):
        return {
            "format": SPLITS_FORMAT,
            "fractions": list(self.fractions),
            "min_subjects": self.min_subjects,
            "subjects": dict(sorted(self.subjects.items())),
            "__blocks__": {src: dict(sorted(v.items())) for src, v in sorted(self.blocks.items())},
            "modes": dict(sorted(self.modes.items())),
        }

    @classmethod
    def from_dict(cls, d, path=SPLITS_FILE):
        if not isinstance(d, dict) or d.get("format") != SPLITS_FORMAT:
            raise FormatError(path, f"format must be '{SPLITS_FORMAT}'", field="format")
        return cls(
            fractions=tuple(d.get("fractions", (0.8, 0.1, 0.1))),
            min_subjects=int(d.get("min_subjects", 10)),
            subjects=dict(d.get("subjects", {})),
            blocks={k: dict(v) for k, v in d.get("__blocks__", {}).items()},
            modes=dict(d.get("modes", {})),
        )

    def save(self, path):
        return save_json(self.to_dict(), path, SPLITS_FILE)


def load_splits(data_dir):
    d, p = load_json(data_dir, SPLITS_FILE)
    return Splits.from_dict(d, p)


def assign_splits(sessions, fractions=(0.8, 0.1, 0.1), min_subjects=10):
    """Assign every session (``Session`` or :class:`SessionInfo`) to splits by the rule above.

    Raises:
        DataError: fractions that are not three non-negative numbers summing to 1.
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise DataError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    infos = [s if isinstance(s, SessionInfo) else SessionInfo.of(s) for s in sessions]
    by_source = defaultdict(list)
    for s in infos:
        by_source[s.source].append(s)
    out = Splits(fractions=fractions, min_subjects=int(min_subjects))
    for source, items in sorted(by_source.items()):
        subjects = sorted({s.subject for s in items})
        assigned = {subj: subject_split(subj, fractions) for subj in subjects}
        covered = {sp for sp in assigned.values()}
        wanted = {sp for sp, f in zip(SPLITS, fractions) if f > 0}
        if len(subjects) >= min_subjects and wanted <= covered:
            out.modes[source] = "subject"
            out.subjects.update(assigned)
            continue
        out.modes[source] = "blocks"
        blocks = out.blocks.setdefault(source, {})
        for s in items:
            d = s.t_end - s.t_start
            c1 = s.t_start + fractions[0] * d
            c2 = c1 + fractions[1] * d
            edges = {"train": [s.t_start, c1], "validation": [c1, c2], "test": [c2, s.t_end]}
            blocks[s.session_id] = {sp: [float(a), float(b)] for sp, (a, b) in edges.items() if sp in wanted}
    return out
