"""Best of N windows: sample each window N times, keep the one that gets furthest towards its anchors.

Why. In closed loop the model steers too weakly: teacher-forced, its one-step draws turn
towards the window's target about as much as the hand's next step does, but over a window
of its own steps the pull towards the target falls to a third of the people's, the pace of
clicks to a third, and on osu! maps never trained on it hits half of what a person hits
(README, "Where the closed loop loses the target"). Every path the model draws is its own;
what it lacks is the choice a person makes among the movements they could make. Drawing
``N`` windows from the same context and keeping the one that ends nearest to what the
state asks for is that choice at the scale of one window (600 ms): the kept path, its
timing, overshoots and pauses are still a draw of the model, only not the first one.

**The cost of a window** (:func:`anchor_cost`, pixels; lower is better) is read off the
anchors the model itself was shown (``data/features.py``: on-screen points with a time):

* an anchor **due within the window** (``0 < anchor_dt < target_ms``: an osu! circle
  to be hit in the next 600 ms) costs the cursor's distance to it at its time, and
  :data:`MISS_PX` more unless the window presses (``press`` or ``key_down``) within
  :data:`PRESS_WINDOW_MS` of that time: an anchor's moment is the moment to act (osu!
  counts a circle hit when a click comes within its hit window with the cursor on it);
* an anchor **already due** (``anchor_dt <= 0``, or without a time: a click target
  shown and waiting) costs the distance at the window's end;
* of anchors due at the same moment only the first declared counts (a click target's
  ``target`` and ``target_end`` share their time: the press point is the goal until it is
  done, as the task's own state says);
* where nothing is due within the window, the next anchor to come (smallest
  ``anchor_dt``) costs the distance at the window's end: the cursor heading for it.

The window's cost is the mean over the anchors that count. A row without anchors costs 0
for every candidate and keeps the first, so ``best_of`` changes nothing where the state
declares no goal (SapiMouse without click targets, Balabit, typing); a window in which no
row shows an anchor is drawn once (``rollout._run_chunk``), so it costs nothing there either.

**Random numbers.** Candidate 0 of window ``k`` is drawn with the window's own seed
(``rollout.window_seed(seed, k)``): ``best_of=1`` is the rollout without this module, to the
bit. Candidate ``c > 0`` has its own seed, ``window_seed(seed, k, c)``, so a context still
gives the same session alone or in any batch.
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import features as F

PRESS_WINDOW_MS = 100.0
"""A press this close in time to a timed anchor's moment acts on it (osu!'s hit windows for
50 points are 80-200 ms wide on either side, its players' presses a median 10-20 ms off)."""
MISS_PX = 100.0
"""The cost of no press at a timed anchor's moment, in pixels of distance: a window that
reaches the circle without pressing is worth as much as one that presses 100 px away."""


def event_times(t_ms, count):
    """``t_ms [B, A]`` of a sampled window with the slots past each row's ``count`` at +inf
    (events that never come)."""
    t_ms = np.asarray(t_ms, np.float64)
    return np.where(np.arange(t_ms.shape[1])[None, :] < np.asarray(count)[:, None], t_ms, np.inf)


def cursor_at(start_xy, t_ms, xy, count, when):
    """The cursor of each row at each time of ``when`` ``[B, P]`` (ms from the window's start):
    the position of the last generated event at or before it, ``start_xy`` ``[B, 2]`` before the
    first. ``t_ms [B, A]``, ``xy [B, A, 2]``: the window's events, the first ``count [B]`` real."""
    xy = np.asarray(xy, np.float64)
    t = event_times(t_ms, count)
    A = t.shape[1]
    n_before = (t[:, None, :] <= np.asarray(when, np.float64)[:, :, None]).sum(-1)  # [B, P]
    idx = np.clip(n_before - 1, 0, max(A - 1, 0))
    held = np.take_along_axis(xy, idx[..., None].repeat(2, axis=-1), axis=1) if A else np.zeros(idx.shape + (2,))
    return np.where((n_before > 0)[..., None], held, np.asarray(start_xy, np.float64)[:, None, :])


def counted_anchors(anchor_dt, anchor_mask, target_ms):
    """``(counts [B, P] bool, when [B, P] ms, timed [B, P] bool)``: which anchors a window's cost
    reads, at what time, and which of them are due within the window (they want a press; module doc)."""
    dt = np.asarray(anchor_dt, np.float64)
    present = np.asarray(anchor_mask) > 0
    in_window = present & (dt > 0) & (dt < target_ms)
    waiting = present & (dt <= 0)
    due = in_window | waiting
    when = np.where(in_window, dt, float(target_ms))
    # of anchors due at the same moment, the first declared only
    P = dt.shape[1]
    same = (np.abs(dt[:, :, None] - dt[:, None, :]) < 1e-3) & due[:, :, None] & due[:, None, :]
    earlier = np.tril(np.ones((P, P), bool), k=-1)[None]  # [i, j]: j declared before i
    counts = due & ~(same & earlier).any(-1)
    # nothing due: the next anchor to come, at the window's end
    later = present & (dt >= target_ms)
    nxt = np.argmin(np.where(later, dt, np.inf), axis=1)
    fallback = ~due.any(1) & later.any(1)
    counts[fallback, nxt[fallback]] = True
    return counts, when, in_window


def anchor_cost(out, window, target_ms, screen_px):
    """Per row of a sampled batch: the window's mean distance in pixels to the anchors that
    count (module doc); 0 for a row with none.

    ``out``: the sampler's output (``count``, ``t_ms``, ``xy``, ``event_type_id``); ``window``: its inputs
    (``bos_xy``, ``anchor_xy``, ``anchor_dt``, ``anchor_mask``); ``screen_px [B, 2]``: each
    row's screen, width and height."""
    counts, when, timed = counted_anchors(window["anchor_dt"], window["anchor_mask"], float(target_ms))
    cur = cursor_at(window["bos_xy"], out["t_ms"], out["xy"], out["count"], when)
    scale = np.asarray(screen_px, np.float64)[:, None, :]
    dist = np.hypot(*np.moveaxis((cur - np.asarray(window["anchor_xy"], np.float64)) * scale, -1, 0))
    # an anchor due within the window wants a press at its moment
    typ = np.asarray(out["event_type_id"])
    press_t = np.where((typ == F.PRESS) | (typ == F.KEY_DOWN), event_times(out["t_ms"], out["count"]), np.inf)  # [B, A]
    near = (np.abs(press_t[:, None, :] - when[:, :, None]) <= PRESS_WINDOW_MS).any(-1)  # [B, P]
    dist = dist + np.where(timed & ~near, MISS_PX, 0.0)
    n = counts.sum(1)
    return np.where(n > 0, np.where(counts, dist, 0.0).sum(1) / np.maximum(n, 1), 0.0)


def pick_best(cost, n_candidates):
    """Index into the candidates' batch (row-major: row ``i``'s candidates at ``i * N ... i * N +
    N - 1``) of each row's cheapest candidate; ties keep the earliest (candidate 0 first)."""
    cost = np.asarray(cost, np.float64).reshape(-1, int(n_candidates))
    return np.arange(len(cost)) * int(n_candidates) + np.argmin(cost, axis=1)


__all__ = ["MISS_PX", "PRESS_WINDOW_MS", "anchor_cost", "counted_anchors", "cursor_at", "event_times", "pick_best"]
