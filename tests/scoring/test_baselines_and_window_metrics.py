"""Baselines and per-head metrics on hand-made windows with known answers."""

import numpy as np
import pytest

from actiongen_keras.data import features as F
from actiongen_keras.scoring import baselines as B
from actiongen_keras.scoring.window_metrics import macro_f1, window_metrics

H, A1 = 6, 4


def inputs_one_window():
    """History: moves at T-900, T-500, T-300, T-100 ms (x rising 0.1 per 200 ms), then a press at T-50."""
    hist_type = np.array([[F.PAD, F.MOVE, F.MOVE, F.MOVE, F.MOVE, F.PRESS]])
    t_before = np.array([[0, 900, 500, 300, 100, 50]], np.float32)
    hist_dt = np.array([[0, 16, 400, 200, 200, 50]], np.float32)
    hist_xy = np.array([[[0, 0], [0.1, 0.5], [0.2, 0.5], [0.3, 0.5], [0.4, 0.5], [0.4, 0.5]]], np.float32)
    dec_type = np.array([[F.BOS, F.MOVE, F.RELEASE, F.PAD]])
    dec_dt = np.array([[0, 70, 30, 0]], np.float32)
    dec_t_after = np.array([[0, 20, 50, 0]], np.float32)
    dec_xy = np.array([[[0.4, 0.5], [0.45, 0.5], [0.45, 0.5], [0, 0]]], np.float32)
    return {
        "hist_type": hist_type, "hist_t_before": t_before, "hist_dt": hist_dt, "hist_xy": hist_xy,
        "dec_type": dec_type, "dec_dt": dec_dt, "dec_t_after": dec_t_after, "dec_xy": dec_xy,
        "screen": np.array([[1000.0, 500.0]], np.float32),
    }


def test_repeat_last_window_replays_the_last_600_ms():
    rep = B.repeat_last_window(inputs_one_window(), target_ms=600)
    # Events within 600 ms before T: moves at 500, 300, 100 and the press at 50 -> 4 events,
    # more than A (3): the first 3 are replayed and EOS ends the sequence.
    assert rep["seq_len"].tolist() == [3]
    assert rep["event_type"].tolist() == [[F.MOVE, F.MOVE, F.MOVE, F.EOS]]
    np.testing.assert_allclose(rep["timing"][0, :3], [400, 200, 200])
    np.testing.assert_allclose(rep["xy"][0, :3, 0], [0.2, 0.3, 0.4])


def test_hold_and_constant_velocity_cursor():
    ins = inputs_one_window()
    hold = B.hold_cursor(ins)
    np.testing.assert_allclose(hold[0], [[0.4, 0.5]] * A1)
    # Last two moves: 0.3 at T-300 and 0.4 at T-100 -> 0.0005 per ms. At t_after 20 ms, the
    # cursor has moved for 100 + 20 ms since the last move: 0.4 + 0.06.
    cv = B.constant_velocity(ins, np.array([[20, 50, 0, 0]], np.float32))
    np.testing.assert_allclose(cv[0, :2], [[0.46, 0.5], [0.475, 0.5]], atol=1e-6)


def test_previous_event_uses_the_teacher_forced_prefix():
    types, timing, xy = B.previous_event(inputs_one_window())
    assert types.tolist() == [[F.PRESS, F.MOVE, F.RELEASE, F.MOVE]]  # step 0: last history event
    np.testing.assert_allclose(timing[0], [50, 70, 30, 0])
    np.testing.assert_allclose(xy[0, 1], [0.45, 0.5])


def test_macro_f1_known_values():
    y = np.array([1, 1, 1, 2])
    assert macro_f1(y, np.array([1, 1, 1, 1])) == pytest.approx((2 * 3 / (6 + 1) + 0) / 2)
    assert macro_f1(y, y) == 1.0


def test_window_metrics_known_values():
    targets = {
        "event_type": np.array([[F.MOVE, F.PRESS, F.EOS, F.PAD]]),
        "timing": np.array([[10.0, 30.0, 0.0, 0.0]]),
        "xy": np.array([[[0.5, 0.5], [0.5, 0.5], [0, 0], [0, 0]]]),
        "seq_len": np.array([2]),
    }
    weights = {
        "event_type": np.array([[1.0, 1, 1, 0]]),
        "timing": np.array([[1.0, 1, 0, 0]]),
        "xy": np.array([[1.0, 0, 0, 0]]),  # the press's position is off-screen
    }
    preds = {
        "event_type": np.array([[F.MOVE, F.MOVE, F.EOS, F.PRESS]]),  # the PAD step is not scored
        "timing": np.array([[12.0, 20.0, 99.0, 99.0]]),
        "xy": np.array([[[0.6, 0.5], [0.0, 0.0], [0, 0], [0, 0]]]),
        "seq_len": np.array([3]),
    }
    m = window_metrics(targets, weights, preds, np.array([[1000.0, 500.0]]))
    assert m["event_accuracy"] == pytest.approx(2 / 3)
    assert m["event_macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert m["timing_mae_ms"] == pytest.approx(6.0)
    assert m["timing_mae_ms_nonmove"] == pytest.approx(10.0)
    assert m["coord_mae_px"] == pytest.approx(50.0)  # |dx| = 100 px, |dy| = 0 -> mean 50
    assert (m["seq_len_acc"], m["seq_len_acc_within1"]) == (0.0, 1.0)


def test_all_baselines_cover_every_head():
    ins = inputs_one_window()
    out = B.all_baselines(ins, np.zeros((1, A1), np.float32), F.MOVE, 2, 16.0, 600)
    assert set(out) == {"previous_event", "majority_event", "repeat_last_window", "constant_median_timing", "hold_cursor", "constant_velocity"}
    for preds in out.values():
        assert preds["event_type"].shape == (1, A1) and preds["timing"].shape == (1, A1)
        assert preds["xy"].shape == (1, A1, 2) and preds["seq_len"].shape == (1,)
    assert out["majority_event"]["seq_len"].tolist() == [2]
    np.testing.assert_allclose(out["constant_median_timing"]["timing"], 16.0)
