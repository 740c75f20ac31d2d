"""Directed generation: a plan of goals carried out by the learned model (``actiongen act``).

A plan names the screen, where the cursor starts and the goals in order::

    {"screen": {"width": 1920, "height": 1080}, "start": {"x": 960, "y": 540},
     "goals": [{"move": {"x": 100, "y": 200}},
               {"click": {"x": 400, "y": 300, "radius": 12, "button": "left"}},
               {"double_click": {"x": 420, "y": 310, "radius": 12}},
               {"right_click": {"x": 500, "y": 200}},
               {"drag": {"from": {"x": 400, "y": 300}, "to": {"x": 900, "y": 650, "radius": 20}}}]}

The goals reach the model as **click targets** (``recordings/click_targets.py``), the anchors
a model trained on sessions imported with ``--click-targets`` reads: each goal is the current
target until it is done (:class:`~actiongen_keras.recordings.click_targets.ClickTask`: a
click when a press begun within its radius is released, a move when the cursor comes within
it), then the next appears. The path, its speed, overshoots, corrections and pauses are the
model's; nothing here moves the cursor. A double click is two clicks on the same target; a
drag is a click target at ``from`` whose release should land within ``to``'s radius (the
result says whether it did). ``scroll``, ``type`` and ``idle`` goals are not built yet
(the model has no keystroke training and no way to be told to wait): a plan that has them is
refused with the goal named, never carried out in part silently.

The model needs a history: by default a still cursor at ``start`` (one event, 6 s before the
first goal); ``context`` (a recorded session) gives its first 6 s instead, positions scaled to
the plan's screen: the behavioural context, that person's pace and style, comes from it.

The rollout runs ``seconds_per_goal`` (default :data:`SECONDS_PER_GOAL`) per goal; with every
goal done the session is cut at the release that did the last one (else it keeps all that was
generated); the result says per goal whether and when it was done.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from actiongen_keras.data.windows import history_ms
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation.rollout import Generator, generated_part, rollout
from actiongen_keras.recordings.click_targets import STATE_COLUMNS, STATE_SOURCE, TARGET_RADIUS_PX, ClickTask, Targets
from actiongen_keras.recordings.session import BUTTONS, Events, Session

GOALS = ("move", "click", "double_click", "right_click", "drag")
NOT_BUILT = {"scroll": "scrolling", "type": "typing (no keystroke model is trained yet)", "idle": "waiting"}
SECONDS_PER_GOAL = 10.0


@dataclasses.dataclass
class Plan:
    """A validated plan: ``screen`` (w, h px), ``start`` (x, y px) and ``goals`` (name, fields)."""

    screen: tuple
    start: tuple
    goals: list


def _number(where, value, low=None, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ActiongenError(f"{where}: must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ActiongenError(f"{where}: must be > 0, got {value!r}")
    if low is not None and value < low:
        raise ActiongenError(f"{where}: must be >= {low}, got {value!r}")
    return float(value)


def _fields(where, obj, required, optional=()):
    if not isinstance(obj, dict):
        raise ActiongenError(f"{where}: must be an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise ActiongenError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(list(required) + list(optional))})")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ActiongenError(f"{where}: missing {', '.join(missing)}")
    return obj


def _point(where, obj, screen, radius=False, also=()):
    _fields(where, obj, ("x", "y"), (("radius",) if radius else ()) + tuple(also))
    x, y = _number(f"{where}.x", obj["x"]), _number(f"{where}.y", obj["y"])
    if not (0 <= x <= screen[0] and 0 <= y <= screen[1]):
        raise ActiongenError(f"{where}: ({x:g}, {y:g}) is off the {screen[0]:g}x{screen[1]:g} screen")
    r = _number(f"{where}.radius", obj["radius"], positive=True) if radius and "radius" in obj else TARGET_RADIUS_PX
    return x, y, r


def read_plan(plan, source="plan"):
    """A :class:`Plan` from a dict or a JSON file; every error names the file and the field."""
    if not isinstance(plan, dict):
        source = str(plan)
        try:
            plan = json.loads(Path(plan).read_text(encoding="utf-8"))
        except OSError as e:
            raise ActiongenError(f"{source}: cannot read the plan ({e.strerror or e})") from None
        except json.JSONDecodeError as e:
            raise ActiongenError(f"{source}:{e.lineno}: not JSON ({e.msg})") from None
    _fields(source, plan, ("screen", "goals"), ("start",))
    scr = _fields(f"{source}: screen", plan["screen"], ("width", "height"))
    screen = (_number(f"{source}: screen.width", scr["width"], positive=True), _number(f"{source}: screen.height", scr["height"], positive=True))
    start = plan.get("start", {"x": screen[0] / 2, "y": screen[1] / 2})
    sx, sy, _ = _point(f"{source}: start", start, screen)
    if not isinstance(plan["goals"], list) or not plan["goals"]:
        raise ActiongenError(f"{source}: goals: must be a non-empty list")
    goals = []
    for i, g in enumerate(plan["goals"]):
        where = f"{source}: goals[{i}]"
        if not isinstance(g, dict) or len(g) != 1:
            raise ActiongenError(f"{where}: must be an object with one key, the goal ({', '.join(GOALS)})")
        (name, body), = g.items()
        if name in NOT_BUILT:
            raise ActiongenError(f"{where}: '{name}' goals are not built yet ({NOT_BUILT[name]}); this version carries out {', '.join(GOALS)}")
        if name not in GOALS:
            raise ActiongenError(f"{where}: unknown goal '{name}' (one of {', '.join(GOALS)})")
        if name == "drag":
            _fields(f"{where}.drag", body, ("from", "to"), ("button",))
            fx, fy, fr = _point(f"{where}.drag.from", body["from"], screen, radius=True)
            tx, ty, tr = _point(f"{where}.drag.to", body["to"], screen, radius=True)
            fields = {"x": fx, "y": fy, "radius": fr, "to": (tx, ty, tr), "button": body.get("button", "left")}
        else:
            x, y, r = _point(f"{where}.{name}", body, screen, radius=True, also=("button",) if name == "click" else ())
            fields = {"x": x, "y": y, "radius": r, "button": "right" if name == "right_click" else body.get("button", "left")}
        if fields["button"] not in BUTTONS:
            raise ActiongenError(f"{where}.{name}.button: one of {', '.join(BUTTONS)}, got {fields['button']!r}")
        goals.append((name, fields))
    return Plan(screen=screen, start=(sx, sy), goals=goals)


def plan_targets(plan):
    """The plan's :class:`Targets` (a double click is two) and, per target, its goal's index."""
    rows, owner = [], []
    for i, (name, f) in enumerate(plan.goals):
        end = f["to"][:2] if name == "drag" else (f["x"], f["y"])
        row = (f["x"], f["y"], end[0], end[1], f["button"], "move" if name == "move" else "click", f["radius"])
        for _ in range(2 if name == "double_click" else 1):
            rows.append(row)
            owner.append(i)
    x, y, ex, ey, b, k, r = (np.array(c) for c in zip(*rows))
    tg = Targets(x=x.astype(float), y=y.astype(float), end_x=ex.astype(float), end_y=ey.astype(float), button=b.astype(object),
                 done_t=np.full(len(x), np.inf), kind=k.astype(object), radius=r.astype(float))
    return tg, np.array(owner)


def _context_session(plan, context, hist):
    """The session the rollout starts from: the context's first ``hist`` ms on the plan's screen,
    or a still cursor at the plan's start; and T0 (the first goal appears then)."""
    if context is None:
        ev = Events.from_columns(t_ms=[0.0], type=["move"], x=[plan.start[0]], y=[plan.start[1]])
        t0, subject = 0.0, "plan"
    else:
        c = context.events
        if not len(c):
            raise ActiongenError(f"{context.session_id}: the context has no events")
        t0, subject = float(c.t_ms[0]), context.subject
        ev = c.take(c.t_ms < t0 + hist)
        sx, sy = plan.screen[0] / float(context.screen[0]), plan.screen[1] / float(context.screen[1])
        ev = dataclasses.replace(ev, x=ev.x * sx, y=ev.y * sy)
    return Session(session_id="plan", source="generated", subject=subject, screen=plan.screen, events=ev,
                   state_columns=[dict(c) for c in STATE_COLUMNS], extra={"state_source": STATE_SOURCE}), t0 + hist


