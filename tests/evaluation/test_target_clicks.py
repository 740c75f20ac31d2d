"""Clicked and reached click targets (evaluation/target_clicks.py) on sessions made here."""

import dataclasses

import numpy as np
import pytest

from actiongen_keras.evaluation import target_clicks as TC
from actiongen_keras.recordings.click_targets import with_click_targets
from actiongen_keras.recordings.session import Events, Session


def _person():
    # a click at (100, 100) at 500-600 ms, then a drag (300, 200) -> (500, 400) at 1500-1800 ms
    ev = Events.from_columns(
        t_ms=[0, 500, 600, 1000, 1500, 1600, 1800, 2000],
        type=["move", "press", "release", "move", "press", "move", "release", "move"],
        x=[10, 100, 100, 200, 300, 400, 500, 510], y=[10, 100, 100, 150, 200, 300, 400, 410],
        button=["", "left", "left", "", "left", "", "left", ""],
    )
    s = Session(session_id="s1", source="test", subject="p", screen=(800, 600), events=ev)
    return with_click_targets(s, noise_px=0.0)


def test_targets_are_the_runs_of_the_state_and_a_person_clicks_them_all():
    s = _person()
    tg = TC.shown_targets(s)
    assert len(tg.x) == 2
    np.testing.assert_allclose(tg.start, [0, 600])
    np.testing.assert_allclose(tg.end, [600, 1800])  # shown until the last snapshot before the next, plus a step
    r = TC.target_clicks(s)
    assert r["clicked"].tolist() == [True, True] and r["reached"].tolist() == [True, True]
    # pressed 500 and 900 ms after each appeared, on the spot; the cursor got there with the press
    assert r["click_ms"].tolist() == [500, 900] and r["reach_ms"].tolist() == [500, 900] and r["first_press_px"].tolist() == [0, 0]


def test_a_press_off_target_or_after_it_is_gone_is_not_a_click():
    s = _person()
    ev = s.events
    # the first press 30 px off (and the cursor never within 20 px of it); the cursor passes over
    # the second target while it is shown (1000 ms) but presses on it after it is gone (1850 > 1800 ms)
    moved = Events.from_columns(
        t_ms=[0, 500, 600, 1000, 1850, 1900, 1950, 2000],
        type=ev.type, x=[10, 130, 130, 305, 300, 400, 500, 510], y=[10, 100, 100, 205, 200, 300, 400, 410], button=ev.button,
    )
    gen = dataclasses.replace(s, session_id="g", events=moved)
    r = TC.target_clicks(gen)
    assert r["clicked"].tolist() == [False, False]
    assert r["reached"].tolist() == [False, True]
    assert np.isnan(r["click_ms"]).all() and r["first_press_px"][0] == 30 and r["reach_ms"][1] == 400  # (305, 205) at 1000 ms
    pooled = TC.pooled_target_clicks([s, gen])
    assert pooled["n_targets"] == 4 and pooled["rate_clicked"] == 0.5 and pooled["per_session"] == {"s1": 1.0, "g": 0.0}


def test_sessions_without_targets_are_skipped():
    plain = Session(session_id="m", source="t", subject="p", screen=(10, 10), events=Events.from_columns(t_ms=[0, 16], type=["move", "move"], x=[1, 2], y=[1, 2]))
    assert TC.target_clicks(plain) is None
    assert TC.pooled_target_clicks([plain])["n_targets"] == 0


