import numpy as np
import pytest
from helpers import click_session

from actiongen_keras.evaluation import kinematics as K
from actiongen_keras.evaluation import synthetic as S

TARGETS = [(50, 50), (400, 300), (100, 320), (480, 40), (250, 200), (260, 205), (30, 370)]
TIMES = [500, 1100, 1700, 2500, 3000, 3200, 4000]


def _cursor_at_clicks(s):
    ct, cx, cy = K.click_times(s)
    tr = K.cursor_track(s, pause_ms=np.inf)
    i = np.searchsorted(tr.t, ct, side="right") - 1
    return ct, np.c_[tr.x[i], tr.y[i]], np.c_[cx, cy]


@pytest.mark.parametrize("make", [S.bezier_session, S.windmouse_session])
def test_bots_reach_their_targets_on_time(make):
    real = click_session(TARGETS, TIMES)
    bot = make(real, seed=3)
    ct, cursor, press_pos = _cursor_at_clicks(bot)
    np.testing.assert_array_equal(ct, TIMES)
    np.testing.assert_allclose(cursor, np.array(TARGETS, float), atol=1e-6)
    np.testing.assert_allclose(press_pos, np.array(TARGETS, float), atol=1e-6)
    assert bot.source == "generated" and bot.subject == real.subject
    assert bot.extra["context_session_id"] == real.session_id
    ev = bot.events
    assert np.all(np.diff(ev.t_ms) >= 0)
    assert (ev.type == "key_up").sum() == (ev.type == "key_down").sum() == len(TIMES)
    assert (ev.x >= 0).all() and (ev.x <= 512).all() and (ev.y >= 0).all() and (ev.y <= 384).all()


@pytest.mark.parametrize("make", [S.bezier_session, S.windmouse_session])
def test_bots_are_deterministic_under_a_seed(make):
    real = click_session(TARGETS, TIMES)
    a, b, c = make(real, seed=7), make(real, seed=7), make(real, seed=8)
    np.testing.assert_array_equal(a.events.t_ms, b.events.t_ms)
    np.testing.assert_array_equal(a.events.x, b.events.x)
    np.testing.assert_array_equal(a.events.y, b.events.y)
    assert len(a.events) != len(c.events) or not np.array_equal(a.events.x, c.events.x)


def test_bezier_uses_fitts_time_and_sampling_interval():
    real = click_session([(100, 100), (400, 100)], [500, 3000], dt=10.0)
    bot = S.bezier_session(real, fitts=(100.0, 200.0), width=30.0, seed=0, overshoot_prob=0.0)
    tr = K.cursor_track(bot, pause_ms=np.inf)
    moving = tr.t[(tr.t > 600)]
    mt_expected = 100 + 200 * np.log2(300 / 30 + 1)
    start = moving[0] - 10.0  # the first sample is one interval after the start
    assert abs((3000 - start) - mt_expected) <= 5.0 + 1e-6
    np.testing.assert_allclose(np.diff(moving), 10.0, atol=1e-6)


def test_windmouse_points_end_on_target_and_stay_bounded():
    rng = np.random.default_rng(0)
    pts = S.windmouse_points((0, 0), (300, 200), rng)
    np.testing.assert_allclose(pts[-1], (300, 200))
    steps = np.hypot(*np.diff(np.r_[[[0, 0]], pts], axis=0).T)
    assert steps[:-1].max() <= 15.0 + 1e-9  # the speed cap M0
    assert 20 < len(pts) < 200


def test_fitts_fit_recovers_a_and_b():
    rng = np.random.default_rng(0)
    D = rng.uniform(20, 800, 400)
    W = rng.choice([10.0, 20.0, 40.0], 400)
    MT = S.fitts_time(D, W, 120.0, 180.0) + rng.normal(0, 10, 400)
    a, b = S.fit_fitts(D, W, MT)
    assert abs(a - 120) < 5 and abs(b - 180) < 3


def test_click_movements_measure_onset_to_click():
    real = click_session([(100, 100), (300, 100), (300, 300)], [500, 900, 1300], dt=10.0)
    D, W, MT = S.click_movements(real, width=20.0)
    np.testing.assert_allclose(D, [200, 200], atol=2)
    assert np.all((MT > 350) & (MT <= 400))
