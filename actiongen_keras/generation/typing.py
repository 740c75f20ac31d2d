"""Typing a text with a trained keystroke-timing model (the ``type`` goal of ``generation/act.py``).

:func:`keystroke_plan` decides *which* keys are pressed: per character its key (key names as
the Aalto importer writes them: the character lower-cased, ``space``, ``enter``, ``tab``;
a shifted symbol is named by itself, e.g. ``!``), a ``shift`` press before each run of
characters that need shift (upper case, ``!"#$%...`` on a US layout), and, with typos on, an
error episode now and then: a wrong key (a neighbour on the QWERTY row), the next
characters of the text typed on regardless, as many backspaces as keys typed since the
error, and the text resumed. Episodes begin at the rate per typed key, and with the run
lengths, learned from the training typists' backspace runs (``meta.json`` ``typos``).

:func:`time_keystrokes` decides *when*: keystroke after keystroke, the model gives the
interval since the previous press and the dwell, given the previous and current key, shift,
the previous interval and the typist's pace (one pace per text, drawn from the training
typists'). A press can come before the previous key is up (rollover). Fix-ups that keep the
text exact: the shift is released a learned lag (the data's shift-release lags) after the
last key it modified went down, but before the next key that must not be shifted; a key
pressed again while still down is released just before (a key cannot be down twice).

The first key goes down one sampled interval after ``start_ms``, timed as if it followed a
space (the data have no interval before a sentence's first key).

:func:`typed_text` replays key events into the text they type (shift, backspace): it is how
``act()`` checks that a text was typed exactly.
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import keystrokes as K
from actiongen_keras.errors import ActiongenError
from actiongen_keras.models.keystroke import KeystrokeModel
from actiongen_keras.recordings.session import Events

QWERTY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NAMED = {" ": "space", "\n": "enter", "\t": "tab"}
KEY_CHARS = {v: k for k, v in NAMED.items()}
GAP_MS = 0.5  # the least time between two events that must not coincide


def key_name(ch):
    """The key name of a typed character (module doc)."""
    if ch in NAMED:
        return NAMED[ch]
    return ch.lower()


def _neighbour(ch, rng):
    c = ch.lower()
    for row in QWERTY_ROWS:
        i = row.find(c)
        if i >= 0 and len(c) == 1:
            options = [row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)]
            return options[int(rng.integers(len(options)))]
    return "etaoinsrhl"[int(rng.integers(10))]


def check_text(text, where="text"):
    """Refuse what cannot be typed: not a string, empty, or a control character other than newline/tab."""
    if not isinstance(text, str) or not text:
        raise ActiongenError(f"{where}: must be a non-empty string, got {text!r}")
    bad = [c for c in text if not c.isprintable() and c not in NAMED]
    if bad:
        raise ActiongenError(f"{where}: cannot type the control character {bad[0]!r}")
    return text


def keystroke_plan(text, rng, typo_rate=0.0, run_length_p=(1.0,)):
    """The keys to press for ``text``: a list of ``(key name, token, shifted, char)`` (``char``
    the character typed, ``"\\b"`` for a backspace, ``""`` for shift)."""
    stream = []
    i = 0
    p = np.asarray(run_length_p, dtype=np.float64)
    p = p / p.sum()
    while i < len(text):
        if typo_rate > 0 and rng.random() < typo_rate:
            run = int(rng.choice(len(p), p=p))  # keys typed from the error on, all backspaced
            extra = list(text[i + 1 : i + max(run, 1)])
            stream += [_neighbour(text[i], rng)] + extra + ["\b"] * (1 + len(extra))
        stream.append(text[i])
        i += 1
    keys, held = [], False
    for ch in stream:
        shifted = ch != "\b" and K.needs_shift(ch)
        if shifted and not held:
            keys.append(("shift", K.SHIFT, False, ""))
        held = shifted
        if ch == "\b":
            keys.append(("backspace", K.BACKSPACE, False, ch))
        else:
            keys.append((key_name(ch), K.char_token(ch), shifted, ch))
    return keys


def time_keystrokes(model, plans, rng, paces=None, temperature=1.0):
    """Intervals and dwells (ms) of each plan's keys, sampled keystroke after keystroke for all
    plans together; ``paces [n, 2]`` (log median interval, dwell; default: one training typist's
    per plan). Returns a list of ``(intervals, dwells)``."""
    n = len(plans)
    if paces is None:
        paces = model.paces[rng.integers(len(model.paces), size=n)]
    paces = np.asarray(paces, dtype=np.float64).reshape(n, 2)
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
    for i, (name, _, _, _) in enumerate(plan):
        if name != "shift":
            continue
        j = i + 1
        while j + 1 < n and plan[j + 1][2]:  # the run of shifted keys this shift modifies
            j += 1
        if j >= n:
            release[i] = press[i] + dwells[i]
            continue
        lag = float(np.interp(rng.random(), np.linspace(0, 1, len(lags)), lags))
        up = press[j] + max(lag, GAP_MS)
        if j + 1 < n:
            up = min(up, press[j + 1] - GAP_MS)  # before the next key, which must not be shifted
        release[i] = max(up, press[j] + GAP_MS / 2)
    last_down = {}
    for i, (name, _, _, _) in enumerate(plan):
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

    def plans(self, texts, rng, typos=False):
        return [keystroke_plan(check_text(t), rng, self.typo_rate if typos else 0.0, self.run_length_p) for t in texts]

    def type_texts(self, texts, rng, typos=False, paces=None, start_ms=0.0, temperature=1.0):
        """Key events ``(t_ms, type, key)`` of each text, all timed together (one typist per text)."""
        plans = self.plans(texts, rng, typos)
        timed = time_keystrokes(self.model, plans, rng, paces, temperature)
        return [keystroke_events(p, iv, dw, start_ms, rng, self.shift_lags) for p, (iv, dw) in zip(plans, timed)]

    def type_events(self, text, start_ms, x, y, seed=0, typos=False, pace=None):
        """:class:`Events` typing ``text`` from ``start_ms``, the cursor still at ``(x, y)``."""
        rng = np.random.default_rng(seed)
        (t, typ, key), = self.type_texts([text], rng, typos, None if pace is None else [pace], start_ms)
        return Events.from_columns(t_ms=np.round(t, 3), type=typ, x=np.full(len(t), float(x)), y=np.full(len(t), float(y)), key=key)


def typed_text(types, keys):
    """The text key events type: shift held makes letters upper case, ``backspace`` deletes,
    ``space``/``enter``/``tab`` type their character, other named keys type nothing."""
    out, shift = [], 0
    for typ, k in zip(types, keys):
        if k == "shift":
            shift += 1 if typ == "key_down" else -1
            continue
        if typ != "key_down":
            continue
        if k == "backspace":
            if out:
                out.pop()
        elif k in KEY_CHARS:
            out.append(KEY_CHARS[k])
        elif len(k) == 1:
            out.append(k.upper() if shift > 0 else k)
    return "".join(out)


__all__ = ["Typist", "check_text", "key_name", "keystroke_events", "keystroke_plan", "time_keystrokes", "typed_text"]
