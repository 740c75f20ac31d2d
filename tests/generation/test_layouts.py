"""Keyboard layouts for typing (generation/layouts.py, generation/typing.py, the plan's ``layout``):
every character of every layout round-trips, keys are timed by physical position, ``us`` is
what it was, and what a layout cannot type or an unknown layout is refused by name."""

import json

import numpy as np
import pytest

from actiongen_keras.cli import main
from actiongen_keras.data import keystrokes as K
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation import act as A
from actiongen_keras.generation import layouts as L
from actiongen_keras.generation import typing as TY

T = K.TOKEN_ID
RUNS = (0.0, 0.5, 0.3, 0.2)  # typo run lengths 1..3


class RecordingModel:
    """A keystroke-model stand-in: fixed intervals and dwells from the token, and the tokens and
    numeric inputs it was asked about, step by step."""

    paces = np.array([[5.0, 4.4]])

    def __init__(self):
        self.keys, self.numeric = [], []

    def sample(self, prev, key, numeric, rng, temperature=1.0):
        self.keys.append(np.asarray(key).copy())
        self.numeric.append(np.asarray(numeric).copy())
        k = np.asarray(key, dtype=np.float64)
        return 50.0 + 3.0 * k, 70.0 + np.asarray(numeric)[:, 0] * 20.0


def _events(text, layout, rng, typo_rate=0.0, model=None):
    plan = TY.keystroke_plan(text, rng, typo_rate, RUNS, layout)
    if model is None:  # random timing with much rollover: the fix-ups must keep the text exact
        iv, dw = rng.uniform(2.0, 300.0, len(plan)), rng.uniform(5.0, 400.0, len(plan))
    else:
        (iv, dw), = TY.time_keystrokes(model, [plan], rng)
    return plan, TY.keystroke_events(plan, iv, dw, 0.0, rng, (5.0, 40.0, 120.0))


@pytest.mark.parametrize("name", L.LAYOUT_NAMES)
@pytest.mark.parametrize("typo_rate", [0.0, 0.3])
def test_every_character_of_every_layout_round_trips(name, typo_rate):
    lay = L.layout(name)
    chars = sorted(lay.chars)
    assert len(chars) > 95  # the printable ASCII of the layout and more (us: exactly the 95 and enter, tab)
    rng = np.random.default_rng(17)
    for ch in chars:  # each character alone
        _, (t, ty, k) = _events(ch, lay, rng, typo_rate)
        assert TY.typed_text(ty, k, name) == ch, (name, ch, list(zip(ty, k)))
    for _ in range(4):  # all of them, in random orders (modifier and dead-key runs next to one another)
        text = "".join(rng.permutation(chars))
        plan, (t, ty, k) = _events(text, lay, rng, typo_rate)
        assert TY.typed_text(ty, k, name) == text
        assert np.all(np.diff(t) >= 0)
        assert (("backspace" in k) == (typo_rate > 0))
        downs = [x for x, y in zip(k, ty) if y == "key_down"]
        assert all(x == x.lower() for x in downs)  # key names are lower case (recording format)
        assert ("altgr" in downs) == any("altgr" in s.mods for c in chars for s in lay.strokes(c))


def test_the_layouts_cover_what_they_should():
    de, fr, uk, us = (L.layout(n) for n in ("de", "fr", "uk", "us"))
    assert all(us.can_type(chr(c)) for c in range(32, 127)) and not us.can_type("é") and len(us.chars) == 97
    for c in "äöüÄÖÜß§°²³µ@€{}[]\\~|<>^´`éÉêâ":
        assert de.can_type(c), c
    for c in "éèçàùêëâïÊË£¤§µ°²€#{}[]|\\@~`^¨ñ&":
        assert fr.can_type(c), c
    assert not fr.can_type("É") and not fr.can_type("Ç") and not de.can_type("ë")
    assert all(uk.can_type(c) for c in "£¬¦€#~@\"\\|")
    # the keys and modifiers a recorder on that layout sees
    assert [(s.name, s.mods, s.dead) for s in de.strokes("@")] == [("@", ("altgr",), False)]
    assert [(s.name, s.mods) for s in de.strokes("/")] == [("/", ("shift",))]
    assert [(s.name, s.mods, s.dead) for s in fr.strokes("ê")] == [("^", (), True), ("e", (), False)]
    assert [(s.name, s.mods, s.dead) for s in fr.strokes("Ë")] == [("¨", ("shift",), True), ("e", ("shift",), False)]
    assert [(s.name, s.mods) for s in fr.strokes("7")] == [("7", ("shift",))] and fr.strokes("è")[0].mods == ()
    assert [s.name for s in fr.strokes("^")] == ["^", "space"]
    assert de.strokes("z")[0].pos == us.strokes("y")[0].pos == (1, 5)
    assert fr.strokes("a")[0].pos == us.strokes("q")[0].pos and fr.strokes("q")[0].pos == us.strokes("a")[0].pos


