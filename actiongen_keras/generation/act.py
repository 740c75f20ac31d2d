"""Directed generation: a plan of goals carried out by the learned model (``actiongen act``).

A plan names the screen, where the cursor starts and the goals in order::

    {"screen": {"width": 1920, "height": 1080}, "start": {"x": 960, "y": 540},
     "goals": [{"move": {"x": 100, "y": 200}},
               {"click": {"x": 400, "y": 300, "radius": 12, "button": "left"}},
               {"double_click": {"x": 420, "y": 310, "radius": 12}},
               {"right_click": {"x": 500, "y": 200}},
               {"drag": {"from": {"x": 400, "y": 300}, "to": {"x": 900, "y": 650, "radius": 20}}},
               {"scroll": {"dy": 3}}, {"type": {"text": "Hello, world"}}, {"idle": {"ms": 1500}}]}

The goals reach the model as **click targets** (``recordings/click_targets.py``), the anchors
a model trained on sessions imported with ``--click-targets`` reads: each goal is the current
target until it is done (:class:`~actiongen_keras.recordings.click_targets.ClickTask`: a
click when a press begun within its radius is released, a move when the cursor comes within
it), then the next appears. The path, its speed, overshoots, corrections and pauses are the
model's; nothing here moves the cursor. A double click is two clicks on the same target; a
drag is a click target at ``from`` whose release should land within ``to``'s radius (the
result says whether it did).

``type``, ``idle`` and ``scroll`` goals are not the pointer model's: the plan is cut into
segments. A run of pointer goals is rolled out by the model (one rollout per run, continuing
from the session so far); each other goal appends its events after the previous goal
finished (the last target's release, or the end of a run whose goals were not all done),
the cursor still at its last position:

* ``{"type": {"text": "...", "typos": false, "layout": "de"}}``: key events from a
  keystroke-timing model trained on the Aalto typing data (``typing_model=``, CLI
  ``--typing-model``; ``generation/typing.py``): intervals, dwells, rollover, shift; ``typos``
  (default: the ``typos`` argument, off) adds corrected typos at the learned rate; ``layout``
  (``generation/layouts.py``: ``us``, ``uk``, ``de``, ``fr``) the keyboard it is typed on,
  default the plan's ``"keyboard": {"layout": ...}``, which ``layout=`` (CLI ``--layout``)
  overrides, else ``us``. A character the layout cannot type is refused when the plan is read.
  Done when the events type exactly the text (replayed through the same layout,
  :func:`~actiongen_keras.generation.typing.typed_text`).
* ``{"idle": {"ms": 1500}}``: no input for exactly that long; the next goal starts then.
* ``{"scroll": {"dy": 3}}``: ``|dy|`` wheel notches (positive down), intervals from a wheel
  model fitted on Balabit (``scroll_model=``, CLI ``--scroll-model``; ``generation/scrolling.py``).

Typed keys and wheel notches are put on the clock of the context's recorder, as the pointer
rollouts' events are (``clock.put_on_clock``; without a context: whole milliseconds).

A plan with a ``type`` (``scroll``) goal and no typing (scroll) model is refused naming the
goal and the option. A plan of such goals only needs no pointer model (``model=None``).

The model needs a history: by default a still cursor at ``start`` (one event, 6 s before the
first goal); ``context`` (a recorded session) gives its first 6 s instead, positions scaled to
the plan's screen: the behavioural context, that person's pace and style, comes from it,
and their typing pace where the session types enough (``generation.typing.typing_pace``;
else a training typist's). ``tempo`` scales both paces as inputs of the models.

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
from actiongen_keras.generation.clock import WHOLE_MS, Recorder, pixel_grid, recorder_of
from actiongen_keras.generation.layouts import DEFAULT_LAYOUT, LAYOUT_NAMES
from actiongen_keras.generation.layouts import layout as keyboard_layout
from actiongen_keras.generation.rollout import as_generator, generated_part, rollout
from actiongen_keras.generation.scrolling import Scroller
from actiongen_keras.generation.typing import Typist, check_text, typed_text, typing_pace
from actiongen_keras.recordings.click_targets import (
    PACE_COLUMN,
    STATE_COLUMNS,
    STATE_SOURCE,
    STEP_MS,
    TARGET_RADIUS_PX,
    ClickTask,
    Targets,
    session_pace,
)
from actiongen_keras.recordings.session import BUTTONS, Events, Session, State

POINTER_GOALS = ("move", "click", "double_click", "right_click", "drag")
OTHER_GOALS = ("type", "idle", "scroll")
GOALS = POINTER_GOALS + OTHER_GOALS
MAX_SCROLL_NOTCHES = 1000
MAX_IDLE_MS = 3_600_000.0
DEFAULT_HISTORY_MS = 6000.0  # the still cursor before the first goal of a plan without pointer goals
SECONDS_PER_GOAL = 10.0
TEMPO_RANGE = (0.25, 4.0)
PLAN_RECORDER = Recorder(WHOLE_MS, 1.0, True)
"""The recorder of a plan carried out without a context: a pointer on the plan's screen, which
reports whole pixels, in whole milliseconds, when it moves (``generation/clock.py``)."""


@dataclasses.dataclass
class Plan:
    """A validated plan: ``screen`` (w, h px), ``start`` (x, y px), ``goals`` (name, fields) and
    ``layout``, the keyboard layout of ``type`` goals without their own."""

    screen: tuple
    start: tuple
    goals: list
    layout: str = DEFAULT_LAYOUT


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


def _layout_name(where, value):
    if not isinstance(value, str):
        raise ActiongenError(f"{where}: must be a keyboard layout name (one of {', '.join(LAYOUT_NAMES)}), got {value!r}")
    keyboard_layout(value, where)  # an unknown name is refused with the known ones
    return value


def read_plan(plan, source="plan", layout=None):
    """A :class:`Plan` from a dict or a JSON file; every error names the file and the field.
    ``layout`` (CLI ``--layout``) overrides the plan's ``keyboard.layout``."""
    if not isinstance(plan, dict):
        source = str(plan)
        try:
            plan = json.loads(Path(plan).read_text(encoding="utf-8"))
        except OSError as e:
            raise ActiongenError(f"{source}: cannot read the plan ({e.strerror or e})") from None
        except json.JSONDecodeError as e:
            raise ActiongenError(f"{source}:{e.lineno}: not JSON ({e.msg})") from None
    _fields(source, plan, ("screen", "goals"), ("start", "keyboard"))
    default = DEFAULT_LAYOUT
    if "keyboard" in plan:
        kb = _fields(f"{source}: keyboard", plan["keyboard"], ("layout",))
        default = _layout_name(f"{source}: keyboard.layout", kb["layout"])
    if layout is not None:
        default = _layout_name("layout (--layout)", layout)
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
        if name not in GOALS:
            raise ActiongenError(f"{where}: unknown goal '{name}' (one of {', '.join(GOALS)})")
        if name in OTHER_GOALS:
            goals.append((name, _other_goal(where, name, body, default)))
            continue
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
    return Plan(screen=screen, start=(sx, sy), goals=goals, layout=default)


