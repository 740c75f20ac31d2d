"""Pseudo click targets for recordings without game state (``actiongen import --click-targets``).

SapiMouse, Balabit and most desktop recordings keep the input but not what was on the
screen. Yet in a click task the presses say where the targets were: the person moved to
a target and pressed on it, and a drag ended where the button was released. Without
them the model has no reason to go anywhere, and in closed loop its cursor drifts (30 s
rollouts on SapiMouse spent 15-20% of their samples within 1% of a screen edge, people
0.4%). :func:`click_target_state` turns the presses into a state of one current target,
declared as anchors (``data/features.py``), so the model reads it exactly as it reads the
osu! circles (``layers/state_anchor_query.py``), and a plan of goals can place it.

At each snapshot ``t`` (every :data:`STEP_MS`) the **current target** is the first press
whose release is after ``t``: the one the person is moving to, or holding now.

* ``target_x``, ``target_y`` (anchor ``target``): where it was pressed, moved by Gaussian
  noise of :data:`POSITION_NOISE_PX` per axis (seeded by the session id): a real target
  has a size and people press anywhere on it; without the noise the answer would sit in
  the input to the pixel.
* ``target_end_x``, ``target_end_y`` (anchor ``target_end``): where it was released (the
  end of a drag; the press point again, within a pixel, for a click), with its own noise.
* ``target_dt_ms`` and ``target_end_dt_ms``: the moment the target **appeared**, in ms
  from the snapshot (never positive): the release of the press before it (the task
  shows the next target once the last one is done), or the session's start. The press
  time itself is not given: when to press is the model's to decide, as it is a
  person's. (osu! is different: there the hit time is the game's.)
* ``target_button`` (categorical): the button it was pressed with.
* ``pace_per_min``: the person's pace, the session's presses per minute over its span
  (:func:`session_pace`), the same in every row: who is playing, not what is on screen.
  The model reads it as any numeric state column, so a plan can ask for another pace
  (``actiongen act --tempo``: tempo times the training sessions' mean) with an input the
  model was trained with. Sessions imported before it lack the column; it then reads as the
  training mean (a standardised 0), and a model trained without it ignores it.

``session.json`` says where the state came from: ``extra.state_source`` is
:data:`STATE_SOURCE`, ``extra.click_targets`` counts the targets and names the noise.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from actiongen_keras.recordings.importers.base import session_seed
from actiongen_keras.recordings.session import State, read_session, write_session

STATE_SOURCE = "click_targets_from_presses"
STEP_MS = 50.0
POSITION_NOISE_PX = 5.0  # per axis, screen px
TARGET_RADIUS_PX = 20.0  # a press within this of a target does it (the size was not recorded; the bots' 40 px width)
STATE_COLUMNS = (
    {"name": "target_x", "kind": "numeric", "anchor": "target", "role": "x"},
    {"name": "target_y", "kind": "numeric", "anchor": "target", "role": "y"},
    {"name": "target_dt_ms", "kind": "numeric", "anchor": "target", "role": "dt_ms"},
    {"name": "target_end_x", "kind": "numeric", "anchor": "target_end", "role": "x"},
    {"name": "target_end_y", "kind": "numeric", "anchor": "target_end", "role": "y"},
    {"name": "target_end_dt_ms", "kind": "numeric", "anchor": "target_end", "role": "dt_ms"},
    {"name": "target_button", "kind": "categorical"},
    {"name": "pace_per_min", "kind": "numeric"},
)
PACE_COLUMN = "pace_per_min"


def session_pace(events):
    """Presses per minute over the span of ``events`` (NaN without a press or a span)."""
    t = np.asarray(events.t_ms, dtype=np.float64)
    n = int((np.asarray(events.type) == "press").sum())
    span = float(t[-1] - t[0]) if len(t) else 0.0
    return 60000.0 * n / span if n and span > 0 else float("nan")


@dataclasses.dataclass
class Presses:
    """Every mouse press of a session with its release: times (ms), positions (px), buttons."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    button: np.ndarray
    up_t: np.ndarray  # the release's time (the session's end when never released)
    up_x: np.ndarray
    up_y: np.ndarray


def mouse_presses(events):
    """:class:`Presses` of time-sorted ``events``: each ``press`` paired with the next
    ``release`` of its button (a press never released holds to the last event)."""
    typ, button = np.asarray(events.type, dtype=object), np.asarray(events.button, dtype=object)
    t, x, y = (np.asarray(a, dtype=np.float64) for a in (events.t_ms, events.x, events.y))
    downs = np.flatnonzero(typ == "press")
    ups = np.full(len(downs), len(typ) - 1, dtype=np.int64)
    for b in np.unique(button[downs]):
        mine = button[downs] == b
        releases = np.flatnonzero((typ == "release") & (button == b))
        k = np.searchsorted(releases, downs[mine], side="right")  # the first release after each press
        found = k < len(releases)
        ups[np.flatnonzero(mine)[found]] = releases[k[found]]
    return Presses(t[downs], x[downs], y[downs], button[downs], t[ups], x[ups], y[ups])


