import numpy as np
import pytest
from helpers import events, moves, session

from actiongen_keras.evaluation import kinematics as K


def test_constant_velocity_line():
    t = np.arange(0, 1000, 10.0)
    ev = moves(t, 10 + t * 0.5, 100 + 0 * t)  # 0.5 px/ms = 500 px/s
    k = K.kinematics(ev)
    np.testing.assert_allclose(k.speed, 500.0)
    np.testing.assert_allclose(k.accel, 0.0, atol=1e-9)
    np.testing.assert_allclose(k.jerk, 0.0, atol=1e-9)
    np.testing.assert_allclose(k.curv, 0.0, atol=1e-12)
    eff, _ = K.path_efficiency(ev, by="strokes")
    np.testing.assert_allclose(eff, [1.0])


def test_circle_curvature_is_one_over_radius():
    R = 80.0
    th = np.arange(0, 2 * np.pi, 0.05)
    t = np.arange(len(th)) * 10.0
    k = K.kinematics(moves(t, 200 + R * np.cos(th), 200 + R * np.sin(th)))
    np.testing.assert_allclose(k.curv, 1 / R, rtol=1e-3)
    np.testing.assert_allclose(np.abs(k.angle), 0.05, rtol=1e-9)
    np.testing.assert_allclose(k.speed, R * 2 * np.sin(0.025) / 10 * 1000, rtol=1e-9)


def test_uniform_acceleration_and_jerk():
    a = 2000.0  # px/s^2
    t = np.arange(0, 500, 8.0)
    x = 0.5 * a * (t / 1000) ** 2
    k = K.kinematics(moves(t, x, np.zeros_like(t)))
    np.testing.assert_allclose(k.accel, a, rtol=1e-6)
    np.testing.assert_allclose(k.jerk, 0.0, atol=1e-3)


def test_pauses_cut_strokes_and_offscreen_is_ignored():
    t = np.r_[np.arange(0, 100, 10.0), np.arange(400, 500, 10.0)]
    x = np.r_[np.arange(10.0), 50 + np.arange(10.0)]
    tr = K.cursor_track(moves(t, x, np.zeros_like(x)), pause_ms=150)
    assert tr.stroke.tolist() == [0] * 10 + [1] * 10
    k = K.kinematics(tr)
    assert len(k.speed) == 18 and np.allclose(k.speed, 100.0)  # no step across the pause
    ev = moves([0, 10, 20, 30, 40], [0, 1, 9000, 3, 4], [0, 0, 9000, 0, 0])
    ev.offscreen[2] = True
    k = K.kinematics(ev)
    assert k.speed.max() == pytest.approx(100.0)
    assert len(k.speed) == 2  # 0-10 and 30-40; nothing through the off-screen sample


def test_dwell_same_button_and_key():
    ev = events([
        (0, "press", 0, 0, "left", ""), (30, "press", 0, 0, "right", ""), (80, "release", 0, 0, "left", ""),
        (130, "release", 0, 0, "right", ""), (200, "key_down", 0, 0, "", "k1"), (210, "key_down", 0, 0, "", "k2"),
        (250, "key_up", 0, 0, "", "k1"), (300, "key_up", 0, 0, "", "k2"), (400, "release", 0, 0, "left", ""),
    ])
    d = K.dwell_times(ev)
    assert d["button"].tolist() == [80.0, 100.0]
    assert d["key"].tolist() == [50.0, 90.0]


def test_click_to_click_efficiency_of_an_l_path():
    rows = [(0, "press", 0, 0, "left", ""), (5, "release", 0, 0, "left", "")]
    rows += [(10 * i, "move", 3.0 * i, 0, "", "") for i in range(11)]  # right 30
    rows += [(100 + 10 * i, "move", 30, 4.0 * i, "", "") for i in range(1, 11)]  # down 40
    rows += [(200, "press", 30, 40, "left", ""), (210, "release", 30, 40, "left", "")]
    eff, _ = K.path_efficiency(events(rows), by="clicks")
    np.testing.assert_allclose(eff, [50 / 70])


