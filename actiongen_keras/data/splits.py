"""Train/validation/test splits: held-out people, held-out maps, or time blocks.

The mode of each source is ``splits.mode`` (:class:`~actiongen_keras.config.SplitConfig`,
``actiongen dataset build --split-mode``); the fractions ``(train, validation, test)`` are
``splits.fractions`` (default 0.7/0.1/0.2, ``--split-fractions``).

1. **subject** (held-out people). Each ``subject`` string is hashed (SHA-256 -> a number
   ``u`` in [0, 1)); ``u < f_train`` -> train, ``u < f_train + f_val`` -> validation, else
   test. A person's sessions all land in one split, and adding sessions or people never
   moves anyone already assigned. Needs ``min_subjects`` people (default 10) and each
   split with a positive fraction reached by the hash. SapiMouse (72 people) gets 48/9/15.
2. **map** (held-out maps; the sessions must name their map: :data:`MAP_FIELDS` of
   ``session.json``, the osu! importer's ``beatmap_md5``). Sessions are grouped by map;
   with ``min_subjects`` people or more the groups are the connected sets of sessions that
   share a map *or* a person, so the test split's maps **and** players are never trained
   on (mode ``map+subject``), else (fewer people, or too few such sets to fill every split)
   players recur and only the maps are new (mode ``map``).
   Groups are assigned largest first (ties by the hash of the map) to the split that is
   furthest below its fraction of the source's recorded time, which honours the fractions
   as closely as whole maps allow (a 53-minute marathon cannot be cut). Adding a map can
   move others: rebuild, and compare the held-out maps in ``splits.json``.
3. **blocks** (later play of the same people). Each session is cut by time: with
   ``t0``/``t1`` its first/last event and ``d = t1 - t0``, train is
   ``[t0, t0 + f_train d)``, validation the next ``f_val d``, test the rest. A window belongs
   to a block only if its whole span, history and target (``[T - history_ms, T + target_ms)``),
   lies inside the block, so no window's context crosses into another split and between the
   last training target and the first validation target there are at least ``history_ms``
   of events that are nobody's target. Not person- or map-disjoint (the report says so).

``auto`` (the default) picks, per source: **map** when every session names its map and
there are enough maps for every split, else **subject** when there are enough people,
else **blocks**. A mode asked for by name that the source cannot have is a
:class:`~actiongen_keras.errors.DataError` saying why (``blocks`` always works).

``splits.json`` (format ``actiongen-splits/1``)::

    {
      "format": "actiongen-splits/1",
      "fractions": [0.7, 0.1, 0.2],
      "mode": "auto",                                                      # as asked
      "min_subjects": 10,
      "subjects": {"<subject>": "train" | "validation" | "test", ...},    # subject and map+subject sources
      "maps": {"<source>": {"<map>": "train" | "validation" | "test"}},   # map and map+subject sources
      "__blocks__": {
        "<source>": {"<session_id>": {"train": [r0, r1], "validation": [r1, r2], "test": [r2, r3]}}
      },
      "modes": {"<source>": "subject" | "map" | "map+subject" | "blocks"},
      "held_out": {"<source>": {"validation": {"maps": [...], "subjects": [...]}, "test": {...}}}
    }

``held_out`` is derived (written for people to read; ``actiongen dataset build`` prints it).
Split names are the TFDS ones: ``train``, ``validation``, ``test`` (``val`` is accepted
as an alias wherever a split is named).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict

from actiongen_keras.config import SPLIT_MODES, SplitConfig, check_fractions
from actiongen_keras.data.jsonfile import load_json, save_json
from actiongen_keras.errors import ConfigError, DataError, FormatError

SPLITS = ("train", "validation", "test")
SPLITS_FORMAT = "actiongen-splits/1"
SPLITS_FILE = "splits.json"
#: ``session.json`` keys (kept in ``Session.extra``) that name the map a session was played on.
MAP_FIELDS = ("beatmap_md5",)
_ALIASES = {"val": "validation", "valid": "validation", "validation": "validation", "train": "train", "test": "test"}
_DEFAULT = SplitConfig()


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


def subject_split(subject, fractions=_DEFAULT.fractions):
    u = subject_fraction(subject)
    a = fractions[0]
    b = fractions[0] + fractions[1]
    return "train" if u < a else ("validation" if u < b else "test")


def session_map(session):
    """The map ``session`` was played on (:data:`MAP_FIELDS`), or ``None``."""
    if isinstance(session, SessionInfo):
        return session.map
    extra = getattr(session, "extra", None) or {}
    for k in MAP_FIELDS:
        if extra.get(k):
            return str(extra[k])
    return None


@dataclasses.dataclass
class SessionInfo:
    """What the split rule needs of a session."""

    session_id: str
    source: str
    subject: str
    t_start: float
    t_end: float
    map: str | None = None

    @classmethod
    def of(cls, session):
        t = session.events.t_ms
        return cls(session.session_id, session.source, session.subject, float(t[0]) if len(t) else 0.0,
                   float(t[-1]) if len(t) else 0.0, session_map(session))


@dataclasses.dataclass
class Splits:
    fractions: tuple = _DEFAULT.fractions
    min_subjects: int = _DEFAULT.min_subjects
    subjects: dict = dataclasses.field(default_factory=dict)
    blocks: dict = dataclasses.field(default_factory=dict)  # source -> session_id -> split -> [r0, r1]
    modes: dict = dataclasses.field(default_factory=dict)
    maps: dict = dataclasses.field(default_factory=dict)  # source -> map -> split
    mode: str = _DEFAULT.mode  # as asked (``modes`` holds what each source got)
    held_out: dict = dataclasses.field(default_factory=dict)  # source -> split -> {"maps": [...], "subjects": [...]}

    def split_of(self, session):
        """``"train"``/``"validation"``/``"test"``, ``"blocks"`` (cut by time) or ``None`` (not assigned)."""
        blk = self.blocks.get(session.source, {}).get(session.session_id)
        if blk is not None:
            return "blocks"
        if self.modes.get(session.source, "").startswith("map"):
            return self.maps.get(session.source, {}).get(session_map(session))
        return self.subjects.get(session.subject)

    def parts(self, split, sessions):
        """``[(session, time_range or None)]`` of ``split`` among ``sessions``."""
        split = canonical_split(split)
        out = []
        for s in sessions:
            got = self.split_of(s)
            if got == "blocks":
                blk = self.blocks[s.source][s.session_id]
                if split in blk:
                    out.append((s, tuple(blk[split])))
            elif got == split:
                out.append((s, None))
        return out

    def to_dict(self):
        return {
            "format": SPLITS_FORMAT,
            "fractions": list(self.fractions),
            "mode": self.mode,
            "min_subjects": self.min_subjects,
            "subjects": dict(sorted(self.subjects.items())),
            "maps": {src: dict(sorted(v.items())) for src, v in sorted(self.maps.items())},
            "__blocks__": {src: dict(sorted(v.items())) for src, v in sorted(self.blocks.items())},
            "modes": dict(sorted(self.modes.items())),
            "held_out": self.held_out,
        }

    @classmethod
    def from_dict(cls, d, path=SPLITS_FILE):
        if not isinstance(d, dict) or d.get("format") != SPLITS_FORMAT:
            raise FormatError(path, f"format must be '{SPLITS_FORMAT}'", field="format")
        return cls(
            fractions=tuple(d.get("fractions", (0.8, 0.1, 0.1))),  # files from before the fractions were recorded
            min_subjects=int(d.get("min_subjects", 10)),
            subjects=dict(d.get("subjects", {})),
            blocks={k: dict(v) for k, v in d.get("__blocks__", {}).items()},
            modes=dict(d.get("modes", {})),
            maps={k: dict(v) for k, v in d.get("maps", {}).items()},
            mode=str(d.get("mode", "auto")),
            held_out=dict(d.get("held_out", {})),
        )

    def save(self, path):
        return save_json(self.to_dict(), path, SPLITS_FILE)

    def summary_lines(self):
        """One line per source: its mode and, per held-out split, its maps and people."""
        held = self.held_out
        lines = []
        for source, mode in sorted(self.modes.items()):
            parts = []
            for sp, d in held.get(source, {}).items():
                if not any(d.values()):
                    continue
                what = [f"{k} ({len(v)}): {_short_list(v)}" for k, v in d.items()]
                parts.append(f"{sp} " + "; ".join(what))
            lines.append(f"{source}: {mode}" + (" (" + " | ".join(parts) + ")" if parts else " (each session cut by time)"))
        return lines


def _short_list(names, n=12):
    names = [n_[:10] if len(n_) == 32 else n_ for n_ in names]  # MD5s: the first 10 hex digits name a map well enough
    return ", ".join(names[:n]) + (f", ... ({len(names) - n} more)" if len(names) > n else "")


def load_splits(data_dir):
    d, p = load_json(data_dir, SPLITS_FILE)
    return Splits.from_dict(d, p)


def _wanted(fractions):
    return [sp for sp, f in zip(SPLITS, fractions) if f > 0]


def balanced_assign(sizes, fractions):
    """``{group: split}``: groups largest first (ties by the hash of the name), each to the
    split furthest below its share of the total, measured relative to that share: an empty
    split is always furthest below, so every split with a positive fraction gets a group
    when there are enough groups. Ties go to the split with the larger fraction."""
    total = float(sum(sizes.values())) or 1.0
    target = {sp: f * total for sp, f in zip(SPLITS, fractions) if f > 0}
    have = dict.fromkeys(target, 0.0)
    out = {}
    for g in sorted(sizes, key=lambda g: (-sizes[g], subject_fraction(g))):
        sp = max(target, key=lambda sp: ((target[sp] - have[sp]) / target[sp], target[sp]))
        out[g] = sp
        have[sp] += sizes[g]
    return out


def _groups(items, by_subject):
    """Connected sets of sessions that share a map (and, ``by_subject``, a person): union-find."""
    parent = {}

    def find(a):
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for s in items:
        m = ("map", session_map(s))
        find(m)
        if by_subject:
            parent[find(("subject", s.subject))] = find(m)
    return {s.session_id: find(("map", session_map(s))) for s in items}


def _map_split(items, fractions, by_subject):
    """``{map: split}``, ``{subject: split}`` of a map-mode source, or ``None`` when a split stays empty."""
    group_of = _groups(items, by_subject)
    sizes = defaultdict(float)
    for s in items:
        sizes[group_of[s.session_id]] += max(s.t_end - s.t_start, 0.0)
    # a group is named by its first map in sorted order, so the hash tie-break does not depend on input order
    names = defaultdict(list)
    for s in items:
        names[group_of[s.session_id]].append(session_map(s))
    name = {g: min(v) for g, v in names.items()}
    assigned = balanced_assign({name[g]: v for g, v in sizes.items()}, fractions)
    if set(assigned.values()) < set(_wanted(fractions)):
        return None
    maps = {session_map(s): assigned[name[group_of[s.session_id]]] for s in items}
    subjects = {s.subject: assigned[name[group_of[s.session_id]]] for s in items} if by_subject else {}
    return maps, subjects


def _held_out(maps, subjects):
    """What validation and test hold that training never sees (``maps`` None: not split by map)."""
    out = {}
    for sp in SPLITS[1:]:
        d = {}
        if maps is not None:
            d["maps"] = sorted(m for m, v in maps.items() if v == sp)
        if subjects:
            d["subjects"] = sorted(k for k, v in subjects.items() if v == sp)
        out[sp] = d
    return out


def assign_splits(sessions, fractions=_DEFAULT.fractions, min_subjects=_DEFAULT.min_subjects, mode=_DEFAULT.mode):
    """Assign every session (``Session`` or :class:`SessionInfo`) to splits by the rules above.

    Raises:
        DataError: fractions that are not three numbers >= 0 summing to 1 (train and test
            above 0), an unknown mode, or a mode asked for by name that a source cannot have.
    """
    try:
        fractions = check_fractions(fractions)
    except ConfigError as e:
        raise DataError(str(e)) from None
    if mode not in SPLIT_MODES:
        raise DataError(f"split mode must be one of {', '.join(SPLIT_MODES)}, got {mode!r}")
    infos = [s if isinstance(s, SessionInfo) else SessionInfo.of(s) for s in sessions]
    by_source = defaultdict(list)
    for s in infos:
        by_source[s.source].append(s)
    out = Splits(fractions=fractions, min_subjects=int(min_subjects), mode=mode)
    wanted = set(_wanted(fractions))
    for source, items in sorted(by_source.items()):
        subjects = sorted({s.subject for s in items})
        enough_people = len(subjects) >= min_subjects
        if mode in ("auto", "map"):
            named = all(s.map for s in items)
            n_maps = len({s.map for s in items if s.map})
            got = None
            if named and n_maps >= len(wanted):
                got = (_map_split(items, fractions, True) if enough_people else None) or _map_split(items, fractions, False)
                if got is not None:
                    out.modes[source] = "map+subject" if got[1] else "map"
                    out.maps[source] = got[0]
                    out.subjects.update(got[1])
                    out.held_out[source] = _held_out(got[0], got[1])
                    continue
            if mode == "map":
                why = ("every session must name its map (session.json: " + " or ".join(MAP_FIELDS) + ")" if not named
                       else f"{n_maps} map(s) cannot fill the splits {sorted(wanted)}")
                raise DataError(f"source '{source}': split mode 'map' impossible: {why}")
        if mode in ("auto", "subject"):
            assigned = {subj: subject_split(subj, fractions) for subj in subjects}
            if enough_people and wanted <= set(assigned.values()):
                out.modes[source] = "subject"
                out.subjects.update(assigned)
                out.held_out[source] = _held_out(None, assigned)
                continue
            if mode == "subject":
                raise DataError(f"source '{source}': split mode 'subject' impossible: {len(subjects)} people "
                                f"(need {min_subjects}) whose hash reaches the splits {sorted(set(assigned.values()))} of {sorted(wanted)}")
        out.modes[source] = "blocks"
        blocks = out.blocks.setdefault(source, {})
        for s in items:
            d = s.t_end - s.t_start
            c1 = s.t_start + fractions[0] * d
            c2 = c1 + fractions[1] * d
            edges = {"train": [s.t_start, c1], "validation": [c1, c2], "test": [c2, s.t_end]}
            blocks[s.session_id] = {sp: [float(a), float(b)] for sp, (a, b) in edges.items() if sp in wanted}
    return out