@dataclasses.dataclass
class Targets:
    """The targets of a session in the order they are done (by release): noisy positions of the
    press and of its release, the button, and when each was done in the recording."""

    x: np.ndarray
    y: np.ndarray
    end_x: np.ndarray
    end_y: np.ndarray
    button: np.ndarray
    done_t: np.ndarray  # when it was done in the recording (inf: a plan's, never recorded)
    kind: np.ndarray | None = None  # "click" (done by a press on it, at the release) or "move" (done on reaching it); None: clicks
    radius: np.ndarray | None = None  # px; None: TARGET_RADIUS_PX

    def __post_init__(self):
        n = len(self.x)
        self.kind = np.full(n, "click", dtype=object) if self.kind is None else np.asarray(self.kind, dtype=object)
        self.radius = np.full(n, TARGET_RADIUS_PX) if self.radius is None else np.asarray(self.radius, dtype=np.float64)


def session_targets(events, session_id, noise_px=POSITION_NOISE_PX):
    """:class:`Targets` of ``events``: every press with the noise of :data:`POSITION_NOISE_PX`
    (drawn in press order from the session id's seed, so every reader gets the same targets)."""
    p = mouse_presses(events)
    noise = np.random.default_rng(session_seed(session_id)).normal(0.0, float(noise_px), (4, len(p.t)))
    order = np.argsort(p.up_t, kind="stable")
    return Targets(x=(p.x + noise[0])[order], y=(p.y + noise[1])[order], end_x=(p.up_x + noise[2])[order],
                   end_y=(p.up_y + noise[3])[order], button=p.button[order], done_t=p.up_t[order])


def _state_rows(t, targets, index, appeared, pace):
    """State columns at snapshot times ``t``: target ``index[i]`` (none where it is past the
    last), shown since ``appeared[i]``; the pace (presses per minute) in every row."""
    n = len(targets.x)
    valid = index < n
    idx = np.minimum(index, max(n - 1, 0))

    def col(values):
        return np.where(valid, values[idx], np.nan) if n else np.full(len(t), np.nan)

    age = np.where(valid, np.minimum(appeared - t, 0.0), np.nan)
    return {
        "target_x": col(targets.x), "target_y": col(targets.y), "target_dt_ms": age,
        "target_end_x": col(targets.end_x), "target_end_y": col(targets.end_y), "target_end_dt_ms": age,
        "target_button": np.where(valid, targets.button[idx] if n else "", "").astype(object),
        PACE_COLUMN: np.full(len(t), float(pace)),
    }


def click_target_state(events, session_id, step_ms=STEP_MS, noise_px=POSITION_NOISE_PX):
    """The current target every ``step_ms`` from 0 to the last event: ``(State with
    STATE_COLUMNS, number of targets)``. Empty cells (NaN, ``""``) after the last release:
    no target is left."""
    tg = session_targets(events, session_id, noise_px)
    t_end = float(events.t_ms[-1]) if len(events) else 0.0
    t = np.arange(0.0, max(t_end, 0.0) + step_ms / 2, step_ms)
    # the current target: the first, in order of release, not yet released at t; it appeared
    # when the one before it was released (the first at the start)
    index = np.searchsorted(tg.done_t, t, side="right")
    appeared = np.concatenate([[0.0], tg.done_t])[index]
    return State(t_ms=t, columns=_state_rows(t, tg, index, appeared, session_pace(events))), int(len(tg.x))