def _other_goal(where, name, body, default_layout=DEFAULT_LAYOUT):
    if name == "type":
        _fields(f"{where}.type", body, ("text",), ("typos", "layout"))
        own = _layout_name(f"{where}.type.layout", body["layout"]) if "layout" in body else None
        text = check_text(body["text"], f"{where}.type.text", own or default_layout)
        typos = body.get("typos")
        if typos is not None and not isinstance(typos, bool):
            raise ActiongenError(f"{where}.type.typos: must be true or false, got {typos!r}")
        return {"text": text, "typos": typos, "layout": own}
    if name == "idle":
        _fields(f"{where}.idle", body, ("ms",))
        ms = _number(f"{where}.idle.ms", body["ms"], positive=True)
        if ms > MAX_IDLE_MS:
            raise ActiongenError(f"{where}.idle.ms: at most {MAX_IDLE_MS:g} (an hour), got {ms:g}")
        return {"ms": ms}
    _fields(f"{where}.scroll", body, ("dy",))
    dy = _number(f"{where}.scroll.dy", body["dy"])
    if dy == 0 or dy != int(dy) or abs(dy) > MAX_SCROLL_NOTCHES:
        raise ActiongenError(f"{where}.scroll.dy: a non-zero whole number of notches within +-{MAX_SCROLL_NOTCHES}, got {body['dy']!r}")
    return {"dy": int(dy)}


