"""Typing a text with a trained keystroke-timing model (the ``type`` goal of ``generation/act.py``).

:func:`keystroke_plan` decides *which* keys are pressed, on a keyboard layout
(``generation/layouts.py``: ``us``, the default, ``uk``, ``de``, ``fr``): per character its
key (key names as a recorder on that layout writes them: the character lower-cased,
``space``, ``enter``, ``tab``; a shifted or AltGr symbol is named by itself, e.g. ``!``), a
dead key before it where the layout makes the character so (``^`` then ``e`` for ``ê`` on
French), a ``shift`` (``altgr``) press before each run of keys that need it (upper case,
``!"#$%...`` on US), and, with typos on, an error episode now and then: a wrong key (a
neighbour in the layout's row of letter keys), the next characters of the text typed on
regardless, as many backspaces as characters typed since the error, and the text resumed.
Episodes begin at the rate per typed key, and with the run lengths, learned from the
training typists' backspace runs (``meta.json`` ``typos``). Each key carries the model token
it is timed as: the US key at the same physical position (``layouts.py``: the model learned
US typists' finger travel), ``<other>`` for ``altgr``.

:func:`time_keystrokes` decides *when*: keystroke after keystroke, the model gives the
interval since the previous press and the dwell, given the previous and current key, shift,
the previous interval and the typist's pace (one pace per text: drawn from the training
typists', or read off a reference recording by :func:`typing_pace`, the style; its median
interval divided by ``tempo``: pace and tempo are inputs the model was trained with, not a
stretch of its output). A press can come before the previous key is up (rollover). Fix-ups that keep the
text exact: the shift (and ``altgr``, with the same lags) is released a learned lag (the
data's shift-release lags) after the last key it modified went down, but before the next key
that must not be shifted; a key pressed again while still down is released just before (a
key cannot be down twice).

The first key goes down one sampled interval after ``start_ms``, timed as if it followed a
space (the data have no interval before a sentence's first key).

The times are then put on the recorder's clock (:func:`Typist.type_texts` ``clock``; whole
milliseconds unless the session they join ticks otherwise): the model's times are
continuous, the Aalto site stamped whole milliseconds, and a key stamped at 412.37 ms is a
generator's. The fix-ups above leave at least half a millisecond between the events whose
order matters, and rounding keeps the order, so two of them may share a millisecond (as
recorded keys do) but never swap.

:func:`typed_text` replays key events into the text they type through the same layout
(shift, AltGr, dead keys, backspace): it is how ``act()`` checks that a text was typed
exactly. :func:`check_text` refuses up front a character the layout cannot type.
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import keystrokes as K
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation.clock import WHOLE_MS, put_on_clock
from actiongen_keras.generation.layouts import ALTGR, DEFAULT_LAYOUT, NAMED, as_layout, typable
from actiongen_keras.models.keystroke import KeystrokeModel
from actiongen_keras.recordings.session import Events

QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")  # the ``us`` layout's typo rows
KEY_CHARS = {v: k for k, v in NAMED.items()}
GAP_MS = 0.5  # the least time between two events that must not coincide
MODIFIER_FLAG = {"shift": 2, "altgr": 4}  # a modifier key -> the plan field saying a key needs it
UNTYPABLE = "\ufffd"  # what typed_text gives for a key pressed with modifiers its layout has no character for
MIN_STYLE_KEYS = 20  # key presses a reference recording needs for its typist's pace (typing_pace)


def key_name(ch, layout=DEFAULT_LAYOUT):
    """The key name of a typed character on ``layout`` (its last key: the letter after a dead key)."""
    if ch in NAMED:
        return NAMED[ch]
    lay = as_layout(layout)
    return lay.strokes(ch)[-1].name if lay.can_type(ch) else ch.lower()


def _neighbour(ch, rng, lay):
    c = lay.base_letter(ch)
    for row in lay.typo_rows:
        i = row.find(c)
        if i >= 0 and len(c) == 1:
            options = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return options[int(rng.integers(len(options)))]
    return "etaoinsrhl"[int(rng.integers(10))]


def check_text(text, where="text", layout=DEFAULT_LAYOUT):
    """Refuse what cannot be typed: not a string, empty, a control character other than
    newline/tab, or a character ``layout`` (a name or a :class:`~actiongen_keras.generation.layouts.Layout`)
    has no key for (the error names the layouts that have)."""
    if not isinstance(text, str) or not text:
        raise ActiongenError(f"{where}: must be a non-empty string, got {text!r}")
    bad = [c for c in text if not c.isprintable() and c not in NAMED]
    if bad:
        raise ActiongenError(f"{where}: cannot type the control character {bad[0]!r}")
    lay = as_layout(layout)
    bad = [c for c in text if not lay.can_type(c)]
    if bad:
        others = typable(bad[0])
        raise ActiongenError(f"{where}: the '{lay.name}' keyboard layout cannot type {bad[0]!r} (U+{ord(bad[0]):04X}; "
                             + (f"layout{'s' * (len(others) > 1)} {', '.join(others)} can)" if others else "no layout here can)"))
    return text


def keystroke_plan(text, rng, typo_rate=0.0, run_length_p=(1.0,), layout=DEFAULT_LAYOUT):
    """The keys to press for ``text`` on ``layout``: a list of ``(key name, token, shifted, char,
    altgr)`` (``char`` the character typed, on its last key; ``"\\b"`` for a backspace; ``""``
    for a modifier or a dead key; ``shifted``/``altgr``: the key is pressed with that modifier
    held). ``text`` must be typable there (:func:`check_text`)."""
    lay = as_layout(layout)
    stream = []
    i = 0
    p = np.asarray(run_length_p, dtype=np.float64)
    p = p / p.sum()
    while i < len(text):
        if typo_rate > 0 and rng.random() < typo_rate:
            run = int(rng.choice(len(p), p=p))  # keys typed from the error on, all backspaced
            extra = list(text[i + 1 : i + max(run, 1)])
            stream += [_neighbour(text[i], rng, lay)] + extra + ["\b"] * (1 + len(extra))
        stream.append(text[i])
        i += 1
    keys, held = [], {"shift": False, "altgr": False}
    for ch in stream:
        if ch == "\b":
            held = dict.fromkeys(held, False)
            keys.append(("backspace", K.BACKSPACE, False, ch, False))
            continue
        strokes = lay.strokes(ch)
        for n, s in enumerate(strokes):
            need = {m: m in s.mods for m in held}
            if need["shift"] and not held["shift"]:
                keys.append(("shift", K.SHIFT, False, "", False))
            if need["altgr"] and not held["altgr"]:
                keys.append((ALTGR.name, ALTGR.token, False, "", False))
            held = need
            keys.append((s.name, s.token, need["shift"], ch if n == len(strokes) - 1 else "", need["altgr"]))
    return keys


def time_keystrokes(model, plans, rng, paces=None, temperature=1.0, tempo=1.0):
    """Intervals and dwells (ms) of each plan's keys, sampled keystroke after keystroke for all
    plans together; ``paces [n, 2]`` (log median interval, dwell; default: one training typist's
    per plan); ``tempo``: the pace's median interval divided by it (the model's pace input,
    not its output, is changed: 2 = a typist whose median interval is half; the dwell is the
    typist's). Returns a list of ``(intervals, dwells)``."""
    n = len(plans)
    if paces is None:
        paces = model.paces[rng.integers(len(model.paces), size=n)]
    paces = np.array(paces, dtype=np.float64).reshape(n, 2)
    paces[:, 0] -= np.log(float(tempo))
    length = max(len(p) for p in plans)
    iv, dw = np.zeros((n, length)), np.zeros((n, length))
    tok = np.full((n, length), K.SPACE, np.int32)
    shf = np.zeros((n, length))
    for r, plan in enumerate(plans):
        tok[r, : len(plan)] = [k[1] for k in plan]
        shf[r, : len(plan)] = [float(k[2]) for k in plan]
    prev_iv = np.zeros(n)
    for k in range(length):
        prev = tok[:, k - 1] if k else np.full(n, K.SPACE, np.int32)
        numeric = np.column_stack([shf[:, k], prev_iv - K.LOG_CENTER if k >= 2 else np.zeros(n), np.full(n, 1.0 if k < 2 else 0.0),
                                   paces[:, 0] - K.LOG_CENTER, paces[:, 1] - K.LOG_CENTER])
        a, b = model.sample(prev, tok[:, k], numeric, rng, temperature)
        iv[:, k], dw[:, k] = a, b
        prev_iv = np.log(a)
    return [(iv[r, : len(p)], dw[r, : len(p)]) for r, p in enumerate(plans)]


