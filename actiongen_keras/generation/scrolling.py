"""Scrolling by notches with the wheel model of ``training/scroll.py`` (the ``scroll`` goal of ``generation/act.py``).

A scroll goal of ``dy`` notches is one burst of ``|dy|`` ``scroll`` events of one notch each
(``scroll_dy`` = the sign of ``dy``: positive is down, as in the session format), the cursor
still. The first notch comes one sampled interval after the previous goal ended, then one
sampled interval between notches: intervals drawn by inverse-CDF sampling from the quantiles
of one training person, drawn per goal, each from that person's quantiles at its position in
the burst where the model has them (``training.scroll.POSITIONS``: people slow down over a
burst; the first notch's wait is drawn as a first interval) (a learned empirical model of Balabit's wheel
intervals; see ``training/scroll.py`` for that data's caveats). The notch times are then put
on the recorder's clock (``clock``, :func:`~actiongen_keras.generation.clock.put_on_clock`):
the clock of the session they are appended to, by default whole milliseconds. Drawn from
quantiles the intervals are continuous; a recorder stamps whole milliseconds (Balabit on its
~15.6 ms capture tick), and a notch between two milliseconds gives a generator away.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation.clock import WHOLE_MS, put_on_clock
from actiongen_keras.recordings.session import Events
from actiongen_keras.training.scroll import FORMAT, interval_position


class Scroller:
    """A fitted wheel model (``MODEL_DIR`` holding ``scroll.json``)."""

    def __init__(self, folder):
        self.path = Path(folder)
        f = self.path / "scroll.json"
        if not f.is_file():
            raise ActiongenError(f"{self.path}: not a scroll model folder (needs scroll.json; fit one with `actiongen scroll fit`)")
        self.meta = json.loads(f.read_text(encoding="utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ActiongenError(f"{f}: format {self.meta.get('format')!r}, expected {FORMAT!r}")
        self._set_quantiles(self.meta["interval_quantiles_ms"], self.meta.get("position_quantiles_ms"))

    def _set_quantiles(self, quantiles, positions):
        self.quantiles = {k: np.asarray(v, dtype=np.float64) for k, v in quantiles.items()}
        # a model fitted before positions were kept draws every interval from all of the person's
        self.positions = {k: {p: None if q is None else np.asarray(q, dtype=np.float64) for p, q in v.items()}
                          for k, v in (positions or {}).items()}

    @classmethod
    def from_quantiles(cls, quantiles, positions=None):
        """A wheel model held in memory: ``{person: quantiles (ms)}`` as ``training.scroll.interval_quantiles``
        gives them, and optionally ``{person: training.scroll.position_quantiles}`` (what a
        benchmark refits per fold of people without writing a folder)."""
        if not quantiles:
            raise ActiongenError("a wheel model needs at least one person's interval quantiles")
        self = cls.__new__(cls)
        self.path = None
        self.meta = {"format": FORMAT, "people": sorted(quantiles), "interval_quantiles_ms": {k: list(v) for k, v in quantiles.items()}}
        self._set_quantiles(quantiles, positions)
        return self

    def intervals(self, n, rng, person=None):
        """``n`` intervals (ms) of a burst of ``n + 1`` notches, or ``n`` waits of a goal of
        ``n`` notches (the first one a wait before the first notch, drawn as a first interval),
        of one person (drawn when not given): each at its position in the burst."""
        names = sorted(self.quantiles)
        who = person if person is not None else names[int(rng.integers(len(names)))]
        q_all, by = self.quantiles[who], self.positions.get(who, {})
        u = rng.random(n)
        where = np.array([interval_position(i, n) for i in range(n)])
        out = np.empty(n)
        for p in set(where):  # one inverse-CDF lookup per position, not per interval
            q = by.get(p)
            q = q_all if q is None else q
            out[where == p] = np.interp(u[where == p], np.linspace(0.0, 1.0, len(q)), q)
        return out

    def scroll_events(self, dy, start_ms, x, y, seed=0, clock=WHOLE_MS):
        """:class:`Events` of a burst of ``|dy|`` notches (module doc) on ``clock`` (``(period,
        phase, resolution, others_tick)``, :func:`~actiongen_keras.generation.clock.estimate_clock`)."""
        n = int(round(abs(dy)))
        rng = np.random.default_rng(seed)
        t = put_on_clock(float(start_ms) + np.cumsum(self.intervals(n, rng)), clock, after_ms=float(start_ms))
        return Events.from_columns(t_ms=np.round(t, 3), type=["scroll"] * n, x=np.full(n, float(x)), y=np.full(n, float(y)),
                                   scroll_dy=np.full(n, float(np.sign(dy))))


__all__ = ["Scroller"]