class ClickTask:
    """Click targets as a task that advances on the clicks of whoever plays it.

    In the recording a target is done when the person releases the press made on it; in a
    rollout the model must do the same: from ``start_ms`` on, the current target is done
    when a press that began within its radius (:data:`TARGET_RADIUS_PX`) is released (a
    ``"move"`` target: when the cursor comes within it), and the next appears then. Before
    ``start_ms`` the state is the recording's (:meth:`from_session`) or, for a plan's
    targets (``recorded=False``), empty. Without this a rollout would be shown the person's
    targets on the person's schedule: a target the model reached early would stay after it
    was clicked, and one it reached late would be gone.
    """

    def __init__(self, targets, start_ms, index=0, appeared=None, step_ms=STEP_MS, recorded=True, pace_per_min=float("nan")):
        self.targets = targets
        self.pace_per_min = float(pace_per_min)  # the state's pace column (NaN: none given, read as the training mean)
        self.start_ms, self.step_ms, self.recorded = float(start_ms), float(step_ms), bool(recorded)
        # (from when, the current target, when it appeared): one entry at the start, one per target done
        self.done = [(self.start_ms, int(index), self.start_ms if appeared is None else float(appeared))]
        self.near = {}  # button -> the press began within the radius of the current target

    @property
    def index(self):
        """The current target (``len(targets.x)``: none left)."""
        return self.done[-1][1]

    @classmethod
    def from_session(cls, session, start_ms, step_ms=STEP_MS):
        """The task of a session imported with click targets, from ``start_ms`` on."""
        noise = float((session.extra.get("click_targets") or {}).get("position_noise_px", POSITION_NOISE_PX))
        targets = session_targets(session.events, session.session_id, noise)
        index = int(np.searchsorted(targets.done_t, float(start_ms), side="right"))  # done in the recording by then
        appeared = float(targets.done_t[index - 1]) if index > 0 else 0.0
        return cls(targets, start_ms, index, appeared, step_ms, pace_per_min=session_pace(session.events))

    @property
    def radius_px(self):
        return float(np.median(self.targets.radius)) if len(self.targets.x) else TARGET_RADIUS_PX

    def _within(self, x, y):
        tg, i = self.targets, self.index
        return i < len(tg.x) and bool(np.hypot(x - tg.x[i], y - tg.y[i]) <= tg.radius[i])

    def _advance(self, t):
        self.done.append((float(t), self.index + 1, float(t)))
        self.near = {}

    def observe(self, t, types, x, y, buttons):
        """Events of the player (times ascending, type names, pixels, button names)."""
        for ti, typ, xi, yi, b in zip(t, types, x, y, buttons):
            if self.index < len(self.targets.x) and self.targets.kind[self.index] == "move":
                if np.isfinite(xi) and np.isfinite(yi) and self._within(xi, yi):
                    self._advance(ti)
                continue
            if typ == "press":
                self.near[b] = self._within(xi, yi)
            elif typ == "release" and self.near.pop(b, False):
                self._advance(ti)

    @property
    def targets_done(self):
        return len(self.done) - 1

    def state(self, until_ms, since_ms=0.0):
        """The state from ``since_ms`` (down to the snapshot grid; default 0) to ``until_ms``: the
        recording's before ``start_ms``, the task's after."""
        first = max(math.floor(float(since_ms) / self.step_ms), 0) * self.step_ms
        t = np.arange(first, max(float(until_ms), first) + self.step_ms / 2, self.step_ms)
        n = len(self.targets.x)
        if self.recorded:
            real = np.searchsorted(self.targets.done_t, t, side="right")
            appeared_real = np.concatenate([[0.0], self.targets.done_t])[real]
        else:
            real, appeared_real = np.full(len(t), n), np.zeros(len(t))
        starts = np.array([d[0] for d in self.done])
        k = np.searchsorted(starts, t, side="right") - 1
        own = t >= self.start_ms
        index = np.where(own, np.array([d[1] for d in self.done])[np.maximum(k, 0)], real)
        appeared = np.where(own, np.array([d[2] for d in self.done])[np.maximum(k, 0)], appeared_real)
        return State(t_ms=t, columns=_state_rows(t, self.targets, index, appeared, self.pace_per_min))


def with_click_targets(session, noise_px=POSITION_NOISE_PX):
    """``session`` with :func:`click_target_state` as its state, or ``None`` when it has a
    state of its own already (a game's state is never replaced) or no press at all."""
    if session.state is not None or session.state_columns:
        return None
    state, n = click_target_state(session.events, session.session_id, noise_px=noise_px)
    if n == 0:
        return None
    extra = dict(session.extra)
    extra["state_source"] = STATE_SOURCE
    extra["click_targets"] = {"targets": n, "step_ms": STEP_MS, "position_noise_px": float(noise_px)}
    return dataclasses.replace(session, state_columns=[dict(c) for c in STATE_COLUMNS], state=state, extra=extra)


def add_click_targets(folders, summary=None):
    """Give every session folder in ``folders`` its click-target state (rewritten in place);
    returns how many got one. A session with a state of its own, or without a press, is
    left as it is and noted in ``summary.notes`` (an :class:`ImportSummary`) when given."""
    added = 0
    for folder in folders:
        session, _ = read_session(folder, "strict")
        targeted = with_click_targets(session)
        if targeted is None:
            if summary is not None:
                why = "has a game state of its own" if session.state is not None else "has no press"
                summary.notes.append((str(folder), f"no click targets added: the session {why}"))
            continue
        write_session(targeted, folder)
        added += 1
    return added
