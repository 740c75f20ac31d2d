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

``session.json`` says where the state came from: ``extra.state_source`` is
:data:`STATE_SOURCE`, ``extra.click_targets`` counts the targets and names the noise.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from actiongen_keras.recordings.session import State, read_session, write_session

STATE_SOURCE = "click_targets_from_presses"
STEP_MS = 50.0
POSITION_NOISE_PX = 5.0  # per axis, screen px
STATE_COLUMNS = (
    {"name": "target_x", "kind": "numeric", "anchor": "target", "role": "x"},
    {"name": "target_y", "kind": "numeric", "anchor": "target", "role": "y"},
    {"name": "target_dt_ms", "kind": "numeric", "anchor": "target", "role": "dt_ms"},
    {"name": "target_end_x", "kind": "numeric", "anchor": "target_end", "role": "x"},
    {"name": "target_end_y", "kind": "numeric", "anchor": "target_end", "role": "y"},
    {"name": "target_end_dt_ms", "kind": "numeric", "anchor": "target_end", "role": "dt_ms"},
    {"name": "target_button", "kind": "categorical"},
)


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
    ups = []
    for i in downs:
        later = np.flatnonzero((typ[i + 1 :] == "release") & (button[i + 1 :] == button[i]))
        ups.append(i + 1 + later[0] if len(later) else len(typ) - 1)
    ups = np.asarray(ups, dtype=np.int64)
    return Presses(t[downs], x[downs], y[downs], button[downs], t[ups], x[ups], y[ups])


def _seed(session_id):
    return int(hashlib.md5(session_id.encode()).hexdigest()[:8], 16)


def click_target_state(events, session_id, step_ms=STEP_MS, noise_px=POSITION_NOISE_PX):
    """The current target every ``step_ms`` from the first to the last event:
    ``(State with STATE_COLUMNS, number of targets)``. Empty cells (NaN, ``""``) after the
    last release: no target is left."""
    p = mouse_presses(events)
    t_end = float(events.t_ms[-1]) if len(events) else 0.0
    t = np.arange(0.0, max(t_end, 0.0) + step_ms / 2, step_ms)
    n = len(p.t)
    if n == 0:
        empty = np.full(len(t), np.nan)
        columns = {c["name"]: empty for c in STATE_COLUMNS if c["kind"] == "numeric"}
        return State(t_ms=t, columns={**columns, "target_button": np.full(len(t), "", dtype=object)}), 0
    noise = np.random.default_rng(_seed(session_id)).normal(0.0, float(noise_px), (4, n))
    # The current target: the first press, in order of release, not yet released at t.
    by_release = np.argsort(p.up_t, kind="stable")
    done = np.searchsorted(p.up_t[by_release], t, side="right")
    valid = done < n
    idx = by_release[np.minimum(done, n - 1)]
    # It appeared when the last press released before it was released (else at the start).
    released = p.up_t[by_release]
    appeared = np.concatenate([[0.0], released])[np.searchsorted(released, p.t[idx], side="right")]
    age = np.where(valid, np.minimum(appeared - t, 0.0), np.nan)

    def col(values):
        return np.where(valid, values[idx], np.nan)

    columns = {
        "target_x": col(p.x + noise[0]),
        "target_y": col(p.y + noise[1]),
        "target_dt_ms": age,
        "target_end_x": col(p.up_x + noise[2]),
        "target_end_y": col(p.up_y + noise[3]),
        "target_end_dt_ms": age,
        "target_button": np.where(valid, p.button[idx], "").astype(object),
    }
    return State(t_ms=t, columns=columns), int(len(p.t))


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
