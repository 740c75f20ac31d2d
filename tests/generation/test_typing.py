"""Typing with the keystroke-timing model (generation/typing.py, models/keystroke.py, data/keystrokes.py):
exact text, key events in order, rollover at the data's rate, typos corrected, the model folder."""

import dataclasses
import json

import numpy as np
import pytest

from actiongen_keras.cli import main
from actiongen_keras.data import keystrokes as K
from actiongen_keras.generation import typing as TY
from actiongen_keras.models.keystroke import KeystrokeModel
from actiongen_keras.testing.paths import shared_data

TEXTS = ["Hello, world", "The QUICK brown fox: \"jumps\" (over) 42 lazy dogs?", "aa ll oo -- e-mail me@home.org!", "ALL CAPS", "x"]


def _keystrokes(t, typ, key):
    """(down, up) times per keystroke, pairing each down with the next up of its key."""
    out, open_ = [], {}
    for ti, ty, k in zip(t, typ, key):
        if ty == "key_down":
            assert k not in open_, f"{k} pressed again while down"
            open_[k] = ti
        else:
            assert k in open_, f"{k} released while up"
            out.append((open_.pop(k), ti, k))
    assert not open_, f"keys left down: {open_}"
    return out


@pytest.mark.parametrize("typos", [False, True])
def test_typed_text_is_exact_with_shift_punctuation_and_typos(keystroke_model_dir, typos):
    typist = TY.Typist(keystroke_model_dir)
    rng = np.random.default_rng(1)
    texts = TEXTS * 8
    out = typist.type_texts(texts, rng, typos=typos)
    assert [TY.typed_text(ty, k) for _, ty, k in out] == texts
    backspaces = sum(int(((k == "backspace") & (ty == "key_down")).sum()) for _, ty, k in out)
    assert (backspaces > 0) == typos
    for t, ty, k in out:
        assert np.all(np.diff(t) >= 0)
        strokes = _keystrokes(t, ty, k)
        assert all(up > down for down, up, _ in strokes)  # every key up comes after its key down


def test_shift_is_down_before_each_shifted_key_and_up_before_the_next_unshifted_one(keystroke_model_dir):
    typist = TY.Typist(keystroke_model_dir)
    (t, ty, k), = typist.type_texts(["Hi THERE, Bob!"], np.random.default_rng(2))
    shift_downs = [ti for ti, yi, ki in zip(t, ty, k) if yi == "key_down" and ki == "shift"]
    assert len(shift_downs) == 4  # H, THERE, B, !
    held, shifted_keys = 0, []
    for yi, ki in zip(ty, k):
        if ki == "shift":
            held += 1 if yi == "key_down" else -1
        elif yi == "key_down":
            shifted_keys.append((ki, held > 0))
    # each key goes down with shift held exactly when its character needs it
    assert shifted_keys == [(TY.key_name(c), K.needs_shift(c)) for c in "Hi THERE, Bob!"]
    assert TY.typed_text(ty, k) == "Hi THERE, Bob!"


def test_typos_start_at_the_learned_rate(keystroke_model_dir):
    typist = TY.Typist(keystroke_model_dir)
    assert 0.005 < typist.typo_rate < 0.2  # learned from the typists' backspace runs
    rng = np.random.default_rng(3)
    text = "the quick brown fox jumps over the lazy dog " * 20
    plan = TY.keystroke_plan(text, rng, typist.typo_rate, typist.run_length_p)
    runs = np.sum(np.diff(np.r_[0, [p[0] == "backspace" for p in plan]].astype(int)) == 1)
    expected = typist.typo_rate * len(text)
    assert 0.4 * expected < runs < 2.5 * expected


def test_rollover_happens_at_the_order_of_the_data(keystroke_model_dir):
    typists = K.read_typists(shared_data("keystrokes_aalto"), "train", max_people=12)
    data = np.mean([np.mean(s.press[1:] < s.release[:-1]) for t in typists for s in t.sections])
    model = TY.Typist(keystroke_model_dir)
    texts = [s.sentence for t in typists for s in t.sections][:60]
    gen = []
    for t, ty, k in model.type_texts(texts, np.random.default_rng(4)):
        strokes = sorted(_keystrokes(t, ty, k))
        down, up = np.array([s[0] for s in strokes]), np.array([s[1] for s in strokes])
        gen.append(np.mean(down[1:] < up[:-1]))
    assert 0.05 < data < 0.6
    assert data / 3 < np.mean(gen) < data * 3


