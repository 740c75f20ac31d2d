"""Windows of hand-made sessions: exact tokens, times, EOS and weights; no leakage; thinning."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from actiongen_keras.config import DataConfig  # noqa: E402
from actiongen_keras.data import features as F  # noqa: E402
from actiongen_keras.data.normalize import Preprocessing  # noqa: E402
from actiongen_keras.data.vocab import Vocabulary  # noqa: E402
from actiongen_keras.data.windows import (  # noqa: E402
    check_session,
    thin_moves,
    tokenize_session,
    window_times,
    windows_from_sessions,
)
from actiongen_keras.errors import DataError  # noqa: E402
from actiongen_keras.recordings.session import Events, Session, State, validate_events  # noqa: E402

Z, Q = F.SCROLL_ZERO, F.SCROLL_BINS.index(0.25)  # scroll classes of 0 and 0.25 notches
CFG = DataConfig(tick_ms=100.0, history_ticks=3, target_ms=100.0, max_history_events=4, max_actions=4)
ROWS = [
    # t, type, x, y, button, key, dy, offscreen
    (0, "move", 10, 20, "", "", 0, False),
    (50, "move", 20, 20, "", "", 0, False),
    (120, "press", 20, 20, "left", "", 0, False),
    (150, "release", 20, 20, "left", "", 0, False),
    (250, "key_down", 20, 20, "", "a", 0, False),
    (290, "move", 30, 40, "", "", 0, False),
    (300, "move", 40, 40, "", "", 0, False),
    (330, "scroll", 40, 40, "", "", 0.25, False),  # a touchpad: a quarter notch
    (350, "key_up", 40, 40, "", "a", 0, False),
    (380, "move", 150, 50, "", "", 0, True),
    (399, "move", 50, 50, "", "", 0, False),
    (420, "move", 60, 60, "", "", 0, False),
    (700, "move", 70, 70, "", "", 0, False),
]


def hand_session():
    cols = list(zip(*ROWS))
    ev = Events(
        t_ms=cols[0], type=cols[1], x=cols[2], y=cols[3], button=cols[4], key=cols[5],
        scroll_dx=[0] * len(ROWS), scroll_dy=cols[6], offscreen=cols[7],
    )
    state = State(
        t_ms=np.array([150.0, 250.0, 450.0]),
        columns={"v": np.array([1.0, 3.0, np.nan]), "c": np.array(["x", "y", "z"], dtype=object), "b": np.array([1.0, 0.0, 1.0])},
    )
    cols_meta = [{"name": "v", "kind": "numeric"}, {"name": "c", "kind": "categorical"}, {"name": "b", "kind": "bool"}]
    return Session("hand", "synth", "p", (100, 100), ev, game="g", state_columns=cols_meta, state=state)


def hand_prep():
    return Preprocessing(
        data_config=CFG,
        numeric_columns=[{"name": "v", "kind": "numeric", "mean": 2.0, "std": 1.0}, {"name": "b", "kind": "bool", "mean": 0.0, "std": 1.0}],
        categorical_columns=[{"name": "c", "vocab": ["x", "y"]}],
        key_vocab=Vocabulary(["q", "a"]),  # "a" -> id 3
    )


@pytest.fixture(scope="module")
def win():
    ins, tgs, wts, meta = windows_from_sessions([hand_session()], hand_prep(), with_meta=True)
    return ins, tgs, wts, meta


def test_window_grid(win):
    *_, meta = win
    np.testing.assert_array_equal(meta["t_ms"], [300, 400, 500, 600])
    assert list(meta["session_id"]) == ["hand"] * 4


def test_history_tokens_first_window(win):
    ins, *_ = win
    M, P, R, S, KD, KU = F.MOVE, F.PRESS, F.RELEASE, F.SCROLL, F.KEY_DOWN, F.KEY_UP
    # T=300: history [0, 300) has 6 events, the last 4 kept (all slots used).
    np.testing.assert_array_equal(ins["hist_type"][0], [P, R, KD, M])
    np.testing.assert_allclose(ins["hist_t_before"][0], [180, 150, 50, 10])
    np.testing.assert_allclose(ins["hist_dt"][0], [70, 30, 100, 40])
    np.testing.assert_array_equal(ins["hist_button"][0], [1, 1, 0, 0])
    np.testing.assert_array_equal(ins["hist_key"][0], [0, 0, 3, 0])
    np.testing.assert_allclose(ins["hist_xy"][0], [[0.2, 0.2], [0.2, 0.2], [0.2, 0.2], [0.3, 0.4]])
    np.testing.assert_array_equal(ins["hist_scroll"][0], [[Z, Z]] * 4)
    # T=400: [100, 400) -> last 4 = scroll, key_up, move(offscreen, clipped), move.
    np.testing.assert_array_equal(ins["hist_type"][1], [S, KU, M, M])
    np.testing.assert_allclose(ins["hist_t_before"][1], [70, 50, 20, 1])
    np.testing.assert_allclose(ins["hist_xy"][1][2], [1.0, 0.5])
    np.testing.assert_array_equal(ins["hist_scroll"][1][0], [Z, Q])  # the quarter notch is not rounded to 0
    np.testing.assert_array_equal(ins["screen"], [[100, 100]] * 4)


def test_targets_truncated_window(win):
    ins, tgs, wts, _ = win
    M, S, KU, EOS, BOS = F.MOVE, F.SCROLL, F.KEY_UP, F.EOS, F.BOS
    # T=300: [300, 400) holds 5 events > A=4: first 4 kept, EOS at 4 with weight 0.
    assert tgs["seq_len"][0] == 4
    np.testing.assert_array_equal(tgs["event_type"][0], [M, S, KU, M, EOS])
    np.testing.assert_array_equal(wts["event_type"][0], [1, 1, 1, 1, 0])
    np.testing.assert_allclose(tgs["timing"][0], [10, 30, 20, 30, 0])
    np.testing.assert_array_equal(wts["timing"][0], [1, 1, 1, 1, 0])
    np.testing.assert_allclose(tgs["xy"][0][:4], [[0.4, 0.4], [0.4, 0.4], [0.4, 0.4], [1.0, 0.5]])
    np.testing.assert_array_equal(wts["xy"][0], [1, 1, 1, 0, 0])  # off-screen move: weight 0
    np.testing.assert_array_equal(tgs["scroll"][0][1], [Z, Q])
    np.testing.assert_array_equal(wts["scroll"][0], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(tgs["key"][0], [0, 0, 3, 0, 0])
    np.testing.assert_array_equal(wts["key"][0], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(wts["button"][0], [0, 0, 0, 0, 0])
    assert wts["seq_len"][0] == 1
    # Decoder input: BOS at the last cursor (event at 290: 0.3, 0.4), then targets 0..3.
    np.testing.assert_array_equal(ins["dec_type"][0], [BOS, M, S, KU, M])
    np.testing.assert_allclose(ins["dec_xy"][0][0], [0.3, 0.4])
    np.testing.assert_allclose(ins["dec_xy"][0][1], [0.4, 0.4])
    np.testing.assert_allclose(ins["dec_dt"][0], [0, 10, 30, 20, 30])
    np.testing.assert_allclose(ins["dec_t_after"][0], [0, 0, 30, 50, 80])
    np.testing.assert_array_equal(ins["dec_key"][0], [0, 0, 0, 3, 0])
    np.testing.assert_array_equal(ins["dec_scroll"][0], [[Z, Z], [Z, Z], [Z, Q], [Z, Z], [Z, Z]])


def test_targets_short_and_empty_windows(win):
    ins, tgs, wts, _ = win
    M, EOS, BOS, PAD = F.MOVE, F.EOS, F.BOS, F.PAD
    # T=400: one event (420) then EOS.
    assert tgs["seq_len"][1] == 1
    np.testing.assert_array_equal(tgs["event_type"][1], [M, EOS, PAD, PAD, PAD])
    np.testing.assert_array_equal(wts["event_type"][1], [1, 1, 0, 0, 0])
    np.testing.assert_allclose(tgs["timing"][1][0], 21)
    np.testing.assert_array_equal(ins["dec_type"][1], [BOS, M, PAD, PAD, PAD])
    np.testing.assert_array_equal(ins["dec_scroll"][1][2:], 0)  # padding is all zeros
    # T=500 and T=600: no events -> EOS first, weight only there.
    for i in (2, 3):
        assert tgs["seq_len"][i] == 0
        np.testing.assert_array_equal(tgs["event_type"][i], [EOS, PAD, PAD, PAD, PAD])
        np.testing.assert_array_equal(wts["event_type"][i], [1, 0, 0, 0, 0])
        np.testing.assert_array_equal(wts["timing"][i], 0)
        np.testing.assert_array_equal(ins["dec_type"][i], [BOS, PAD, PAD, PAD, PAD])
    np.testing.assert_allclose(ins["dec_xy"][2][0], [0.6, 0.6])


def test_state_per_tick(win):
    ins, *_ = win
    # T=300: ticks 100, 200, 300 -> no snapshot, 150, 250.
    np.testing.assert_array_equal(ins["state_mask"][0], [0, 1, 1])
    np.testing.assert_allclose(ins["state_numeric"][0], [[0, 0], [-1, 1], [1, 0]])
    np.testing.assert_array_equal(ins["state_categorical"][0], [[0], [2], [3]])
    # T=500: ticks 300, 400, 500 -> 250, 250, 450 (NaN -> 0, unseen "z" -> 1).
    np.testing.assert_array_equal(ins["state_mask"][2], [1, 1, 1])
    np.testing.assert_allclose(ins["state_numeric"][2], [[1, 0], [1, 0], [0, 1]])
    np.testing.assert_array_equal(ins["state_categorical"][2], [[3], [3], [1]])


def anchor_session():
    """hand_session plus an anchor "o" (x, y, dt_ms) and a second anchor "p" without a time."""
    s = hand_session()
    cols = dict(s.state.columns)
    cols.update(ox=np.array([50.0, 20.0, np.nan]), oy=np.array([10.0, 80.0, 5.0]), odt=np.array([400.0, 90.0, 7.0]),
                px=np.array([1.0, 2.0, 3.0]), py=np.array([4.0, 5.0, 6.0]))
    meta = list(s.state_columns) + [
        {"name": "ox", "kind": "numeric", "anchor": "o", "role": "x"},
        {"name": "oy", "kind": "numeric", "anchor": "o", "role": "y"},
        {"name": "odt", "kind": "numeric", "anchor": "o", "role": "dt_ms"},
        {"name": "px", "kind": "numeric", "anchor": "p", "role": "x"},
        {"name": "py", "kind": "numeric", "anchor": "p", "role": "y"},
    ]
    return Session("hand", "synth", "p", (100, 100), s.events, game="g", state_columns=meta, state=State(t_ms=s.state.t_ms, columns=cols))


def test_anchors_of_the_snapshot_at_T_with_times_from_T():
    from actiongen_keras.data.normalize import fit_preprocessing

    s = anchor_session()
    prep = fit_preprocessing([(s, None)], CFG)
    assert prep.anchors == [{"name": "o", "x": "ox", "y": "oy", "dt_ms": "odt"}, {"name": "p", "x": "px", "y": "py", "dt_ms": None}]
    assert prep.num_anchors == 2
    ins, *_ , meta = windows_from_sessions([s], prep, with_meta=True)
    np.testing.assert_array_equal(meta["t_ms"], [300, 400, 500, 600])
    # T=300, 400: snapshot 250 (age 50, 150); T=500, 600: snapshot 450 (age 50, 150), where "o" has no x.
    np.testing.assert_allclose(ins["anchor_xy"][:, 0], [[0.2, 0.8], [0.2, 0.8], [0, 0], [0, 0]], atol=1e-6)
    np.testing.assert_allclose(ins["anchor_dt"][:, 0], [40.0, -60.0, 0.0, 0.0])
    np.testing.assert_array_equal(ins["anchor_mask"], [[1, 1], [1, 1], [0, 1], [0, 1]])
    np.testing.assert_allclose(ins["anchor_xy"][:, 1], [[0.02, 0.05], [0.02, 0.05], [0.03, 0.06], [0.03, 0.06]], atol=1e-6)
    np.testing.assert_allclose(ins["anchor_dt"][:, 1], 0.0)  # no time column: 0 ("now")
    # Sessions without anchors: one always-masked slot.
    ins0, *_ = windows_from_sessions([hand_session()], hand_prep())
    assert ins0["anchor_xy"].shape == (4, 1, 2) and not ins0["anchor_mask"].any()


def test_dtypes_and_shapes_follow_contract(win):
    ins, tgs, wts, _ = win
    sig = F.input_signature(4, 4, 3, 2, 1)
    for k, (shape, dtype) in sig.items():
        assert ins[k].shape[1:] == shape, k
        assert ins[k].dtype == np.dtype(dtype), k
    for k, (shape, dtype) in F.target_signature(4).items():
        assert tgs[k].shape[1:] == shape and tgs[k].dtype == np.dtype(dtype), k
    for k, shape in F.weight_signature(4).items():
        assert wts[k].shape[1:] == shape and wts[k].dtype == np.float32, k


def test_time_range_keeps_whole_windows_inside():
    s = hand_session()
    T = window_times(0.0, 700.0, CFG, (0.0, 500.0))
    np.testing.assert_array_equal(T, [300, 400])
    T = window_times(0.0, 700.0, CFG, (150.0, 700.0))
    np.testing.assert_array_equal(T, [500, 600])
    assert len(s.events) == len(ROWS)


def test_thinning_counts_and_keeps_presses():
    t = np.arange(0, 101, 5.0)
    typ = np.array(["move"] * len(t), dtype=object)
    typ[3] = "press"  # t=15
    typ[4] = "release"  # t=20
    ev = Events.from_columns(t_ms=t, type=typ, button=np.where(np.isin(typ, ["press", "release"]), "left", ""))
    out, dropped = thin_moves(ev, 20.0)
    moves = out.t_ms[out.type == "move"]
    np.testing.assert_array_equal(moves, [0, 25, 45, 65, 85])  # greedy, >= 20 ms apart (10, 15, 20 are not moves)
    assert list(out.t_ms[out.type != "move"]) == [15, 20]
    assert dropped == len(ev) - len(out) == 21 - 7
    same, zero = thin_moves(ev, 0.0)
    assert zero == 0 and len(same) == len(ev)


def test_thinning_reported_by_tokenize():
    s = hand_session()
    cfg = DataConfig(**{**CFG.__dict__, "min_move_interval_ms": 100.0})
    tok = tokenize_session(s, hand_prep(), cfg)
    # moves at 0, 50, 290, 300, 380, 399, 420, 700 -> kept 0, 290, 399, 700
    assert tok.dropped_moves == 4
    assert len(tok.t) == len(ROWS) - 4
    np.testing.assert_allclose(tok.dt[tok.t == 290.0], [40.0])  # dt after thinning: since the key_down at 250


def test_bad_sessions_are_reported():
    s = hand_session()
    assert check_session(s, CFG) is None
    short = Session("short", "synth", "p", (100, 100), s.events.take(np.arange(5)))
    assert check_session(short, CFG).startswith("shorter than one window")
    zero = Session("zero", "synth", "p", (0, 100), s.events)
    assert "zero-size screen" in check_session(zero, CFG)
    nostate = Session("nostate", "osu", "p", (512, 384), s.events, game="osu!")
    assert "without state" in check_session(nostate, CFG)
    with pytest.raises(DataError, match="zero-size screen"):
        tokenize_session(zero, hand_prep(), CFG)
    # A too-short session gives no windows, not an error.
    ins, tgs, wts = windows_from_sessions([short], hand_prep())
    assert tgs["seq_len"].shape == (0,) and ins["hist_type"].shape == (0, 4)


def _naive(t, T, cfg):
    """Reference: per-window Python loops."""
    hist = [i for i in range(len(t)) if T - cfg.history_ticks * cfg.tick_ms <= t[i] < T][-cfg.max_history_events:]
    tgt = [i for i in range(len(t)) if T <= t[i] < T + cfg.target_ms]
    return hist, tgt


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 2000, allow_nan=False).map(lambda v: round(v, 1)), min_size=2, max_size=80), st.integers(1, 3))
def test_no_leakage_and_matches_naive(times, stride):
    t = np.sort(np.array(times + [0.0, 2000.0]))
    ev = Events.from_columns(t_ms=t, type=["move"] * len(t), x=np.full(len(t), 5.0), y=np.full(len(t), 5.0))
    cfg = DataConfig(**{**CFG.__dict__, "stride_ticks": stride})
    s = Session("h", "synth", "p", (10, 10), ev)
    prep = Preprocessing(data_config=cfg)
    ins, tgs, wts, meta = windows_from_sessions([s], prep, with_meta=True)
    H, A = cfg.max_history_events, cfg.max_actions
    for w, T in enumerate(meta["t_ms"]):
        valid_h = ins["hist_type"][w] != F.PAD
        tb = ins["hist_t_before"][w][valid_h]
        assert (tb > 0).all() and (tb <= cfg.history_ticks * cfg.tick_ms).all()  # history strictly before T
        n = tgs["seq_len"][w]
        ta = ins["dec_t_after"][w][1 : n + 1]
        assert (ta >= 0).all() and (ta < cfg.target_ms).all()  # targets at or after T
        hist, tgt = _naive(t, T, cfg)
        assert valid_h.sum() == len(hist) and (not len(hist) or valid_h[H - len(hist):].all())
        np.testing.assert_allclose(tb, T - t[hist], rtol=0, atol=1e-3)
        assert n == min(len(tgt), A)
        np.testing.assert_allclose(ta, t[tgt[:n]] - T, atol=1e-3)
        assert wts["event_type"][w][n] == (1.0 if len(tgt) <= A else 0.0)


def test_partial_human_input_is_skipped_or_unweighted():
    s = hand_session()
    relax = Session("relax", "osu", "p", (100, 100), s.events, extra={"human_channels": ["cursor"]})
    assert "keys are not human" in check_session(relax, CFG)
    typing = Session("typing", "aalto", "p", (100, 100), s.events, extra={"cursor_recorded": False})
    autopilot = Session("ap", "osu", "p", (100, 100), s.events, extra={"human_channels": ["keys"]})
    full = Session("full", "osu", "p", (100, 100), s.events, extra={"human_channels": ["cursor", "keys"]})
    for session, expect_xy in ((typing, False), (autopilot, False), (full, True)):
        assert check_session(session, CFG) is None
        _, tgs, wts = windows_from_sessions([session], hand_prep())
        has_events = wts["timing"].sum() > 0
        assert has_events
        assert (wts["xy"].sum() > 0) == expect_xy, session.session_id


def test_real_recorder_values_tokenize_without_breaking_normalisation():
    """A second monitor above the screen (negative y), a cursor outside the window and a
    touchpad's fractions of a notch: positions clipped into [0, 1] with no position target,
    scroll classes that keep the fractions."""
    ev = Events.from_columns(
        t_ms=[0.0, 16.0, 33.0, 50.0, 66.0, 83.0],
        type=["move", "move", "move", "scroll", "scroll", "scroll"],
        x=[50.0, 50.0, 130.0, 50.0, 50.0, 50.0], y=[50.0, -70.0, 50.0, 50.0, 50.0, 50.0],
        scroll_dy=[0, 0, 0, 0.2, -0.45, 0.0],
    )
    ev, _ = validate_events(ev, (100, 100), "desk/events.csv")  # strict: all valid
    tok = tokenize_session(Session("d", "desk", "p", (100, 100), ev), config=CFG)
    np.testing.assert_allclose(tok.xy, [[0.5, 0.5], [0.5, 0.0], [1.0, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert tok.xy_ok.tolist() == [True, False, False, True, True, True]
    assert F.scroll_notches(tok.scroll[3:, 1]).tolist() == [0.25, -0.5, 0.0]
    assert tok.scroll[:3].tolist() == [[Z, Z]] * 3


def test_dwell_targets_pair_each_press_with_its_release():
    """press 120 -> release 150 (30 ms), key_down 'a' 250 -> key_up 350 (100 ms); the dwell target
    sits on the press (key_down), other events and unreleased presses weigh 0."""
    from actiongen_keras.data.windows import press_dwell

    tok = tokenize_session(hand_session(), hand_prep())
    d = tok.dwell
    assert d[2] == 30.0 and d[4] == 100.0
    assert np.isnan(np.delete(d, [2, 4])).all()
    # windows: the key_down at 250 is target 0 of the window at T=200 (a window grid of its own)
    ins, tgs, wts = windows_from_sessions([hand_session()], hand_prep(), config=DataConfig(
        tick_ms=100.0, history_ticks=2, target_ms=100.0, max_history_events=4, max_actions=4))[:3]
    row = int(np.flatnonzero((tgs["event_type"][:, 0] == F.KEY_DOWN))[0])
    assert tgs["dwell"][row, 0] == 100.0 and wts["dwell"][row].tolist() == [1, 0, 0, 0, 0]
    assert set(np.unique(wts["dwell"])) <= {0.0, 1.0} and wts["dwell"].sum() == ((tgs["event_type"] == F.PRESS) |
                                                                                 (tgs["event_type"] == F.KEY_DOWN)).sum()
    # a press that is never released, a release without a press, two buttons interleaved
    typ = np.array([F.PRESS, F.PRESS, F.RELEASE, F.RELEASE, F.PRESS, F.RELEASE], np.int32)
    got = press_dwell(typ, np.array([0.0, 10.0, 25.0, 40.0, 50.0, 60.0]), ["1", "2", "2", "3", "1", "1"])
    np.testing.assert_array_equal(got[[1, 4]], [15.0, 10.0])
    assert np.isnan(got[[0, 2, 3, 5]]).all()  # button 1's first press is re-pressed before any release


def test_max_idle_ms_leaves_out_windows_after_a_long_pause():
    cfg = dataclasses.replace(CFG, max_idle_ms=150.0)
    events = np.array([0.0, 10.0, 290.0, 550.0])  # pauses: 10 -> 290 ms and 290 -> 550 ms
    # every boundary 300..600 (CFG: history 300 ms, target 100 ms); the last event before T must be <= 150 ms ago
    T_all = window_times(0.0, 700.0, CFG)
    np.testing.assert_array_equal(T_all, [300, 400, 500, 600])
    np.testing.assert_array_equal(window_times(0.0, 700.0, cfg, event_t=events), [300, 400, 600])  # 500: 210 ms after 290
    with pytest.raises(DataError, match="needs the event times"):
        window_times(0.0, 700.0, cfg)