def test_the_report_counts_targets_for_people_and_samples(tmp_path):
    from actiongen_keras.evaluation import report as R
    from actiongen_keras.evaluation import synthetic as S

    rng = np.random.default_rng(0)
    real = []
    for i in range(3):
        rows_t, rows_x, rows_y, rows_type, rows_b = [], [], [], [], []
        pos, t = np.array([100.0, 100.0]), 0.0
        for _ in range(12):
            goal = rng.uniform(50, 750, 2)
            for f in np.linspace(0.1, 1.0, 20):
                t += 16.0
                p = pos + f * (goal - pos)
                rows_t.append(t), rows_x.append(p[0]), rows_y.append(p[1]), rows_type.append("move"), rows_b.append("")
            for typ in ("press", "release"):
                t += 80.0
                rows_t.append(t), rows_x.append(goal[0]), rows_y.append(goal[1]), rows_type.append(typ), rows_b.append("left")
            pos = goal
        ev = Events.from_columns(t_ms=rows_t, type=rows_type, x=rows_x, y=rows_y, button=rows_b)
        real.append(with_click_targets(Session(session_id=f"r{i}", source="test", subject=f"p{i}", screen=(800, 600), events=ev)))
    far = [dataclasses.replace(s, session_id=f"g{i}", events=dataclasses.replace(s.events, x=s.events.x + 100.0))
           for i, s in enumerate(real)]  # the same input, 100 px to the right of every target
    m = R.evaluate_sessions(real, far, tmp_path / "out", baselines=False, plots=False, n_boot=20, progress=False)
    tc = m["target_clicks"]
    # 10 of each session's 12 targets lie wholly within it: the first is shown from 0 ms (before the first
    # event, 16 ms) and the last until a step after the last event
    assert tc["human"]["rate_clicked"] == 1.0 and tc["human"]["n_targets"] == 30 and tc["model"]["rate_clicked"] == 0.0
    assert "## Click targets" in (tmp_path / "out" / "report.md").read_text()
    assert S.DEFAULT_TARGET_WIDTH / 2 == TC.TARGET_RADIUS_PX


def test_a_quick_double_click_counts_from_when_the_second_target_appeared():
    # released at 610 ms, pressed again 20 ms later: between the 600 and 650 ms snapshots
    ev = Events.from_columns(t_ms=[0, 500, 610, 630, 700, 1000], type=["move", "press", "release", "press", "release", "move"],
                             x=[10, 100, 100, 100, 100, 200], y=[10, 100, 100, 100, 100, 200], button=["", "left", "left", "left", "left", ""])
    s = with_click_targets(Session(session_id="d", source="test", subject="p", screen=(800, 600), events=ev), noise_px=0.0)
    tg = TC.shown_targets(s)
    np.testing.assert_allclose(tg.start, [0, 610])  # the second shown from the first's release, not from its first snapshot (650)
    assert TC.target_clicks(s)["clicked"].tolist() == [True, True]  # the same place twice: two targets, both clicked


def _steered(share, start_heading, n=60, step_px=10.0):
    """A stroke of ``step_px`` steps every 16 ms from (100, 500) towards a click at (700, 300), its
    heading turned by ``share`` of its angle off the target at every event, then the press."""
    x, y, h = [100.0], [500.0], start_heading
    for _ in range(n):
        off = np.angle(np.exp(1j * (np.arctan2(300 - y[-1], 700 - x[-1]) - h)))
        h += share * off
        x.append(x[-1] + step_px * np.cos(h))
        y.append(y[-1] + step_px * np.sin(h))
        if np.hypot(700 - x[-1], 300 - y[-1]) < step_px:
            break
    k = len(x)
    ev = Events.from_columns(t_ms=list(16.0 * np.arange(k)) + [16.0 * k, 16.0 * k + 80], type=["move"] * k + ["press", "release"],
                             x=x + [700, 700], y=y + [300, 300], button=[""] * k + ["left", "left"])
    return with_click_targets(Session(session_id=f"s{share}", source="test", subject="p", screen=(800, 600), events=ev), noise_px=0.0)


def test_steering_reads_the_share_of_its_error_a_path_corrects_per_step():
    for share in (0.05, 0.3):
        s = _steered(share, start_heading=np.pi / 2)  # setting off straight down, the target up and to the right
        off, toward, length = TC.steering(s)
        assert len(off) > 10 and off.max() > 1.0 and np.allclose(length, 10.0)  # the first steps are more than 1 rad off course
        r = TC.pooled_steering([s])
        assert abs(r["pull_slope"] - share) < 1e-6, r
    # a slow corrector stays off course longer: its median error is the larger
    assert TC.pooled_steering([_steered(0.05, np.pi / 2)])["off_course_median"] > 2 * TC.pooled_steering([_steered(0.3, np.pi / 2)])["off_course_median"]
    # turning away from the target reads as a negative pull; a straight line at the target as no error
    assert TC.pooled_steering([_steered(-0.02, 0.0, n=20)])["pull_slope"] < 0
    straight = TC.pooled_steering([_steered(0.0, np.arctan2(-200, 600))])
    assert straight["off_course_median"] < 1e-6 and straight["n_steps"] > 40