def test_type_events_keep_the_cursor_and_start_after_start_ms(keystroke_model_dir):
    ev = TY.Typist(keystroke_model_dir).type_events("Ok!", 1000.0, 12.5, 34.0, seed=5)
    assert ev.t_ms[0] > 1000.0 and np.all(ev.x == 12.5) and np.all(ev.y == 34.0)
    assert set(ev.type) == {"key_down", "key_up"} and TY.typed_text(ev.type, ev.key) == "Ok!"
    # on the recorder's clock: whole ms (the Aalto site's stamps), the same draws as the
    # continuous times rounded, in the same order
    np.testing.assert_array_equal(ev.t_ms, np.round(ev.t_ms))
    free = TY.Typist(keystroke_model_dir).type_events("Ok!", 1000.0, 12.5, 34.0, seed=5, clock=None)
    assert np.any(free.t_ms != np.round(free.t_ms))
    np.testing.assert_array_equal(ev.t_ms, np.round(free.t_ms))
    assert list(ev.type) == list(free.type) and list(ev.key) == list(free.key)


def test_the_model_folder_says_the_data_licence_and_round_trips(keystroke_model_dir, tmp_path):
    meta = json.loads((keystroke_model_dir / "meta.json").read_text())
    assert "Non-commercial" in meta["license"] and "Non-commercial" in (keystroke_model_dir / "NOTICE").read_text()
    assert meta["people"] and all(K.typist_split(pid) == "train" for pid in meta["people"])  # no held-out typist
    m = KeystrokeModel(keystroke_model_dir)
    m.model.save(tmp_path / "again.keras")
    import keras

    again = keras.saving.load_model(tmp_path / "again.keras", compile=False)
    x = {"prev": np.array([K.TOKEN_ID["t"], K.SPACE], np.int32), "key": np.array([K.TOKEN_ID["h"], K.SHIFT], np.int32),
         "numeric": np.array([[0, 0.1, 0, 0.2, -0.3], [0, -0.2, 0, 0.1, -0.5]], np.float32)}
    np.testing.assert_allclose(np.asarray(again(x)), m.params(x["prev"], x["key"], x["numeric"]), rtol=1e-5, atol=1e-5)


