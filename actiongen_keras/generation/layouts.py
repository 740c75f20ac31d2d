"""Keyboard layouts for typing (the ``type`` goal of ``generation/act.py``): which keys type a
character, and where those keys are.

One rules table, :data:`LAYOUTS`, holds every layout as data; :func:`layout` builds the same
lookups from any of them (nothing here is written per layout). A layout gives, per row of
the keyboard, its character keys left to right, each key written as the characters it types
at its levels: base, with shift, with AltGr (``"7/{"`` on German: ``7``, shift ``/``, AltGr
``{``), and the characters among those that are **dead keys** (``^`` on French: it types
nothing itself; the next letter comes out accented, ``^`` then ``e`` types ``ê``; ``^`` then
space types ``^``). A character is typed by the key that has it, with the modifiers of its
level (``shift``, or AltGr, pressed as the key ``altgr``); one no key has is typed as a dead
key then the letter (:data:`DEAD_MARKS`: the accent a dead key adds, composed by Unicode
NFC), and one neither can make is not typable on that layout (refused up front by
``typing.check_text``). ``space``, ``enter`` and ``tab`` type the same on every layout.

**Key names** are what a recorder on that layout writes for the press (the
``actiongen-session/1`` convention the Aalto importer follows on US keyboards): the
character the key types at that level, lower case: ``a`` for ``a`` and ``A``, ``!`` for
shift+1 on US, ``/`` for shift+7 and ``@`` for AltGr+q on German, ``1`` for shift+``&`` on
French; a dead key is named by its accent (``^``, ``¨``).

**Physical positions.** Each key has a (row, column) on the shared ISO/ANSI grid: row 0 the
digit row, 1 the top letter row, 2 the home row, 3 the bottom row; column 0 the leftmost
character key of the row on an ISO board (the ISO key left of ``z``/``y``/``w`` is row 3
column 0, so US ``z`` is column 1; ANSI's ``\\`` above enter is row 1 column 12; ISO's key
left of enter is row 2 column 11). Positions matter because the keystroke-timing model was
trained on typists at US keyboards (the Aalto data): what it learned about a key is the
finger travel to that spot, not the letter printed on it. So a stroke is timed as the US key
at the same position (:meth:`Layout.strokes`): German ``z`` (where US has ``y``) as ``y``,
French ``a`` as ``q``, a shifted key as the US key's shifted character (German ``/``,
shift+7, as ``&``), an AltGr one as the US key's base character. A key with no US key at its
position (ISO's ``<`` key left of ``y`` on German, ``#`` left of enter on UK) is timed as the
nearest US key in its row (``z``, ``'``): the same finger. The ``altgr`` press itself has no
place in the US grid and is timed as ``<other>``, the token the model learned for every key
outside its vocabulary (in the data: ``alt``, ``ctrl``, ``enter``, accented letters).

Typo neighbours (:attr:`Layout.typo_rows`) come from the same rows: the runs of adjacent
letter keys of each row (``qwertzuiopü`` on German), so a slip hits a key next to the
intended one on that board. For ``us`` these are the QWERTY rows the typing code always used,
and ``us`` output is what it was before layouts (the same keys, tokens and events for a seed).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from functools import cache

from actiongen_keras.data import keystrokes as K
from actiongen_keras.errors import ActiongenError

#: Characters typed by a named key alike on every layout.
NAMED = {" ": "space", "\n": "enter", "\t": "tab"}
#: Per dead-key symbol: the accent it adds to the next letter (a combining mark) and the letters it
#: accents (those the Windows layouts compose); with space it types itself.
DEAD_MARKS = {"^": ("\u0302", "aeiouAEIOU"), "¨": ("\u0308", "aeiouyAEIOUY"), "´": ("\u0301", "aeiouyAEIOUY"),
              "`": ("\u0300", "aeiouAEIOU"), "~": ("\u0303", "anoANO")}
MODIFIERS = ("shift", "altgr")  # the levels after base, in the order a key's characters are written
DEFAULT_LAYOUT = "us"

#: The rules table. ``rows``: per row, the first column and the keys (space-separated; each key
#: its characters at base, shift, AltGr); ``dead``: characters that are dead keys; ``covers``: a
#: summary (README).
LAYOUTS = {
    "us": {
        "name": "English (US), ANSI",
        "rows": ((0, "`~ 1! 2@ 3# 4$ 5% 6^ 7& 8* 9( 0) -_ =+"),
                 (0, "qQ wW eE rR tT yY uU iI oO pP [{ ]} \\|"),
                 (0, "aA sS dD fF gG hH jJ kK lL ;: '\""),
                 (1, "zZ xX cC vV bB nN mM ,< .> /?")),
        "dead": "",
        "covers": "ASCII letters, digits and punctuation (the model's own layout)",
    },
    "uk": {
        "name": "English (UK), ISO",
        "rows": ((0, "`¬¦ 1! 2\" 3£ 4$€ 5% 6^ 7& 8* 9( 0) -_ =+"),
                 (0, "qQ wW eE rR tT yY uU iI oO pP [{ ]}"),
                 (0, "aA sS dD fF gG hH jJ kK lL ;: '@ #~"),
                 (0, "\\| zZ xX cC vV bB nN mM ,< .> /?")),
        "dead": "",
        "covers": "as US, with £ ¬ ¦ € (AltGr+4); \" and @ swapped, # ~ left of enter, \\ | left of z",
    },
    "de": {
        "name": "German (QWERTZ, T1), ISO",
        "rows": ((0, "^° 1! 2\"² 3§³ 4$ 5% 6& 7/{ 8([ 9)] 0=} ß?\\ ´`"),
                 (0, "qQ@ wW eE€ rR tT zZ uU iI oO pP üÜ +*~"),
                 (0, "aA sS dD fF gG hH jJ kK lL öÖ äÄ #'"),
                 (0, "<>| yY xX cC vV bB nN mMµ ,; .: -_")),
        "dead": "^´`",
        "covers": "QWERTZ, ä ö ü ß § ° ² ³ µ, AltGr @ € { } [ ] \\ ~ |; dead ^ ´ `: â é è ... (then the letter)",
    },
    "fr": {
        "name": "French (AZERTY), ISO",
        "rows": ((0, "² &1 é2~ \"3# '4{ (5[ -6| è7` _8\\ ç9 à0@ )°] =+}"),
                 (0, "aA zZ eE€ rR tT yY uU iI oO pP ^¨ $£¤"),
                 (0, "qQ sS dD fF gG hH jJ kK lL mM ù% *µ"),
                 (0, "<> wW xX cC vV bB nN ,? ;. :/ !§")),
        "dead": "^¨~`",
        "covers": "AZERTY, digits on shift, é è ç à ù, £ ¤ § µ ° ², AltGr € # { } [ ] | \\ @; dead ^ ¨ ~ `: ê ë ï ñ ì ... "
                  "(no É Ç: not on the keys)",
    },
}
LAYOUT_NAMES = tuple(sorted(LAYOUTS))


@dataclasses.dataclass(frozen=True)
class Key:
    """One press of a typing: its key name, the model token it is timed as, the modifiers held,
    whether it is a dead key, and its (row, column) (``None`` for named keys)."""

    name: str
    token: int
    mods: tuple
    dead: bool = False
    pos: tuple | None = None


@dataclasses.dataclass(frozen=True)
class Layout:
    """A layout's lookups (module doc), built by :func:`layout` from :data:`LAYOUTS`."""

    name: str
    chars: dict  # character -> tuple of Key (the presses that type it, modifiers apart)
    replay: dict  # (key name, shift held, altgr held) -> (character, dead)
    compose: dict  # (dead symbol, character) -> composed character
    typo_rows: tuple  # strings of adjacent letter keys (base characters), two or more
    base: dict  # (row, column) -> the base character of the key there

    def can_type(self, ch):
        return ch in self.chars

    def strokes(self, ch):
        """The presses typing ``ch`` (a dead key first where it needs one)."""
        return self.chars[ch]

    def base_letter(self, ch):
        """The base character of the key that types ``ch`` (its last press): the typo's anchor."""
        k = self.chars.get(ch)
        return self.base.get(k[-1].pos, "") if k else ""