def act(model, plan, context=None, seed=0, seconds_per_goal=SECONDS_PER_GOAL, **sampling):
    """Carry out ``plan`` (a dict, a JSON path or a :class:`Plan`) with ``model`` (``RUN_DIR``,
    ``model.keras`` or a :class:`~actiongen_keras.generation.rollout.Generator`).

    Returns ``(session, result)``: the generated session (the context's events before T0, then
    the model's, up to the release that did the last goal when all were done; its state the
    targets it was shown)
    and ``{"goals": [{"goal", "done", "done_ms", "ended_in_target" (drags)}], "achieved",
    "seconds"}`` (times in ms after T0). ``sampling``: the options of
    :func:`~actiongen_keras.generation.rollout.rollout` (temperature, xy_noise_corr, ...).
    """
    plan = plan if isinstance(plan, Plan) else read_plan(plan)
    gen = model if isinstance(model, Generator) else Generator(model)
    if not any(a.get("x") == "target_x" for a in gen.preprocessing.anchors):
        raise ActiongenError(f"{gen.model_path}: this model was not trained with click targets (anchor 'target'): train it on sessions "
                             "imported with --click-targets, or it would not see the goals")
    session, T0 = _context_session(plan, context, history_ms(gen.data_config))
    targets, owner = plan_targets(plan)
    task = ClickTask(targets, T0, recorded=False)
    session = dataclasses.replace(session, state=task.state(T0))
    seconds = float(seconds_per_goal) * len(plan.goals)
    out = rollout(gen, session, seconds=seconds, seed=seed, start_ms=T0, tasks=[task], **sampling)
    done_at = {}  # target index -> time it was done (ms after T0)
    for t, index, _ in task.done[1:]:
        done_at[index - 1] = t - T0
    ev = generated_part(out).events
    goals = []
    for i, (name, f) in enumerate(plan.goals):
        mine = np.flatnonzero(owner == i)
        done = all(int(j) in done_at for j in mine)
        g = {"goal": name, "done": done, "done_ms": max(done_at[int(j)] for j in mine) if done else None}
        if name == "drag":
            g["ended_in_target"] = bool(done and _release_within(ev, T0 + g["done_ms"], f["to"]))
        goals.append(g)
    all_done = len(done_at) == len(targets.x)
    last = max(done_at.values()) if all_done else seconds * 1000.0  # with goals left, all that was generated
    out = dataclasses.replace(out, events=out.events.take(out.events.t_ms <= T0 + last))
    achieved = sum(g["done"] and g.get("ended_in_target", True) for g in goals)
    return out, {"goals": goals, "achieved": achieved, "of": len(goals), "seconds": last / 1000.0}


def _release_within(ev, t, to):
    """Whether the release at time ``t`` (session ms) lies within the drag's ``to`` (x, y, radius)."""
    at = np.flatnonzero((ev.type == "release") & (np.abs(ev.t_ms - t) < 1e-3))
    return len(at) > 0 and bool(np.hypot(ev.x[at[0]] - to[0], ev.y[at[0]] - to[1]) <= to[2])


def timed_events(session, t0):
    """The generated events as a list of ``{"t_ms" (after t0), "type", "x", "y", "button"}`` for a
    caller that drives a real input device."""
    ev = session.events.take(session.events.t_ms >= t0)
    return [{"t_ms": round(float(t) - t0, 3), "type": str(k), "x": round(float(x), 3), "y": round(float(y), 3), "button": str(b)}
            for t, k, x, y, b in zip(ev.t_ms, ev.type, ev.x, ev.y, ev.button)]


__all__ = ["GOALS", "Plan", "SECONDS_PER_GOAL", "act", "plan_targets", "read_plan", "timed_events"]