def test_typing_train_cli_writes_a_model_folder(tmp_path):
    data = shared_data("keystrokes_aalto")
    code = main(["-q", "typing", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--max-people", "3", "--epochs", "1"])
    assert code == 0 and (tmp_path / "m" / "NOTICE").is_file()
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert len(meta["people"]) == 3 and all(K.typist_split(p) == "train" for p in meta["people"])
    ev = TY.Typist(tmp_path / "m").type_events("Ab", 0, 0, 0)
    assert TY.typed_text(ev.type, ev.key) == "Ab"


def test_scroll_fit_cli_is_person_disjoint(tmp_path):
    code = main(["-q", "scroll", "fit", "--data", str(shared_data("balabit")), "--out", str(tmp_path / "w"), "--max-sessions", "1"])
    meta = json.loads((tmp_path / "w" / "scroll.json").read_text())
    assert code == 0 and meta["held_out_people"] and not set(meta["people"]) & set(meta["held_out_people"])
    assert all(q == sorted(q) and q[-1] < 1000.0 for q in meta["interval_quantiles_ms"].values())
    assert set(meta["position_quantiles_ms"]) == set(meta["people"])  # and the quantiles by position in the burst
    assert all(set(v) == {"first", "middle", "last", "only"} for v in meta["position_quantiles_ms"].values())


def test_typist_split_is_fixed_by_the_id():
    assert [K.typist_split(p) for p in ("1002", "1005", "1002")] == [K.typist_split("1002"), K.typist_split("1005"), K.typist_split("1002")]
    share = np.mean([K.typist_split(str(i)) == "test" for i in range(5000)])
    assert 0.17 < share < 0.23


def test_rows_the_typing_fit_cannot_use_are_dropped_and_counted(tmp_path):
    from actiongen_keras.data.keystrokes import read_typist

    head = "PARTICIPANT_ID\tTEST_SECTION_ID\tSENTENCE\tUSER_INPUT\tKEYSTROKE_ID\tPRESS_TIME\tRELEASE_TIME\tLETTER\tKEYCODE"
    rows = ["7\t1\tab\tab\t1\t1000\t1080\ta\t65", "7\t1\tab\tab\t2\tsoon\t1200\tb\t66", "7\t1\tab\tab\t3\t1300\t1250\tb\t66",
            "7\t1\tab\tab\t4\t1400\t1490\tb\t66"]
    f = tmp_path / "7_keystrokes.txt"
    f.write_text("\n".join([head] + rows) + "\n", encoding="latin-1")
    t = read_typist(f)
    assert [len(s.press) for s in t.sections] == [2]  # rows 1 and 4 kept
    lines = "\n".join(t.report.lines())
    assert t.report.total == 2 and "PRESS_TIME: 'soon' is not a number: 1 (e.g. line 3)" in lines
    assert "release before its press (PRESS_TIME): 1 (e.g. line 4)" in lines


def _typing_session(interval_ms, dwell_ms, n_keys, with_moves=True):
    """A session that types ``n_keys`` letters, one every ``interval_ms``, each held ``dwell_ms``
    (moves in between, which the typing pace must ignore)."""
    from actiongen_keras.recordings.session import Events
    from actiongen_keras.testing.sessions import synthetic_session

    base = synthetic_session("typer", "typer", duration_s=2, rate_hz=30, seed=0, screen=(512, 384))
    down = 1000.0 + interval_ms * np.arange(n_keys)
    t = np.r_[down, down + dwell_ms]
    typ = np.array(["key_down"] * n_keys + ["key_up"] * n_keys, dtype=object)
    keys = np.array([chr(ord("a") + i % 26) for i in range(n_keys)] * 2, dtype=object)
    keyev = Events.from_columns(t_ms=t, type=typ, x=np.zeros(2 * n_keys), y=np.zeros(2 * n_keys), key=keys)
    moves = base.events.take(base.events.type == "move") if with_moves else Events.empty()
    ev = Events.concatenate([moves, keyev])
    return dataclasses.replace(base, events=ev.take(np.argsort(ev.t_ms, kind="stable")))


def test_typing_pace_is_read_off_a_recordings_key_presses():
    s = _typing_session(120.0, 80.0, 30)
    iv, dw = TY.typing_pace(s.events)
    assert np.exp(iv) == pytest.approx(120.0) and np.exp(dw) == pytest.approx(80.0)  # the moves do not count
    assert K.pace_of([120.0] * 29, [80.0] * 30) == (iv, dw)  # the training typists' rule
    assert TY.typing_pace(_typing_session(120.0, 80.0, TY.MIN_STYLE_KEYS - 1).events) is None  # too few keys to say


def test_tempo_and_a_typists_pace_set_the_typing_speed_and_the_text_stays_exact(keystroke_model_dir):
    typist = TY.Typist(keystroke_model_dir)
    texts = TEXTS * 6
    pace = (np.log(180.0), np.log(100.0))
    medians = {}
    for tempo in (0.5, 1.0, 2.0):
        out = typist.type_texts(texts, np.random.default_rng(4), typos=True, paces=[pace] * len(texts), tempo=tempo)
        assert [TY.typed_text(ty, k) for _, ty, k in out] == texts
        medians[tempo] = np.median(np.concatenate([np.diff(TY.key_presses(*o)[0]) for o in out]))
    # the speed follows the tempo, by the model's account of it
    assert medians[0.5] > 1.3 * medians[1.0] > 1.3 * 1.3 * medians[2.0]
    # and the tempo is an input, not a stretch of the output: the model is asked for a typist whose
    # median interval is the pace's divided by the tempo, with the pace's own dwell
    seen = []
    sample = typist.model.sample
    typist.model.sample = lambda prev, key, numeric, rng, t=1.0: seen.append(numeric.copy()) or sample(prev, key, numeric, rng, t)
    try:
        typist.type_texts(texts[:2], np.random.default_rng(4), paces=[pace] * 2, tempo=2.0)
    finally:
        typist.model.sample = sample
    col = {name: K.NUMERIC.index(name) for name in ("pace_log_interval", "pace_log_dwell")}
    asked = np.concatenate(seen)
    np.testing.assert_allclose(asked[:, col["pace_log_interval"]], pace[0] - np.log(2.0) - K.LOG_CENTER)
    np.testing.assert_allclose(asked[:, col["pace_log_dwell"]], pace[1] - K.LOG_CENTER)
    slow = typist.type_texts(texts, np.random.default_rng(4), paces=[(np.log(400.0), np.log(100.0))] * len(texts))
    fast = typist.type_texts(texts, np.random.default_rng(4), paces=[(np.log(90.0), np.log(100.0))] * len(texts))
    gap = [np.median(np.concatenate([np.diff(TY.key_presses(*o)[0]) for o in out])) for out in (slow, fast)]
    assert gap[0] > 2.0 * gap[1]


def test_act_types_at_the_pace_of_its_context_and_says_so(keystroke_model_dir):
    from actiongen_keras.generation import act as A

    plan = {"screen": {"width": 512, "height": 384}, "start": {"x": 256, "y": 192},
            "goals": [{"type": {"text": "the quick brown fox jumps over the lazy dog"}}]}
    spans = {}
    for name, context in (("slow", _typing_session(450.0, 120.0, 40)), ("fast", _typing_session(90.0, 80.0, 40)),
                          ("none", None)):
        session, result = A.act(None, plan, context=context, typing_model=keystroke_model_dir, seed=2)
        g = result["goals"][0]
        assert g["done"] and g["pace_from"] == ("training typist" if context is None else "context")
        T0 = session.extra["generated_from_ms"]
        press = TY.key_presses(session.events.t_ms, session.events.type, session.events.key)[0]
        spans[name] = np.median(np.diff(press[press >= T0]))
    assert spans["slow"] > 2.0 * spans["fast"]
    _, result = A.act(None, plan, context=_typing_session(90.0, 80.0, 10), typing_model=keystroke_model_dir, seed=2)
    assert result["goals"][0]["pace_from"] == "training typist"  # 10 keys: too few to read a typist's pace