def plan_targets(plan):
    """The plan's :class:`Targets` (a double click is two) and, per target, its goal's index
    (pointer goals only)."""
    rows, owner = [], []
    for i, (name, f) in enumerate(plan.goals):
        if name not in POINTER_GOALS:
            continue
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
    or a still cursor at the plan's start; and T0 (the first goal appears then).

    A context recorded in whole pixels stays in whole pixels on the plan's screen (its
    positions scaled, then rounded): a pointer on that screen is on its pixels too, so the
    rollout reads the recorder's grid off it (``clock.pixel_grid``) and generates whole pixels,
    with the moves that stand still left out (``clock.moves_on_change``). Scaled unrounded,
    the context read as sub-pixel and a directed path came out in fractions of a pixel, which
    no pointer reports."""
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
        moves = c.type == "move"
        whole = np.round if pixel_grid(c.x[moves], c.y[moves]) else (lambda v: v)
        ev = dataclasses.replace(ev, x=whole(ev.x * sx), y=whole(ev.y * sy))
    return Session(session_id="plan", source="generated", subject=subject, screen=plan.screen, events=ev,
                   state_columns=[dict(c) for c in STATE_COLUMNS], extra={"state_source": STATE_SOURCE}), t0 + hist


def _segments(plan):
    """The plan's goals as segments: ``("pointer", [goal indices])`` runs and single ``(name, [i])``."""
    out = []
    for i, (name, _) in enumerate(plan.goals):
        if name in POINTER_GOALS and out and out[-1][0] == "pointer":
            out[-1][1].append(i)
        else:
            out.append(("pointer" if name in POINTER_GOALS else name, [i]))
    return out


def _needs(plan, name, given, option):
    goals = [i for i, (n, _) in enumerate(plan.goals) if n == name]
    if goals and given is None:
        raise ActiongenError(f"plan: goals[{goals[0]}]: a '{name}' goal needs {option}")


def plan_pace(gen, tempo, context=None):
    """The ``pace_per_min`` state value of ``tempo``: tempo times the pace of the person of
    ``context`` (the style: their presses per minute, :func:`session_pace`) or, without a
    context or a press in it, of the training sessions' mean (the model's
    ``preprocessing.json``). A model trained without the column gets NaN at tempo 1 (it
    ignores the column) and refuses another tempo."""
    column = next((c for c in gen.preprocessing.numeric_columns if c["name"] == PACE_COLUMN), None)
    if column is None:
        if tempo != 1.0:
            raise ActiongenError(f"{gen.model_path}: tempo {tempo:g} needs a model trained with the pace input ('{PACE_COLUMN}': "
                                 "sessions imported with --click-targets by this version)")
        return float("nan")
    own = session_pace(context.events) if context is not None and len(context.events) else float("nan")
    return float(tempo) * (own if np.isfinite(own) else float(column["mean"]))


def _with_layout(plan, layout):
    """``plan`` with its default keyboard layout replaced, its texts checked again on it."""
    default = _layout_name("layout (--layout)", layout)
    for i, (name, f) in enumerate(plan.goals):
        if name == "type" and f.get("layout") is None:
            check_text(f["text"], f"plan: goals[{i}].type.text", default)
    return dataclasses.replace(plan, layout=default)


