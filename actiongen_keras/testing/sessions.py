"""Synthetic ``actiongen-session/1`` sessions for tests, benchmarks and the TFDS test's dummy data.

:func:`write_dummy_data` writes the TFDS test's two people x one 80 s session each (one
"osu" with state and anchors, one "sapimouse" without, a low event rate so the folder stays a
few KB; ``python datasets/actiongen_sessions/make_dummy_data.py`` rewrites
``datasets/actiongen_sessions/dummy_data/``); :func:`tiny_sessions` two 12 s sessions for a
tiny run folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actiongen_keras.recordings.session import Events, Session, State, write_session

STATE_COLUMNS = [
    {"name": "obj_dt_ms", "kind": "numeric", "anchor": "obj", "role": "dt_ms"},
    {"name": "obj_x", "kind": "numeric", "anchor": "obj", "role": "x"},
    {"name": "obj_y", "kind": "numeric", "anchor": "obj", "role": "y"},
    {"name": "obj_kind", "kind": "categorical"},
    {"name": "active", "kind": "bool"},
]


def synthetic_session(session_id, subject, source="synth", duration_s=30.0, rate_hz=60.0, seed=0, with_state=False,
                      screen=(800, 600), keys=True, scroll=True, game=None, state_step_ms=100.0, t0=0.0):
    """A plausible session: moves at ``rate_hz`` with jitter, a click every ~0.7 s, keys, scrolls."""
    rng = np.random.default_rng(seed)
    n = max(int(duration_s * rate_hz), 2)
    t = t0 + np.sort(rng.uniform(0, duration_s * 1000.0, n))
    t[0], t[-1] = t0, t0 + duration_s * 1000.0
    w, h = screen
    x = np.clip(w / 2 + np.cumsum(rng.normal(0, 8, n)), 0, w)
    y = np.clip(h / 2 + np.cumsum(rng.normal(0, 8, n)), 0, h)
    typ = np.full(n, "move", dtype=object)
    btn = np.full(n, "", dtype=object)
    key = np.full(n, "", dtype=object)
    sdy = np.zeros(n, dtype=np.int64)
    step = max(int(0.7 * rate_hz), 4)
    for i in range(step, n - 2, step):
        typ[i], btn[i] = "press", "left" if (i // step) % 3 else "right"
        typ[i + 1], btn[i + 1] = "release", btn[i]
    if keys:
        for j, i in enumerate(range(step // 2, n - 2, 3 * step)):
            typ[i], key[i] = "key_down", "abcq"[j % 4]
            typ[i + 1], key[i + 1] = "key_up", key[i]
    if scroll:
        for i in range(step // 3, n, 5 * step):
            if typ[i] == "move":
                typ[i], sdy[i] = "scroll", int(rng.integers(-3, 4)) or 1
    ev = Events.from_columns(t_ms=t, type=typ, x=np.round(x, 1), y=np.round(y, 1), button=btn, key=key, scroll_dy=sdy)
    state = cols = None
    if with_state:
        st = np.arange(t0, t0 + duration_s * 1000.0, state_step_ms)
        m = len(st)
        cols = [dict(c) for c in STATE_COLUMNS]
        state = State(
            t_ms=st,
            columns={
                "obj_dt_ms": np.round(rng.uniform(0, 800, m), 1),
                "obj_x": np.where(rng.random(m) < 0.1, np.nan, np.round(rng.uniform(0, w, m), 1)),
                "obj_y": np.round(rng.uniform(0, h, m), 1),
                "obj_kind": rng.choice(np.array(["circle", "slider", "spinner"], dtype=object), m),
                "active": (rng.random(m) < 0.5).astype(np.float64),
            },
        )
        game = game or "synthgame"
    return Session(session_id=session_id, source=source, subject=subject, screen=tuple(screen), events=ev, game=game,
                   state_columns=cols, state=state)


def write_dummy_data(out_dir):
    """The TFDS test's sessions (see module docstring)."""
    out_dir = Path(out_dir)
    sessions = [
        synthetic_session("osu-a", "alice", source="osu", duration_s=80, rate_hz=6, seed=1, with_state=True, screen=(512, 384),
                          scroll=False, state_step_ms=600.0),
        synthetic_session("sapi-b", "bob", source="sapimouse", duration_s=80, rate_hz=6, seed=2, keys=False, scroll=False),
    ]
    for s in sessions:
        write_session(s, out_dir / s.session_id, compress=True)
    return [out_dir / s.session_id for s in sessions]



def tiny_sessions():
    """Two 12 s sessions: an osu!-like one with state and anchors, a SapiMouse-like one with keys and scrolls."""
    return [
        synthetic_session("osu-a", "alice", source="osu", duration_s=12, rate_hz=40, seed=1, with_state=True, screen=(512, 384),
                          state_step_ms=170.0),
        synthetic_session("sapi-b", "bob", source="sapimouse", duration_s=12, rate_hz=30, seed=2, keys=True, scroll=True),
    ]