def _grid(spec):
    """``{(row, col): [characters by level]}`` of a table entry."""
    out = {}
    for r, (first, keys) in enumerate(spec["rows"]):
        for c, key in enumerate(keys.split(" ")):
            if not 1 <= len(key) <= 1 + len(MODIFIERS):
                raise ValueError(f"layout table: key {key!r} has {len(key)} levels")
            out[(r, first + c)] = list(key)
    return out


def _name(ch):
    low = ch.lower()
    return low if len(low) == 1 else ch


@cache
def _us_grid():
    return _grid(LAYOUTS["us"])


def position_token(pos, level):
    """The model token of a key at ``pos`` pressed at ``level`` (0 base, 1 shift, 2 AltGr): the
    US key's character there, shifted for shift (module doc); a position the US board has no
    key at takes the nearest US key of its row."""
    us = _us_grid()
    if pos not in us:
        row = [c for (r, c) in us if r == pos[0]]
        pos = (pos[0], min(row, key=lambda c: (abs(c - pos[1]), c)))
    chars = us[pos]
    return K.char_token(chars[1] if level == 1 else chars[0])


#: The AltGr press: no place on the US grid, timed as the model's ``<other>`` (module doc).
ALTGR = Key(name="altgr", token=K.OTHER, mods=())


def layout(name=DEFAULT_LAYOUT, where="layout"):
    """The :class:`Layout` of a name of :data:`LAYOUTS`; another name is refused with the known ones."""
    if not isinstance(name, str) or name not in LAYOUTS:
        raise ActiongenError(f"{where}: unknown keyboard layout {name!r} (known: {', '.join(LAYOUT_NAMES)})")
    return _build(name)