def test_german_z_is_key_z_timed_as_us_y():
    model = RecordingModel()
    rng = np.random.default_rng(0)
    plan, (t, ty, k) = _events("zy/@<ä", "de", rng, model=model)
    assert [p[0] for p in plan] == ["z", "y", "shift", "/", "altgr", "@", "<", "ä"]
    assert [x for x, y in zip(k, ty) if y == "key_down"] == ["z", "y", "shift", "/", "altgr", "@", "<", "ä"]
    asked = [int(step[0]) for step in model.keys]  # the token the model was asked to time, key after key
    # z where US has y; y where US has z; shift+7 as US shift+7 (&), shifted; AltGr+q as q after
    # an <other> press; the ISO key left of y as the nearest US key of its row (z); ä as US '
    assert asked == [T["y"], T["z"], K.SHIFT, T["&"], K.OTHER, T["q"], T["z"], T["'"]]
    shifted = [float(step[0, 0]) for step in model.numeric]
    assert shifted == [0, 0, 0, 1, 0, 0, 0, 0]
    # on US the same keys are their own tokens
    model = RecordingModel()
    _events("zy", "us", np.random.default_rng(0), model=model)
    assert [int(s[0]) for s in model.keys] == [T["z"], T["y"]]


def test_french_keys_are_timed_by_position():
    model = RecordingModel()
    plan, _ = _events("aq1ê", "fr", np.random.default_rng(0), model=model)
    assert [p[0] for p in plan] == ["a", "q", "shift", "1", "^", "e"]
    assert [int(s[0]) for s in model.keys] == [T["q"], T["a"], K.SHIFT, T["!"], T["["], T["e"]]


def test_us_output_is_unchanged():
    """Keys, tokens, shift flags and event times of a fixed seed, as the typing code gave them
    before layouts existed (captured from that version)."""
    rng = np.random.default_rng(11)
    plan = TY.keystroke_plan("Hi, Bob! ok", rng, 0.3, (0.0, 0.6, 0.4))
    assert [p[0] for p in plan] == ["j", "backspace", "shift", "h", "o", "backspace", "i", ",", "r", "backspace", "space", "shift", "b",
                                    "o", "b", "shift", "!", "l", "backspace", "space", "o", "k"]
    assert [p[1] for p in plan] == [15, 5, 4, 13, 20, 5, 14, 43, 23, 5, 3, 4, 7, 20, 7, 4, 48, 17, 5, 3, 20, 16]
    assert [int(p[2]) for p in plan] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    (iv, dw), = TY.time_keystrokes(RecordingModel(), [plan], rng)
    t, ty, k = TY.keystroke_events(plan, iv, dw, 0.0, rng, (20.0, 60.0))
    expected = [
        (95.0, "key_down", "j"), (160.0, "key_down", "backspace"), (165.0, "key_up", "j"), (222.0, "key_down", "shift"),
        (230.0, "key_up", "backspace"), (311.0, "key_down", "h"), (351.495, "key_up", "shift"), (401.0, "key_up", "h"),
        (421.0, "key_down", "o"), (486.0, "key_down", "backspace"), (491.0, "key_up", "o"), (556.0, "key_up", "backspace"),
        (578.0, "key_down", "i"), (648.0, "key_up", "i"), (757.0, "key_down", ","), (827.0, "key_up", ","), (876.0, "key_down", "r"),
        (941.0, "key_down", "backspace"), (946.0, "key_up", "r"), (1000.0, "key_down", "space"), (1011.0, "key_up", "backspace"),
        (1062.0, "key_down", "shift"), (1070.0, "key_up", "space"), (1133.0, "key_down", "b"), (1185.669, "key_up", "shift"),
        (1223.0, "key_up", "b"), (1243.0, "key_down", "o"), (1313.0, "key_up", "o"), (1314.0, "key_down", "b"),
        (1376.0, "key_down", "shift"), (1384.0, "key_up", "b"), (1570.0, "key_down", "!"), (1611.963, "key_up", "shift"),
        (1660.0, "key_up", "!"), (1671.0, "key_down", "l"), (1736.0, "key_down", "backspace"), (1741.0, "key_up", "l"),
        (1795.0, "key_down", "space"), (1806.0, "key_up", "backspace"), (1865.0, "key_up", "space"), (1905.0, "key_down", "o"),
        (1975.0, "key_up", "o"), (2003.0, "key_down", "k"), (2073.0, "key_up", "k"),
    ]
    assert list(zip(np.round(t, 3).tolist(), ty.tolist(), k.tolist())) == expected
    assert TY.typed_text(ty, k) == "Hi, Bob! ok"
    assert L.layout("us").typo_rows == TY.QWERTY_ROWS