def test_event_rates_and_segment_features():
    t = np.arange(0, 9000, 10.0)
    ev = moves(t, t * 0.02, np.zeros_like(t))  # 20 px/s, 100 moves/s
    r = K.event_rates(ev)
    assert r["move"] == pytest.approx(len(t) / 8.99)
    X, t0 = K.segment_features(session(ev))
    assert X.shape == (3, len(K.FEATURE_NAMES))
    col = {n: i for i, n in enumerate(K.FEATURE_NAMES)}
    np.testing.assert_allclose(X[:, col["speed_q50"]], 20.0)
    np.testing.assert_allclose(X[:, col["rate_move"]], 100.0, rtol=0.01)
    # one stroke over the whole session: it counts in the segment where it ends
    np.testing.assert_allclose(X[:, col["straight_stroke_q50"]], [np.nan, np.nan, 1.0])
    np.testing.assert_allclose(X[:, col["pause_frac"]], 0.0, atol=0.01)
    assert np.isnan(X[:, col["dwell_q50"]]).all()
    assert t0.tolist() == [0.0, 3000.0, 6000.0]


def test_edge_share_counts_on_screen_moves_near_an_edge():
    """512 x 384 screen, 1% margins (5.12 / 3.84 px): of 5 on-screen moves, x = 5 and y = 381 are
    near an edge, x = 6 and the middle are not; an off-screen sample does not count; pooled over sessions."""
    a = session(moves([0, 10, 20, 30], [5, 6, 256, 200], [100, 100, 192, 381]))
    b = session(moves([0, 10], [100, 600], [100, 100]))  # 600 > 512: off the screen, marked so by the reader
    b.events.offscreen[1] = True
    assert K.edge_share([a]) == pytest.approx(2 / 4)
    assert K.edge_share([a, b]) == pytest.approx(2 / 5)
    assert K.edge_share([a], margin=0.0) == 0.0 and K.edge_share([]) is None


def test_still_share_counts_moves_at_the_position_before_them():
    """Of 5 moves after the first event, 2 stand on the position of the event before them (one
    after a press at the cursor); an off-screen move neither counts nor is compared; pooled over sessions."""
    a = session(events([(0, "move", 5, 9, "", ""), (10, "move", 6, 9, "", ""), (20, "press", 6, 9, "left", ""),
                        (30, "move", 6, 9, "", ""), (40, "move", 7, 9, "", ""), (50, "move", 7, 9, "", "")]))
    assert K.still_share([a]) == pytest.approx(2 / 4)  # moves at 10, 30, 40, 50: 30 and 50 stand still
    b = session(moves([0, 10, 20], [100, 100, 100], [50, 50, 50]))
    b.events.offscreen[1] = True  # neither pair has two on-screen positions
    assert K.still_share([b]) is None and K.still_share([a, b]) == pytest.approx(2 / 4)
    c = session(moves([0, 10, 20], [1, 2, 2], [1, 1, 1]))
    assert K.still_share([a, c]) == pytest.approx(3 / 6) and K.still_share([]) is None


def test_silent_share_counts_empty_slices_of_the_generated_span():
    # events in the first 4.5 s only; a rollout's span is its generated 30 s: 8 of its 10 slices of 3 s are empty
    t = np.arange(0.0, 4500.0, 16.0)
    s = session(moves(1000.0 + t, np.linspace(10, 200, len(t)), np.full(len(t), 50.0)), sid="g",
                extra={"generated_from_ms": 1000.0, "generated_ms": 30000.0})
    assert K.silent_share([s]) == 0.8
    # a recording spans its first to its last event: one whole slice, not empty
    real = session(moves(t, np.linspace(10, 200, len(t)), np.full(len(t), 50.0)), sid="r")
    assert K.silent_share([real]) == 0.0 and K.silent_share([s, real]) == 8 / 11
    assert K.silent_share([session(moves([0.0, 100.0], [1, 2], [1, 2]))]) is None  # no whole slice