def test_pull_slope_reads_only_corrections_below_the_limit():
    off = np.array([0.2, 0.5, 0.8, 1.5, 2.5])
    toward = np.array([0.04, 0.1, 0.16, -1.0, 3.0])  # 0.2 of the error below 1 rad; setting-off turns beyond it
    assert TC.pull_slope(off, toward) == pytest.approx(0.2)
    assert TC.pull_slope(off, np.r_[toward[:2], np.nan, toward[3:]]) == pytest.approx(0.2)  # a draw without a direction is skipped
    assert TC.pull_slope(off[3:], toward[3:]) is None


def test_steering_is_in_the_pooled_target_clicks():
    s = _steered(0.3, np.pi / 2)
    assert TC.pooled_target_clicks([s])["steering"] == TC.pooled_steering([s])
    plain = Session(session_id="m", source="t", subject="p", screen=(10, 10), events=Events.from_columns(t_ms=[0, 16], type=["move", "move"], x=[1, 2], y=[1, 2]))
    assert TC.pooled_steering([plain]) == {"pull_slope": None, "off_course_median": None, "off_course_fast_median": None, "n_steps": 0}


def test_fast_steps_off_course_are_read_apart():
    """A path that creeps (5 px steps) straight at the target and sprints (40 px steps) the
    wrong way: off course 0 for the slow steps, the fast ones' error is the sprint's."""
    x = [100.0 + 5 * i for i in range(20)] + [195.0] * 10
    y = [300.0] * 20 + [300.0 + 40 * i for i in range(1, 11)]  # then straight down, a quarter turn off a target to the right
    k = len(x)
    ev = Events.from_columns(t_ms=list(16.0 * np.arange(k)) + [16.0 * k, 16.0 * k + 80], type=["move"] * k + ["press", "release"],
                             x=x + [700, 700], y=y + [300, 300], button=[""] * k + ["left", "left"])
    s = with_click_targets(Session(session_id="sprint", source="test", subject="p", screen=(800, 800), events=ev), noise_px=0.0)
    r = TC.pooled_steering([s])
    assert r["off_course_median"] < 1e-6
    # the sprint sets off a little more than a quarter turn off (1.65 rad) and the target falls behind (2.19 at its end)
    assert 1.6 < r["off_course_fast_median"] < 2.2


def test_presses_far_from_the_shown_target_are_stray():
    s = _person()
    assert TC.stray_presses(s) == (2, 0)  # the person's presses are their targets
    ev = s.events
    off = Events.from_columns(t_ms=ev.t_ms, type=ev.type, x=[10, 300, 300, 200, 300, 400, 500, 510], y=ev.y, button=ev.button)
    gen = dataclasses.replace(s, session_id="g", events=off)
    assert TC.stray_presses(gen) == (2, 1)  # the first press 200 px right of its target, the drag's on it
    pooled = TC.pooled_target_clicks([s, gen])
    assert pooled["stray_press_share"] == 0.25
    plain = Session(session_id="m", source="t", subject="p", screen=(10, 10), events=Events.from_columns(t_ms=[0, 16], type=["move", "press"], x=[1, 2], y=[1, 2], button=["", "left"]))
    assert TC.stray_presses(plain) == (0, 0) and TC.pooled_target_clicks([plain])["stray_press_share"] is None


def test_the_target_at_a_time_is_the_last_snapshots_and_none_before_the_first():
    s = _person()
    t = np.asarray(s.state.t_ms, float)
    gx, gy = np.asarray(s.state.columns["target_x"], float), np.asarray(s.state.columns["target_y"], float)
    j = int(np.flatnonzero(np.diff(gx) != 0)[0]) + 1  # the first snapshot of the second target
    x, y = TC.target_at(s, [t[0] - 1.0, t[0], t[j] - 1.0, t[j]])
    assert np.isnan(x[0]) and np.isnan(y[0])  # before the first snapshot no target is shown
    np.testing.assert_array_equal(x[1:], [gx[0], gx[j - 1], gx[j]])
    np.testing.assert_array_equal(y[1:], [gy[0], gy[j - 1], gy[j]])
    assert gx[j - 1] != gx[j]
    plain = Session(session_id="m", source="t", subject="p", screen=(10, 10), events=Events.from_columns(t_ms=[0], type=["move"], x=[1], y=[1]))
    assert TC.target_at(plain, [0.0]) is None