def _wrong_keys(text, layout, seeds=40):
    """The first key of a plan that begins with a typo of one key (backspaced at once)."""
    out = set()
    for s in range(seeds):
        plan = TY.keystroke_plan(text, np.random.default_rng(s), 1.0, (0.0, 1.0), layout)
        assert plan[1][0] == "backspace"
        out.add(plan[0][0])
    return out


def test_typo_neighbours_come_from_the_layouts_rows():
    assert L.layout("de").typo_rows == ("qwertzuiopü", "asdfghjklöä", "yxcvbnm")
    assert L.layout("fr").typo_rows == ("çà", "azertyuiop", "qsdfghjklmù", "wxcvbn")
    assert _wrong_keys("y", "us") == {"t", "u"} and _wrong_keys("y", "de") == {"x"}
    assert _wrong_keys("a", "us") == {"s"} and _wrong_keys("a", "fr") == {"z"}
    assert _wrong_keys("m", "fr") == {"l", "ù"} and _wrong_keys("ü", "de") == {"p"}
    assert _wrong_keys("@", "de") == {"w"}  # AltGr+q: a slip off the q key


def test_typed_text_replays_through_the_layout():
    down = ["key_down", "key_up"]
    events = [("shift", "key_down"), ("/", "key_down"), ("/", "key_up"), ("shift", "key_up")]
    ty, k = [e[1] for e in events], [e[0] for e in events]
    assert TY.typed_text(ty, k, "de") == "/" and TY.typed_text(ty, k, "us") == TY.UNTYPABLE  # no shifted '/' key on US
    ty, k = ["key_down", "key_up"] * 2, ["^", "^", "e", "e"]
    assert TY.typed_text(ty, k, "fr") == "ê" and TY.typed_text(ty, k, "de") == "ê"
    assert TY.typed_text(down * 2, ["^", "^", "x", "x"], "fr") == "^x"  # a letter the accent does not take: both
    assert TY.typed_text(down * 3, ["^", "^", "backspace", "backspace", "e", "e"], "fr") == "e"  # backspace cancels the dead key
    nested = ["key_down", "key_down", "key_up", "key_up"]
    assert TY.typed_text(nested, ["altgr", "€", "€", "altgr"], "de") == "€"  # AltGr+e: the recorder writes the €
    assert TY.typed_text(nested, ["altgr", "e", "e", "altgr"], "de") == TY.typed_text(down, ["€", "€"], "de") == TY.UNTYPABLE


@pytest.mark.parametrize("text, layout, can, message", [
    ("Straße", "us", "de", "goals[0].type.text: the 'us' keyboard layout cannot type 'ß' (U+00DF; layout de can)"),
    ("Ça va", "fr", None, "goals[0].type.text: the 'fr' keyboard layout cannot type 'Ç' (U+00C7; no layout here can)"),
    ("Zoë", "de", "fr", "goals[0].type.text: the 'de' keyboard layout cannot type 'ë' (U+00EB; layout fr can)"),
])
def test_a_character_the_layout_cannot_type_is_refused_naming_the_goal_and_character(text, layout, can, message):
    with pytest.raises(ActiongenError) as e:
        A.read_plan(_plan({"type": {"text": text, "layout": layout}}))
    assert str(e.value) == "plan: " + message
    with pytest.raises(ActiongenError, match="cannot type"):
        TY.check_text(text, "text", layout)
    if can is not None:
        assert TY.check_text(text, "text", can) == text
        assert A.read_plan(_plan({"type": {"text": text, "layout": can}})).goals[0][1]["text"] == text


