"""Directed generation (generation/act.py): the plan's checks, its targets, and `actiongen act` on a
tiny untrained model whose preprocessing knows click targets."""

import dataclasses
import json

import numpy as np
import pytest

from actiongen_keras.cli import main
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation import act as A
from actiongen_keras.generation.rollout import Generator
from actiongen_keras.recordings import click_targets as CT
from actiongen_keras.recordings.session import read_session
from actiongen_keras.testing.runs import tiny_config, untrained_run
from actiongen_keras.testing.sessions import synthetic_session

SCREEN = {"width": 512, "height": 384}


def _plan(*goals):
    return {"screen": SCREEN, "start": {"x": 256, "y": 192}, "goals": list(goals)}


@pytest.mark.parametrize("goal, message", [
    ({"type": {"txt": "hi"}}, "goals[0].type: unknown key(s) txt"),
    ({"type": {"text": ""}}, "goals[0].type.text: must be a non-empty string"),
    ({"type": {"text": "a\x07b"}}, "goals[0].type.text: cannot type the control character"),
    ({"type": {"text": "hi", "typos": 1}}, "goals[0].type.typos: must be true or false"),
    ({"idle": {"ms": 0}}, "goals[0].idle.ms: must be > 0"),
    ({"idle": {"ms": -5}}, "goals[0].idle.ms: must be > 0"),
    ({"idle": {}}, "goals[0].idle: missing ms"),
    ({"scroll": {"dy": 0}}, "goals[0].scroll.dy: a non-zero whole number"),
    ({"scroll": {"dy": 1.5}}, "goals[0].scroll.dy: a non-zero whole number"),
    ({"scroll": {"dy": "up"}}, "goals[0].scroll.dy: must be a finite number"),
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


def test_a_whole_pixel_context_stays_on_the_plan_screens_pixels():
    """A context recorded in whole pixels, scaled to a plan's other screen, is rounded to that
    screen's pixels, so the rollout keeps the pixel grid and moves on change; a sub-pixel
    context (osu!) is scaled as it is."""
    from actiongen_keras.generation.clock import recorder_of

    sub = synthetic_session("ctx", "p", duration_s=10, rate_hz=30, seed=3, screen=(512, 384))
    ev = sub.events
    whole = dataclasses.replace(sub, events=dataclasses.replace(ev, x=np.round(ev.x), y=np.round(ev.y)))
    plan = A.read_plan({**_plan({"click": {"x": 10, "y": 20}}), "screen": {"width": 1280, "height": 720}})
    s, T0 = A._context_session(plan, whole, 6000.0)
    m = s.events.type == "move"
    assert m.sum() > 100 and np.all(s.events.x[m] == np.round(s.events.x[m])) and np.all(s.events.y[m] == np.round(s.events.y[m]))
    np.testing.assert_allclose(s.events.x[m], whole.events.take(whole.events.t_ms < T0).x[m] * 2.5, atol=0.5)
    rec = recorder_of(s.events, T0)
    assert rec.grid == 1.0 and rec.on_change
    s_sub, _ = A._context_session(plan, sub, 6000.0)
    m = s_sub.events.type == "move"
    assert recorder_of(s_sub.events, T0).grid == 0.0 and np.mean(s_sub.events.x[m] != np.round(s_sub.events.x[m])) > 0.5


def test_a_model_without_click_targets_is_refused(tmp_path):
    run = untrained_run([synthetic_session("s", "p", duration_s=10, screen=(512, 384))], tiny_config())
    with pytest.raises(ActiongenError, match="not trained with click targets"):
        A.act(run, A.read_plan(_plan({"click": {"x": 1, "y": 2}})))


def _write(session, folder):
    from actiongen_keras.recordings.session import write_session

    write_session(session, folder)
    return folder


def test_a_type_or_scroll_goal_without_its_model_is_refused_naming_the_goal_and_option():
    plan = A.read_plan(_plan({"idle": {"ms": 10}}, {"type": {"text": "hi"}}))
    with pytest.raises(ActiongenError, match=r"goals\[1\]: a 'type' goal needs a keystroke model: typing_model= \(CLI --typing-model"):
        A.act(None, plan)
    with pytest.raises(ActiongenError, match=r"goals\[0\]: a 'scroll' goal needs a wheel model: scroll_model= \(CLI --scroll-model"):
        A.act(None, A.read_plan(_plan({"scroll": {"dy": 2}})))


def test_idle_type_and_scroll_goals_follow_one_another(keystroke_model_dir, scroll_model_dir):
    plan = _plan({"idle": {"ms": 1500}}, {"type": {"text": "Hi, Bob!"}}, {"idle": {"ms": 700}}, {"scroll": {"dy": -3}},
                 {"type": {"text": "ok", "typos": True}})
    session, result = A.act(None, plan, typing_model=keystroke_model_dir, scroll_model=scroll_model_dir, seed=3)
    g = result["goals"]
    assert result["achieved"] == 5 and [x["goal"] for x in g] == ["idle", "type", "idle", "scroll", "type"]
    assert g[0]["done_ms"] == 1500.0 and g[1]["text"] == "Hi, Bob!" and g[4]["text"] == "ok"
    T0 = session.extra["generated_from_ms"]
    ev = session.events.take(session.events.t_ms >= T0)
    keys = ev.take((ev.type == "key_down") | (ev.type == "key_up"))
    first = keys.t_ms[0]
    assert first > T0 + 1500.0  # typing starts after the idle goal
    # the second idle goal: exactly 700 ms with no input between the last key up and the scroll goal's start
    last_key_up = keys.t_ms[keys.t_ms <= T0 + g[1]["done_ms"]][-1]
    assert last_key_up == pytest.approx(T0 + g[1]["done_ms"])
    scroll = ev.take(ev.type == "scroll")
    assert len(scroll) == 3 and np.all(scroll.scroll_dy == -1) and g[3]["notches"] == 3
    assert scroll.t_ms[0] >= T0 + g[2]["done_ms"] and g[2]["done_ms"] == pytest.approx(g[1]["done_ms"] + 700.0)
    assert not np.any((ev.t_ms > T0 + g[1]["done_ms"]) & (ev.t_ms < T0 + g[2]["done_ms"]))
    # the cursor stays where it was
    assert np.all(ev.x == 256) and np.all(ev.y == 192)
    events = A.timed_events(session, T0)
    assert {e["key"] for e in events if e["type"] == "key_down"} >= {"shift", "h", "i", ",", "space", "b", "o", "!"}
    assert sum(e["scroll_dy"] for e in events) == -3


def test_act_types_between_pointer_goals_and_the_next_rollout_continues_after_it(tmp_path, keystroke_model_dir):
    sessions = [CT.with_click_targets(synthetic_session(f"s{i}", f"p{i}", duration_s=20, rate_hz=30, seed=i, screen=(512, 384)))
                for i in range(2)]
    run = untrained_run(sessions, tiny_config(), run_dir=tmp_path / "run")
    plan = _plan({"click": {"x": 256, "y": 192, "radius": 1000}}, {"type": {"text": "Yes."}}, {"click": {"x": 256, "y": 192, "radius": 1000}})
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    code = main(["-q", "act", "--model", run.path, "--plan", str(tmp_path / "plan.json"), "--out", str(tmp_path / "out"),
                 "--typing-model", str(keystroke_model_dir), "--seconds-per-goal", "2"])
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    g = result["goals"]
    assert code == (0 if result["achieved"] == 3 else 1) and g[1]["done"] and g[1]["text"] == "Yes."
    s, _ = read_session(tmp_path / "out" / "session", "strict")
    T0 = s.extra["generated_from_ms"]
    keys = s.events.take(s.events.type == "key_down")
    typing_start = T0 + (g[0]["done_ms"] if g[0]["done"] else 2000.0)
    assert keys.t_ms[0] > typing_start and keys.t_ms[-1] <= T0 + g[1]["done_ms"]
    # the second click's rollout continues after the typing: no pointer event during it, then pointer events
    ptr = s.events.take(np.isin(s.events.type, ["move", "press", "release"]))
    assert not np.any((ptr.t_ms > keys.t_ms[0]) & (ptr.t_ms < T0 + g[1]["done_ms"]))
    if g[2]["done"]:
        assert g[2]["done_ms"] > g[1]["done_ms"]
    events = json.loads((tmp_path / "out" / "events.json").read_text())
    assert [e["key"] for e in events if e["type"] == "key_down"] == keys.key.tolist()
    assert s.state.t_ms.tolist() == sorted(set(s.state.t_ms.tolist()))


def test_the_pace_column_is_the_persons_presses_per_minute_and_a_plan_sets_it_by_tempo(tmp_path):
    sessions = [CT.with_click_targets(synthetic_session(f"s{i}", f"p{i}", duration_s=20, rate_hz=30, seed=i, screen=(512, 384)))
                for i in range(2)]
    paces = []
    for s in sessions:
        ev = s.events
        want = 60000.0 * int((ev.type == "press").sum()) / (ev.t_ms[-1] - ev.t_ms[0])
        col = s.state.columns[CT.PACE_COLUMN]
        assert np.all(col == pytest.approx(want)) and want > 0  # one value, in every row
        assert CT.ClickTask.from_session(s, 5000.0).state(8000.0).columns[CT.PACE_COLUMN][0] == pytest.approx(want)
        paces.append(want)
    run = untrained_run(sessions, tiny_config(), run_dir=tmp_path / "run")
    gen = Generator(run.path)
    assert A.plan_pace(gen, 2.0) == pytest.approx(2.0 * np.mean(paces))  # no context: the training sessions' mean (fitted on both)
    ev = sessions[1].events
    slow = dataclasses.replace(sessions[1], events=ev.take(~((ev.type == "press") & (ev.t_ms < np.median(ev.t_ms)))))
    assert CT.session_pace(slow.events) < 0.8 * paces[1]
    assert A.plan_pace(gen, 2.0, slow) == pytest.approx(2.0 * CT.session_pace(slow.events))  # the style's person
    silent = dataclasses.replace(slow, events=ev.take(ev.type == "move"))
    assert A.plan_pace(gen, 2.0, silent) == pytest.approx(2.0 * np.mean(paces))  # no press: the mean again
    plan = _plan({"click": {"x": 256, "y": 192, "radius": 1000}})
    session, _ = A.act(gen, plan, context=sessions[0], seconds_per_goal=1.0, tempo=0.5)
    shown = session.state.columns[CT.PACE_COLUMN][session.state.t_ms >= session.extra["generated_from_ms"]]
    assert len(shown) and np.all(shown == pytest.approx(0.5 * paces[0]))
    old = untrained_run([dataclasses.replace(s, state=dataclasses.replace(s.state, columns={k: v for k, v in s.state.columns.items()
                                                                                              if k != CT.PACE_COLUMN}),
                                             state_columns=[c for c in s.state_columns if c["name"] != CT.PACE_COLUMN])
                         for s in sessions], tiny_config())
    # with the context (sub-pixel, synthetic) the rollout keeps its recorder; without one, a pointer
    # on the plan's screen: whole pixels, whole ms, moves on change
    assert session.extra["recorder"]["pixel_grid_px"] == 0.0
    bare, _ = A.act(gen, _plan({"click": {"x": 100, "y": 100, "radius": 5}}, {"click": {"x": 400, "y": 300, "radius": 5}}),
                    seconds_per_goal=1.0)
    assert bare.extra["recorder"] == {"clock_period_ms": 0.0, "pixel_grid_px": 1.0, "moves_on_change": True}
    e = bare.events.take(bare.events.t_ms >= bare.extra["generated_from_ms"])
    assert len(e) > 5 and np.all(e.x == np.round(e.x)) and np.all(e.y == np.round(e.y)) and np.all(e.t_ms == np.round(e.t_ms))
    with pytest.raises(ActiongenError, match="tempo 2 needs a model trained with the pace input"):
        A.act(old, plan, tempo=2.0)
    with pytest.raises(ActiongenError, match=r"tempo: within 0.25-4, got 5"):
        A.act(gen, plan, tempo=5.0)