@cache
def _build(name):
    spec = LAYOUTS[name]
    grid = _grid(spec)
    chars, replay, base, dead_keys = {}, {}, {}, {}
    for pos, levels in grid.items():
        for level, ch in enumerate(levels):
            mods = (MODIFIERS[level - 1],) if level else ()
            dead = ch in spec["dead"]
            key = Key(name=_name(ch), token=position_token(pos, level), mods=mods, dead=dead, pos=pos)
            sig = (key.name, "shift" in mods, "altgr" in mods)
            if sig in replay:
                raise ValueError(f"layout table {name}: key name {key.name!r} at {pos} twice with the same modifiers")
            replay[sig] = (ch, dead)
            base[pos] = levels[0]
            if dead:
                dead_keys[ch] = key
            elif ch not in chars:
                chars[ch] = (key,)
    for ch, nm in NAMED.items():
        chars[ch] = (Key(name=nm, token=K.char_token(ch), mods=()),)
        replay[(nm, False, False)] = (ch, False)
    compose = {}
    for d, key in dead_keys.items():
        compose[(d, " ")] = d
        chars.setdefault(d, (key, chars[" "][0]))
        mark, letters = DEAD_MARKS[d]
        for letter in letters:
            made = unicodedata.normalize("NFC", letter + mark)
            if len(made) != 1 or letter not in chars:
                continue
            compose[(d, letter)] = made
            chars.setdefault(made, (key, *chars[letter]))
    rows = []
    for r, (first, keys) in enumerate(spec["rows"]):
        run = ""
        for c in range(first, first + len(keys.split(" "))):
            ch = grid[(r, c)][0]
            if ch.isalpha() and ch not in spec["dead"]:
                run += ch
            else:
                rows += [run] if len(run) > 1 else []
                run = ""
        rows += [run] if len(run) > 1 else []
    return Layout(name=name, chars=chars, replay=replay, compose=compose, typo_rows=tuple(rows), base=base)


def as_layout(value, where="layout"):
    """A :class:`Layout` from a name or a :class:`Layout` (``None``: :data:`DEFAULT_LAYOUT`)."""
    if isinstance(value, Layout):
        return value
    return layout(DEFAULT_LAYOUT if value is None else value, where)


def typable(ch):
    """The layouts that can type ``ch``."""
    return [n for n in LAYOUT_NAMES if layout(n).can_type(ch)]


__all__ = ["ALTGR", "DEAD_MARKS", "DEFAULT_LAYOUT", "LAYOUTS", "LAYOUT_NAMES", "Key", "Layout", "NAMED", "as_layout", "layout",
           "position_token", "typable"]
