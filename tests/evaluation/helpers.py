"""Hand-made sessions for the evaluation tests."""

import numpy as np

from actiongen_keras.recordings.session import Events, Session


def moves(t, x, y):
    return Events.from_columns(t_ms=np.asarray(t, float), type=np.full(len(t), "move", object), x=np.asarray(x, float), y=np.asarray(y, float))


def events(rows):
    """Events from ``(t, type, x, y, button, key)`` rows (sorted by time, stable)."""
    rows = sorted(rows, key=lambda r: r[0])
    t, typ, x, y, b, k = zip(*rows)
    return Events.from_columns(t_ms=np.array(t, float), type=np.array(typ, object), x=np.array(x, float), y=np.array(y, float),
                               button=np.array(b, object), key=np.array(k, object))


def session(ev, sid="s", subject="p", screen=(512, 384), **kw):
    return Session(session_id=sid, source="test", subject=subject, screen=screen, events=ev, **kw)


def click_session(targets, times, sid="c", subject="p", dt=10.0, seed=0, screen=(512, 384)):
    """A human-ish session: straight moves between targets at ``dt`` sampling, key k1 taps at ``times``."""
    rng = np.random.default_rng(seed)
    rows = []
    pos = np.array(targets[0], float)
    last = times[0] - 200
    for (tx, ty), tc in zip(targets, times):
        ts = np.arange(last + dt, tc + 1e-9, dt)
        for j, t in enumerate(ts):
            f = (j + 1) / len(ts)
            p = pos + f * (np.array([tx, ty]) - pos) + rng.normal(0, 0.3, 2)
            rows.append((t, "move", p[0], p[1], "", ""))
        rows.append((tc, "key_down", tx, ty, "", "k1"))
        rows.append((tc + 60, "key_up", tx, ty, "", "k1"))
        pos, last = np.array([tx, ty], float), tc
    rows.sort(key=lambda r: (r[0], r[1] != "move"))
    return session(events(rows), sid=sid, subject=subject, screen=screen)