def act(model, plan, context=None, seed=0, seconds_per_goal=SECONDS_PER_GOAL, typing_model=None, scroll_model=None, typos=False,
        tempo=1.0, layout=None, **sampling):
    """Carry out ``plan`` (a dict, a JSON path or a :class:`Plan`) with ``model`` (``RUN_DIR``,
    ``model.keras`` or a :class:`~actiongen_keras.generation.rollout.Generator`; ``None`` for a
    plan without pointer goals).

    ``typing_model``: ``MODEL_DIR`` (or a :class:`~actiongen_keras.generation.typing.Typist`) of
    ``actiongen typing train``, needed by ``type`` goals; ``typos``: their default (a goal's own
    ``typos`` wins); ``layout``: their keyboard layout, overriding the plan's ``keyboard.layout``
    (a goal's own ``layout`` wins). ``scroll_model``: ``MODEL_DIR`` (or a
    :class:`~actiongen_keras.generation.scrolling.Scroller`) of ``actiongen scroll fit``, needed
    by ``scroll`` goals. ``tempo`` (within :data:`TEMPO_RANGE`): the pointer model is told a pace
    of ``tempo`` times the context person's (else its training sessions' mean; :func:`plan_pace`:
    the state's ``pace_per_min``, an input it was trained with), and the keystroke model a
    typist's median interval divided by ``tempo`` (the typist: the context's, where it has
    :data:`~actiongen_keras.generation.typing.MIN_STYLE_KEYS` key presses, else one training
    typist's; :func:`~actiongen_keras.generation.typing.typing_pace`); nothing is stretched afterwards.

    Returns ``(session, result)``: the generated session (the context's events before T0, then
    the goals', up to the end of the last goal when all were done; its state the targets the
    model was shown) and ``{"goals": [{"goal", "done", "done_ms", "ended_in_target" (drags),
    "text", "layout" (typing: the text the events type, on that layout)}], "achieved", "of", "seconds"}`` (times in ms
    after T0). ``sampling``: the options of :func:`~actiongen_keras.generation.rollout.rollout`
    (temperature, xy_noise_corr, ...).
    """
    plan = read_plan(plan, layout=layout) if not isinstance(plan, Plan) else plan if layout is None else _with_layout(plan, layout)
    tempo = _number("tempo", tempo, positive=True)
    if not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
        raise ActiongenError(f"tempo: within {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g}, got {tempo:g}")
    _needs(plan, "type", typing_model, "a keystroke model: typing_model= (CLI --typing-model MODEL_DIR, from `actiongen typing train`)")
    _needs(plan, "scroll", scroll_model, "a wheel model: scroll_model= (CLI --scroll-model MODEL_DIR, from `actiongen scroll fit`)")
    pointer = any(n in POINTER_GOALS for n, _ in plan.goals)
    if pointer and model is None:
        raise ActiongenError("plan: pointer goals (move, click, drag, ...) need the pointer model (--model RUN_DIR)")
    gen = None
    if pointer:
        gen = as_generator(model)
        if not any(a.get("x") == "target_x" for a in gen.preprocessing.anchors):
            raise ActiongenError(f"{gen.model_path}: this model was not trained with click targets (anchor 'target'): train it on "
                                 "sessions imported with --click-targets, or it would not see the goals")
        pace = plan_pace(gen, tempo, context)
    typist = None if typing_model is None else typing_model if isinstance(typing_model, Typist) else Typist(typing_model)
    # the typist's pace: the context's (the style) where it types enough, else a training typist's
    key_pace = typing_pace(context.events) if typist is not None and context is not None else None
    scroller = None if scroll_model is None else scroll_model if isinstance(scroll_model, Scroller) else Scroller(scroll_model)
    hist = history_ms(gen.data_config) if gen is not None else DEFAULT_HISTORY_MS
    session, T0 = _context_session(plan, context, hist)
    # every segment keeps the context's recorder (clock, pixel grid, moves on change); without a
    # context, a pointer on the plan's screen: whole ms, whole pixels, moves on change. Typed keys
    # and wheel notches join the same clock.
    recorder = recorder_of(session.events, T0) if context is not None else PLAN_RECORDER
    clock = recorder.clock
    if not pointer:
        session = dataclasses.replace(session, state_columns=None, extra={})
    events = session.events
    goals = [None] * len(plan.goals)
    states, extra, t, all_done = [], {}, T0, True
    for k, (kind, idx) in enumerate(_segments(plan)):
        x, y = float(events.x[-1]), float(events.y[-1])
        if kind == "pointer":
            sub = Plan(screen=plan.screen, start=plan.start, goals=[plan.goals[i] for i in idx])
            targets, owner = plan_targets(sub)
            task = ClickTask(targets, t, recorded=False, pace_per_min=pace)
            ctx = dataclasses.replace(session, events=events, state=task.state(t))
            seconds = float(seconds_per_goal) * len(idx)
            out = rollout(gen, ctx, seconds=seconds, seed=seed + k, start_ms=t, tasks=[task], recorders=[recorder], **sampling)
            done_at = {index - 1: tt for tt, index, _ in task.done[1:]}  # target -> session ms it was done
            ev = generated_part(out).events
            for j, i in enumerate(idx):
                name, f = plan.goals[i]
                mine = np.flatnonzero(owner == j)
                done = all(int(m) in done_at for m in mine)
                g = {"goal": name, "done": done, "done_ms": max(done_at[int(m)] for m in mine) - T0 if done else None}
                if name == "drag":
                    g["ended_in_target"] = bool(done and _release_within(ev, T0 + g["done_ms"], f["to"]))
                goals[i] = g
            seg_done = len(done_at) == len(targets.x)
            all_done &= seg_done
            end = max(done_at.values()) if seg_done else t + seconds * 1000.0
            states.append(task.state(end, since_ms=states[-1].t_ms[-1] if states else 0.0))  # "none" since the last run
            extra = extra or {kk: v for kk, v in out.extra.items()}
            new = ev.take(ev.t_ms <= end)
        elif kind == "idle":
            i = idx[0]
            end = t + plan.goals[i][1]["ms"]
            new = Events.empty()
            goals[i] = {"goal": "idle", "done": True, "done_ms": end - T0}
        elif kind == "type":
            i = idx[0]
            f = plan.goals[i][1]
            lay = f.get("layout") or plan.layout
            new = typist.type_events(f["text"], t, x, y, seed=seed + k, typos=typos if f["typos"] is None else f["typos"], layout=lay,
                                      clock=clock, pace=key_pace, tempo=tempo)
            text = typed_text(new.type, new.key, lay)
            end = float(new.t_ms[-1])
            goals[i] = {"goal": "type", "done": text == f["text"], "done_ms": end - T0, "text": text, "layout": lay,
                        "keys": int((new.type == "key_down").sum()), "pace_from": "training typist" if key_pace is None else "context"}
        else:  # scroll
            i = idx[0]
            new = scroller.scroll_events(plan.goals[i][1]["dy"], t, x, y, seed=seed + k, clock=clock)
            end = float(new.t_ms[-1])
            goals[i] = {"goal": "scroll", "done": True, "done_ms": end - T0, "notches": int(len(new))}
        events = Events.concatenate([events, new])
        t = end
    extra.update({"generated_from_ms": T0, "generated_ms": t - T0, "context_ms": hist,
                  "recorder": {"clock_period_ms": recorder.clock[0], "pixel_grid_px": recorder.grid, "moves_on_change": recorder.on_change}})
    if typist is not None:
        extra["typing_model"] = {"path": str(typist.model.path), "license": typist.model.meta.get("license")}
    if scroller is not None:
        extra["scroll_model"] = {"path": str(scroller.path), "license": scroller.meta.get("license")}
    state = _join_states(states) if states else None
    if state is not None and len(state.t_ms) and state.t_ms[-1] < t:  # the span after the last pointer run: no target shown
        tail = np.arange(state.t_ms[-1] + STEP_MS, t + STEP_MS / 2, STEP_MS)
        none = {c: np.full(len(tail), np.nan) if np.asarray(v).dtype.kind == "f" else np.full(len(tail), "", dtype=object)
                for c, v in state.columns.items()}
        state = _join_states([state, State(t_ms=tail, columns=none)]) if len(tail) else state
    out = dataclasses.replace(session, session_id="plan.gen" + str(seed), source="generated", events=events, state=state,
                              extra={**session.extra, **extra}, provenance="generated by actiongen_keras act from a plan")
    achieved = sum(g["done"] and g.get("ended_in_target", True) for g in goals)
    return out, {"goals": goals, "achieved": achieved, "of": len(goals), "seconds": (t - T0) / 1000.0, "all_done": bool(all_done)}


