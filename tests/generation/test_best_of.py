"""Best of N windows (generation/best_of.py): which anchors a window's cost reads, the cost in pixels, the
choice (the rollout that keeps each window's cheapest candidate: tests/generation/test_generation.py)."""

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.generation.best_of import MISS_PX, PRESS_WINDOW_MS, anchor_cost, counted_anchors, cursor_at, pick_best
from actiongen_keras.generation.rollout import window_seed


def test_cursor_at_holds_the_last_event_at_or_before_each_time():
    start = np.array([[0.5, 0.5]])
    t = np.array([[100.0, 200.0, 300.0, 0.0]])  # the last slot is past the count: never read
    xy = np.array([[[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.9, 0.9]]])
    got = cursor_at(start, t, xy, np.array([3]), np.array([[50.0, 100.0, 250.0, 600.0]]))
    np.testing.assert_allclose(got[0], [[0.5, 0.5], [0.1, 0.1], [0.2, 0.2], [0.3, 0.3]])
    empty = cursor_at(start, t, xy, np.array([0]), np.array([[600.0]]))  # no event: the cursor stays at the start
    np.testing.assert_allclose(empty[0], [[0.5, 0.5]])


def test_counted_anchors_follow_the_rules():
    target = 600.0
    mask = np.ones((4, 3))
    dt = np.array([
        [0.0, 0.0, 0.0],  # a click target and its end share their time (the third is its twin too): the first only
        [200.0, 450.0, 800.0],  # two circles due within the window, one after it
        [700.0, 650.0, 900.0],  # nothing due: the next to come (650 ms), at the window's end
        [-30.0, 300.0, 300.0],  # one already due, two due together at 300 ms: the first of those
    ])
    counts, when, timed = counted_anchors(dt, mask, target)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 1, 0]])
    np.testing.assert_allclose(when[0], [600, 600, 600])
    np.testing.assert_allclose(when[1, :2], [200, 450])
    np.testing.assert_allclose(when[2, 1], 600)
    np.testing.assert_allclose(when[3, :2], [600, 300])
    np.testing.assert_array_equal(timed, [[0, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 1]])
    absent, _, _ = counted_anchors(dt, np.array([[0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]]), target)
    np.testing.assert_array_equal(absent, [[0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]])


def test_anchor_cost_is_the_mean_distance_in_pixels():
    move, press = F.MOVE, F.PRESS
    out = {"count": np.array([2, 2, 0, 3]), "t_ms": np.array([[100.0, 400.0, 450.0]] * 4),
           "xy": np.array([[[0.5, 0.5], [0.6, 0.5], [0.6, 0.5]]] * 4),
           "event_type_id": np.array([[move, move, press]] * 3 + [[move, move, press]])}
    window = {"bos_xy": np.array([[0.0, 0.0]] * 4),
              "anchor_xy": np.array([[[0.6, 0.6], [0.5, 0.5]]] * 4),
              "anchor_dt": np.array([[0.0, 0.0], [300.0, 500.0], [0.0, 0.0], [300.0, 500.0]]),
              "anchor_mask": np.array([[1, 1], [1, 1], [0, 0], [1, 1]])}
    cost = anchor_cost(out, window, 600.0, np.array([[1000, 500]] * 4))
    # row 0: the first anchor at the window's end: (0.6, 0.5) to (0.6, 0.6) = 50 px on a 500 px screen
    # row 1: at 300 ms the cursor is at (0.5, 0.5): (100, 50) px from the first; at 500 ms at (0.6, 0.5): 100 px from
    #        the second; no press within PRESS_WINDOW_MS of either (the third slot is past the count): MISS_PX each
    # row 2: no anchor, no cost
    # row 3: as row 1 with a press at 450 ms: within the window of the second anchor (500 ms) only
    np.testing.assert_allclose(cost, [50.0, (np.hypot(100, 50) + 100) / 2 + MISS_PX, 0.0,
                                      (np.hypot(100, 50) + MISS_PX + 100) / 2])
    assert PRESS_WINDOW_MS >= 50.0


def test_pick_best_keeps_the_cheapest_and_the_first_of_ties():
    np.testing.assert_array_equal(pick_best([3.0, 1.0, 2.0, 0.0, 0.0, 0.0], 3), [1, 3])
    assert window_seed(7, 2, 0) == window_seed(7, 2) and len({window_seed(7, 2, c) for c in range(5)}) == 5