def keystroke_events(plan, intervals, dwells, start_ms, rng, shift_lags=(50.0,)):
    """``(t_ms, type, key)`` arrays of the key events of a timed plan (module doc: the fix-ups)."""
    n = len(plan)
    press = float(start_ms) + np.cumsum(np.asarray(intervals, dtype=np.float64))
    release = press + np.asarray(dwells, dtype=np.float64)
    lags = np.asarray(shift_lags, dtype=np.float64)
    for i, entry in enumerate(plan):
        flag = MODIFIER_FLAG.get(entry[0])
        if flag is None:
            continue
        j = i + 1
        while j + 1 < n and plan[j + 1][flag]:  # the run of keys this modifier modifies
            j += 1
        if j >= n:
            release[i] = press[i] + dwells[i]
            continue
        lag = float(np.interp(rng.random(), np.linspace(0, 1, len(lags)), lags))
        up = press[j] + max(lag, GAP_MS)
        if j + 1 < n:
            up = min(up, press[j + 1] - GAP_MS)  # before the next key, which must not be modified
        release[i] = max(up, press[j] + GAP_MS / 2)
    last_down = {}
    for i, entry in enumerate(plan):
        name = entry[0]
        if name in last_down:
            k = last_down[name]
            if release[k] >= press[i]:  # pressed again while down: the earlier press is let go first
                release[k] = max(press[i] - GAP_MS / 2, press[k] + GAP_MS / 4)
        last_down[name] = i
    names = [k[0] for k in plan]
    t = np.r_[press, release]
    typ = np.array(["key_down"] * n + ["key_up"] * n, dtype=object)
    key = np.array(names + names, dtype=object)
    order = np.lexsort((np.r_[np.arange(n) * 2 + 1, np.arange(n) * 2], t))
    return t[order], typ[order], key[order]


