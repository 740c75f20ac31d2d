"""Honest baselines, computed from the same windows the model sees.

Every metrics file reports the model beside these. :func:`all_baselines` turns a batch of
NumPy inputs (``features.INPUT_NAMES``) into one set of *predictions* per baseline, in the form the model's
outputs are decoded to (:func:`~actiongen_keras.scoring.window_metrics.decode_outputs`):

``event_type`` int [N, A+1] (class per target position, teacher-forced), ``timing`` float
[N, A+1] (ms since the previous event), ``xy`` float [N, A+1, 2] (screen-normalised),
``seq_len`` int [N].

* ``majority_event``: the training split's most frequent target class at every position
  (what the failed predecessor learned).
* ``repeat_last_window``: the events of the last ``target_ms`` of history, replayed: types,
  intervals and positions of the i-th event of [T-600 ms, T) for target i; EOS after them.
* ``constant_median_timing``: the training split's median interval for every event.
* ``hold_cursor``: the cursor stays where it was at T.
* ``constant_velocity``: the cursor keeps the velocity of its last two history moves,
  evaluated at each target event's true time (teacher forcing, as for the model).
* ``previous_event``: the strongest simple rival of a teacher-forced model: each target
  event repeats the type, interval and position of the event before it (the true one,
  exactly what the model's decoder is given). Moves at a steady polling rate make this
  hard to beat on timing and coordinates.
"""

from __future__ import annotations

import numpy as np

from actiongen_keras.data import features as F


def _targets_len(inputs):
    return inputs["dec_type"].shape[1]


def _last_cursor(inputs):
    return inputs["dec_xy"][:, 0, :]  # BOS carries the last known cursor position


def majority_event(inputs, majority_class):
    n, a1 = inputs["dec_type"].shape
    return np.full((n, a1), int(majority_class), dtype=np.int32)


def repeat_last_window(inputs, target_ms):
    """Types, intervals, positions and count of the history's last ``target_ms``."""
    t_before = inputs["hist_t_before"]
    htype = inputs["hist_type"]
    n, h = htype.shape
    a1 = _targets_len(inputs)
    in_last = (htype != F.PAD) & (t_before <= target_ms)
    counts = np.minimum(in_last.sum(1), a1 - 1)
    # History is right-aligned, so the last window's events are the last `count` columns.
    start = h - in_last.sum(1)
    idx = start[:, None] + np.arange(a1)[None, :]
    valid = np.arange(a1)[None, :] < counts[:, None]
    idx_c = np.clip(idx, 0, h - 1)
    rows = np.arange(n)[:, None]
    types = np.where(valid, htype[rows, idx_c], F.PAD)
    types[np.arange(n), counts] = F.EOS
    timing = np.where(valid, inputs["hist_dt"][rows, idx_c], 0.0).astype(np.float32)
    xy = np.where(valid[..., None], inputs["hist_xy"][rows, idx_c], _last_cursor(inputs)[:, None, :]).astype(np.float32)
    return {"event_type": types.astype(np.int32), "timing": timing, "xy": xy, "seq_len": counts.astype(np.int32)}


def constant_timing(inputs, median_ms):
    return np.full(inputs["dec_type"].shape, float(median_ms), dtype=np.float32)


def hold_cursor(inputs):
    a1 = _targets_len(inputs)
    return np.repeat(_last_cursor(inputs)[:, None, :], a1, axis=1).astype(np.float32)


def constant_velocity(inputs, target_t_after_ms, max_speed=0.01):
    """Extrapolate the last two history moves' velocity to each target's true time.

    ``target_t_after_ms``: [N, A+1] true ms after T of each target event (the decoder's
    next-step ``t_after``). Velocity is in screen units per ms, clipped to ``max_speed``
    (1 screen per 100 ms) so one noisy pair cannot fling the cursor off the screen.
    """
    htype, hxy, tb = inputs["hist_type"], inputs["hist_xy"], inputs["hist_t_before"]
    n, h = htype.shape
    is_move = htype == F.MOVE
    # Index of the last and second-to-last move in each row (right-aligned history).
    pos = np.where(is_move, np.arange(h)[None, :], -1)
    last = pos.max(1)
    pos2 = np.where(np.arange(h)[None, :] < last[:, None], pos, -1)
    prev = pos2.max(1)
    rows = np.arange(n)
    ok = (last >= 0) & (prev >= 0)
    dt = np.where(ok, tb[rows, np.maximum(prev, 0)] - tb[rows, np.maximum(last, 0)], 1.0)
    dxy = hxy[rows, np.maximum(last, 0)] - hxy[rows, np.maximum(prev, 0)]
    v = np.where(ok[:, None] & (dt[:, None] > 0), dxy / np.maximum(dt, 1e-3)[:, None], 0.0)
    v = np.clip(v, -max_speed, max_speed)
    since_last = np.where(ok, tb[rows, np.maximum(last, 0)], 0.0)
    start = _last_cursor(inputs)
    elapsed = since_last[:, None] + np.asarray(target_t_after_ms)
    return np.clip(start[:, None, :] + v[:, None, :] * elapsed[..., None], 0.0, 1.0).astype(np.float32)


def previous_event(inputs):
    """Type, interval and position of the previous (true) event, per target step."""
    dec_type, dec_dt, dec_xy = inputs["dec_type"], inputs["dec_dt"], inputs["dec_xy"]
    types = dec_type.copy()
    types[:, 0] = inputs["hist_type"][:, -1]  # step 0's decoder input is BOS
    types = np.where((types == F.PAD) | (types == F.BOS), F.MOVE, types)
    timing = dec_dt.astype(np.float32).copy()
    timing[:, 0] = inputs["hist_dt"][:, -1]
    return types.astype(np.int32), timing, dec_xy.astype(np.float32)


def all_baselines(inputs, target_t_after_ms, majority_class, majority_len, median_ms, target_ms):
    """``{name: predictions}`` for every heuristic baseline on one batch.

    Each baseline owns some heads; its other heads take the plainest choice (majority
    class, median interval, held cursor), so every baseline has every metric.
    """
    rep = repeat_last_window(inputs, target_ms)
    hold = hold_cursor(inputs)
    maj = majority_event(inputs, majority_class)
    const_t = constant_timing(inputs, median_ms)
    majority_len = np.full(len(maj), int(majority_len), dtype=np.int32)
    prev_type, prev_dt, prev_xy = previous_event(inputs)
    return {
        "previous_event": {"event_type": prev_type, "timing": prev_dt, "xy": prev_xy, "seq_len": rep["seq_len"]},
        "majority_event": {"event_type": maj, "timing": const_t, "xy": hold, "seq_len": majority_len},
        "repeat_last_window": rep,
        "constant_median_timing": {"event_type": maj, "timing": const_t, "xy": hold, "seq_len": rep["seq_len"]},
        "hold_cursor": {"event_type": maj, "timing": const_t, "xy": hold, "seq_len": rep["seq_len"]},
        "constant_velocity": {
            "event_type": maj,
            "timing": const_t,
            "xy": constant_velocity(inputs, target_t_after_ms),
            "seq_len": rep["seq_len"],
        },
    }