def _plan(*goals, **top):
    return {"screen": {"width": 100, "height": 100}, "goals": list(goals), **top}


@pytest.mark.parametrize("plan, layout, message", [
    (_plan({"type": {"text": "hi", "layout": "dvorak"}}), None,
     "plan: goals[0].type.layout: unknown keyboard layout 'dvorak' (known: de, fr, uk, us)"),
    (_plan({"type": {"text": "hi", "layout": 7}}), None, "plan: goals[0].type.layout: must be a keyboard layout name (one of de, fr, uk, us), got 7"),
    (_plan({"type": {"text": "hi"}}, keyboard={"layout": "US"}), None, "plan: keyboard.layout: unknown keyboard layout 'US' (known: de, fr, uk, us)"),
    (_plan({"type": {"text": "hi"}}, keyboard={}), None, "plan: keyboard: missing layout"),
    (_plan({"type": {"text": "hi"}}, keyboard={"layout": "de", "variant": "mac"}), None, "plan: keyboard: unknown key(s) variant"),
    (_plan({"type": {"text": "hi"}}), "azerty", "layout (--layout): unknown keyboard layout 'azerty' (known: de, fr, uk, us)"),
])
def test_an_unknown_layout_is_refused_with_the_known_ones(plan, layout, message):
    with pytest.raises(ActiongenError) as e:
        A.read_plan(plan, layout=layout)
    assert str(e.value).startswith(message)


def test_the_plans_keyboard_is_the_default_and_layout_overrides_it_and_a_goals_own_wins():
    goals = ({"type": {"text": "Grüße"}}, {"type": {"text": "été", "layout": "fr"}})
    plan = A.read_plan(_plan(*goals, keyboard={"layout": "de"}))
    assert plan.layout == "de" and [f["layout"] for _, f in plan.goals] == [None, "fr"]
    assert A.read_plan(_plan({"type": {"text": "hi"}})).layout == "us"
    assert A.read_plan(_plan({"type": {"text": "hé"}}, keyboard={"layout": "us"}), layout="fr").layout == "fr"
    with pytest.raises(ActiongenError, match=r"plan: goals\[0\].type.text: the 'uk' keyboard layout cannot type 'ü'"):
        A.read_plan(_plan(*goals, keyboard={"layout": "de"}), layout="uk")  # the override's layout checks the texts
    with pytest.raises(ActiongenError, match=r"plan: goals\[0\].type.text: the 'us' keyboard layout cannot type 'ü'"):
        A.act(None, plan, layout="us")  # a read plan given another layout is checked again


def test_act_types_on_the_plans_layout_exactly(keystroke_model_dir, tmp_path, capsys):
    text_de, text_fr = "Grüße aus Köln: 5€ @ {Zoo} ^2", "Où êtes-vous? Noël à 10h, 5€ & ça"
    plan = _plan({"type": {"text": text_de, "typos": True}}, {"type": {"text": text_fr, "layout": "fr"}}, {"type": {"text": "Hey!", "layout": "us"}},
                 keyboard={"layout": "de"})
    session, result = A.act(None, plan, typing_model=keystroke_model_dir, seed=2)
    g = result["goals"]
    assert result["achieved"] == 3 and [x["text"] for x in g] == [text_de, text_fr, "Hey!"]
    assert [x["layout"] for x in g] == ["de", "fr", "us"]
    keys = [str(k) for k, ty in zip(session.events.key, session.events.type) if ty == "key_down"]
    assert {"altgr", "z", "ü", "ß", "ö", "€", "@", "{", "}"} <= set(keys) and "^" in keys and keys.count("¨") == 1  # ë: shift+¨, e
    # the CLI's --layout overrides the plan's keyboard (here: the first goal on uk cannot type ü)
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    code = main(["-q", "act", "--model", str(tmp_path / "none"), "--plan", str(tmp_path / "plan.json"), "--out", str(tmp_path / "out"),
                 "--typing-model", str(keystroke_model_dir), "--layout", "uk"])
    assert code == 2 and not (tmp_path / "out").exists()
    assert "goals[0].type.text: the 'uk' keyboard layout cannot type 'ü' (U+00FC; layouts de, fr can)" in capsys.readouterr().err