class Typist:
    """A keystroke model (``MODEL_DIR`` or :class:`KeystrokeModel`) that types texts."""

    def __init__(self, model):
        self.model = model if isinstance(model, KeystrokeModel) else KeystrokeModel(model)
        typos = self.model.meta["typos"]
        self.typo_rate = float(typos["rate_per_key"])
        self.run_length_p = np.r_[0.0, typos["run_length_p"]]  # index = run length
        self.shift_lags = np.asarray(self.model.meta["shift_release_lag_ms"], dtype=np.float64)

    def plans(self, texts, rng, typos=False, layout=DEFAULT_LAYOUT):
        lay = as_layout(layout)
        return [keystroke_plan(check_text(t, layout=lay), rng, self.typo_rate if typos else 0.0, self.run_length_p, lay) for t in texts]

    def type_texts(self, texts, rng, typos=False, paces=None, start_ms=0.0, temperature=1.0, layout=DEFAULT_LAYOUT, clock=WHOLE_MS,
                   tempo=1.0):
        """Key events ``(t_ms, type, key)`` of each text, all timed together (one typist per text:
        ``paces [n, 2]``, e.g. :func:`typing_pace` of a reference session, default a training
        typist's, at ``tempo``: :func:`time_keystrokes`), on ``layout`` (a name of
        ``layouts.LAYOUTS``), their times on the recorder's ``clock``
        (:func:`~actiongen_keras.generation.clock.put_on_clock`; default whole milliseconds, as
        the Aalto site and every recorder here stamp them; None: the model's continuous times)."""
        plans = self.plans(texts, rng, typos, layout)
        timed = time_keystrokes(self.model, plans, rng, paces, temperature, tempo)
        out = [keystroke_events(p, iv, dw, start_ms, rng, self.shift_lags) for p, (iv, dw) in zip(plans, timed)]
        if clock is None:
            return out
        return [(put_on_clock(t, clock, after_ms=start_ms), typ, key) for t, typ, key in out]

    def type_events(self, text, start_ms, x, y, seed=0, typos=False, pace=None, layout=DEFAULT_LAYOUT, clock=WHOLE_MS, tempo=1.0):
        """:class:`Events` typing ``text`` on ``layout`` from ``start_ms``, the cursor still at ``(x, y)``,
        on ``clock``, at ``pace`` (a :func:`typing_pace`; None: a training typist's) times ``tempo``
        (:meth:`type_texts`)."""
        rng = np.random.default_rng(seed)
        (t, typ, key), = self.type_texts([text], rng, typos, None if pace is None else [pace], start_ms, layout=layout, clock=clock,
                                         tempo=tempo)
        return Events.from_columns(t_ms=np.round(t, 3), type=typ, x=np.full(len(t), float(x)), y=np.full(len(t), float(y)), key=key)