def _join_states(parts):
    """The states one after the other (a part's rows at or before the previous part's last dropped)."""
    keep, last = [], -np.inf
    for p in parts:
        m = p.t_ms > last
        keep.append((p, m))
        if m.any():
            last = float(p.t_ms[m][-1])
    cols = parts[0].columns.keys()
    return State(t_ms=np.concatenate([p.t_ms[m] for p, m in keep]),
                 columns={c: np.concatenate([np.asarray(p.columns[c])[m] for p, m in keep]) for c in cols})


def _release_within(ev, t, to):
    """Whether the release at time ``t`` (session ms) lies within the drag's ``to`` (x, y, radius)."""
    at = np.flatnonzero((ev.type == "release") & (np.abs(ev.t_ms - t) < 1e-3))
    return len(at) > 0 and bool(np.hypot(ev.x[at[0]] - to[0], ev.y[at[0]] - to[1]) <= to[2])


def timed_events(session, t0):
    """The generated events as a list of ``{"t_ms" (after t0), "type", "x", "y", "button", "key",
    "scroll_dx", "scroll_dy"}`` for a caller that drives a real input device."""
    ev = session.events.take(session.events.t_ms >= t0)
    return [{"t_ms": round(float(t) - t0, 3), "type": str(k), "x": round(float(x), 3), "y": round(float(y), 3), "button": str(b),
             "key": str(key), "scroll_dx": float(sx), "scroll_dy": float(sy)}
            for t, k, x, y, b, key, sx, sy in zip(ev.t_ms, ev.type, ev.x, ev.y, ev.button, ev.key, ev.scroll_dx, ev.scroll_dy)]


__all__ = ["GOALS", "OTHER_GOALS", "POINTER_GOALS", "Plan", "SECONDS_PER_GOAL", "TEMPO_RANGE", "act", "plan_pace", "plan_targets", "read_plan", "timed_events"]
