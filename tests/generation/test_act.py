"""Directed generation (generation/act.py): the plan's checks, its targets, and `actiongen act` on a
tiny untrained model whose preprocessing knows click targets."""

import json

import numpy as np
import pytest

from actiongen_keras.cli import main
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation import act as A
from actiongen_keras.recordings import click_targets as CT
from actiongen_keras.recordings.session import read_session
from actiongen_keras.testing.runs import tiny_config, untrained_run
from actiongen_keras.testing.sessions import synthetic_session

SCREEN = {"width": 512, "height": 384}


def _plan(*goals):
    return {"screen": SCREEN, "start": {"x": 256, "y": 192}, "goals": list(goals)}


@pytest.mark.parametrize("goal, message", [
    ({"type": {"text": "hi"}}, "goals[0]: 'type' goals are not built yet"),
    ({"jump": {"x": 1, "y": 2}}, "goals[0]: unknown goal 'jump'"),
    ({"click": {"x": 1}}, "goals[0].click: missing y"),
    ({"click": {"x": 1, "y": 2, "size": 3}}, "goals[0].click: unknown key(s) size"),
    ({"click": {"x": 600, "y": 2}}, "goals[0].click: (600, 2) is off the 512x384 screen"),
    ({"click": {"x": 1, "y": 2, "radius": 0}}, "goals[0].click.radius: must be > 0"),
    ({"move": {"x": "a", "y": 2}}, "goals[0].move.x: must be a finite number"),
    ({"drag": {"from": {"x": 1, "y": 2}}}, "goals[0].drag: missing to"),
    ({"click": {"x": 1, "y": 2, "button": "thumb"}}, "goals[0].click.button: one of left"),
])
def test_a_bad_plan_names_the_goal_and_field(goal, message):
    with pytest.raises(ActiongenError) as e:
        A.read_plan(_plan(goal))
    assert message in str(e.value)


def test_a_bad_plan_file_names_the_file_and_line(tmp_path):
    p = tmp_path / "plan.json"
    p.write_text('{"screen": {"width": 10, "height": 10},\n "goals": [,]}')
    with pytest.raises(ActiongenError, match=r"plan.json:2: not JSON"):
        A.read_plan(p)


def test_goals_become_targets_in_order():
    plan = A.read_plan(_plan({"move": {"x": 10, "y": 20}}, {"double_click": {"x": 30, "y": 40, "radius": 8}},
                             {"right_click": {"x": 50, "y": 60}}, {"drag": {"from": {"x": 70, "y": 80}, "to": {"x": 90, "y": 100, "radius": 5}}}))
    tg, owner = A.plan_targets(plan)
    assert owner.tolist() == [0, 1, 1, 2, 3]
    assert tg.x.tolist() == [10, 30, 30, 50, 70] and tg.end_x.tolist() == [10, 30, 30, 50, 90] and tg.end_y[-1] == 100
    assert tg.kind.tolist() == ["move", "click", "click", "click", "click"]
    assert tg.button.tolist() == ["left", "left", "left", "right", "left"]
    assert tg.radius.tolist() == [CT.TARGET_RADIUS_PX, 8, 8, CT.TARGET_RADIUS_PX, CT.TARGET_RADIUS_PX]
    # a move target is done by reaching it, a click by a press on it, at the release
    task = CT.ClickTask(tg, 0.0, recorded=False)
    task.observe([10, 20], ["move", "move"], [100, 12], [100, 21], ["", ""])
    assert task.done[1][:2] == (20.0, 1)
    task.observe([30, 40], ["press", "release"], [31, 31], [41, 41], ["left", "left"])
    assert task.index == 2


def test_act_carries_out_a_plan_and_writes_the_session_events_and_result(tmp_path):
    sessions = [CT.with_click_targets(synthetic_session(f"s{i}", f"p{i}", duration_s=20, rate_hz=30, seed=i, screen=(512, 384)))
                for i in range(2)]
    run = untrained_run(sessions, tiny_config(), run_dir=tmp_path / "run")
    plan = _plan(*[{"click": {"x": 256, "y": 192, "radius": 1000}} for _ in range(3)])  # any press does it: the model is untrained
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    code = main(["-q", "act", "--model", run.path, "--plan", str(tmp_path / "plan.json"), "--out", str(tmp_path / "out"),
                 "--context", str(_write(sessions[0], tmp_path / "ctx")), "--seconds-per-goal", "3"])
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert code == (0 if result["achieved"] == 3 else 1) and result["of"] == 3 and result["achieved"] >= 1
    done = [g["done_ms"] for g in result["goals"] if g["done"]]
    assert done == sorted(done) and all(t > 0 for t in done)
    s, _ = read_session(tmp_path / "out" / "session", "strict")
    T0 = s.extra["generated_from_ms"]
    assert s.events.t_ms[-1] <= T0 + result["seconds"] * 1000.0 + 1e-3  # cut at the last goal's release (all done), else 9 s
    assert result["seconds"] == (max(done) / 1000.0 if result["achieved"] == 3 else 9.0)
    events = json.loads((tmp_path / "out" / "events.json").read_text())
    assert len(events) == int((s.events.t_ms >= T0).sum()) and events[0]["t_ms"] >= 0
    # the state the model was shown: nothing before T0, then the goals' targets
    st = s.state.columns["target_x"]
    assert np.all(np.isnan(st[s.state.t_ms < T0])) and st[s.state.t_ms >= T0][0] == 256


def test_a_model_without_click_targets_is_refused(tmp_path):
    run = untrained_run([synthetic_session("s", "p", duration_s=10, screen=(512, 384))], tiny_config())
    with pytest.raises(ActiongenError, match="not trained with click targets"):
        A.act(run, A.read_plan(_plan({"click": {"x": 1, "y": 2}})))


def _write(session, folder):
    from actiongen_keras.recordings.session import write_session

    write_session(session, folder)
    return folder