def key_presses(t, types, keys):
    """Each ``key_down`` paired with the next ``key_up`` of its key: ``(press, release, keys)``
    arrays (release NaN where the key is never let go)."""
    press, release, names, down = [], [], [], {}
    for ti, ty, k in zip(t, types, keys):
        if ty == "key_down":
            down[k] = len(press)
            press.append(float(ti))
            release.append(np.nan)
            names.append(k)
        elif ty == "key_up" and k in down:
            release[down.pop(k)] = float(ti)
    return np.array(press, dtype=np.float64), np.array(release, dtype=np.float64), np.array(names, dtype=object)


def typing_pace(events, min_keys=MIN_STYLE_KEYS):
    """The pace of the typist of a recording (``--style``): :func:`~actiongen_keras.data.keystrokes.pace_of`
    over its key presses (intervals between consecutive presses, press to release), the rule
    the training typists' paces were read by; None with fewer than ``min_keys`` presses (a
    median of a handful of keys says little about a typist)."""
    press, release, _ = key_presses(events.t_ms, events.type, events.key)
    if len(press) < int(min_keys):
        return None
    order = np.argsort(press, kind="stable")
    held = release[order] - press[order]
    return K.pace_of(np.diff(press[order]), held[np.isfinite(held)])


def typed_text(types, keys, layout=DEFAULT_LAYOUT):
    """The text key events type on ``layout``: each key down types the layout's character for
    that key with the modifiers then held (``shift``, ``altgr``); :data:`UNTYPABLE` where it has
    none; a dead key accents the next letter (alone, or before a key it does not accent, it
    types its accent; ``backspace`` right after it cancels it); ``backspace`` deletes;
    ``space``/``enter``/``tab`` type their character whatever is held; other named keys
    (``ctrl``, ...) type nothing."""
    lay = as_layout(layout)
    out, held, pending = [], {"shift": 0, "altgr": 0}, None
    for typ, k in zip(types, keys):
        if k in held:
            held[k] += 1 if typ == "key_down" else -1
            continue
        if typ != "key_down":
            continue
        if k == "backspace":
            if pending is not None:
                pending = None
            elif out:
                out.pop()
            continue
        if k in KEY_CHARS:
            ch, dead = KEY_CHARS[k], False
        elif (k, held["shift"] > 0, held["altgr"] > 0) in lay.replay:
            ch, dead = lay.replay[(k, held["shift"] > 0, held["altgr"] > 0)]
        elif len(k) == 1:
            ch, dead = UNTYPABLE, False
        else:
            continue
        if pending is not None:
            made = None if dead else lay.compose.get((pending, ch))
            if made is not None:
                out.append(made)
                pending = None
                continue
            out.append(pending)
            pending = None
        if dead:
            pending = ch
        else:
            out.append(ch)
    return "".join(out)


__all__ = ["MIN_STYLE_KEYS", "Typist", "check_text", "key_name", "key_presses", "keystroke_events", "keystroke_plan", "time_keystrokes",
           "typed_text", "typing_pace"]
