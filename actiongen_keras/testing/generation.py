"""The greedy-window check of the sampling loop, shared by the generation and export tests.

Untrained run folders and the tiny config are in :mod:`actiongen_keras.testing.runs`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.generation import rules as R
from actiongen_keras.generation.sampler import STOPS
from actiongen_keras.layers.context_aware_generator import xy_point
from actiongen_keras.layers.multi_scale_timing import timing_quantile


def model_outputs(model, inputs):
    """The model's outputs on ``inputs`` (a dict of arrays) at inference, as NumPy arrays.

    On JAX through ``predict_on_batch`` (one jit compile of the whole model, 8 s for the
    tiny test model): an eager JAX call compiles every operation separately (34 s). On
    TensorFlow and PyTorch an eager call (tracing a function costs more there than it saves).
    """
    if keras.backend.backend() == "jax":
        out = model.predict_on_batch(inputs)
    else:
        out = model({k: ops.convert_to_tensor(v) for k, v in inputs.items()}, training=False)
    return {k: np.asarray(ops.convert_to_numpy(v)) for k, v in out.items()}


def check_greedy_window(model, window, out, row=0, target_ms=600.0, atol_ms=1e-2, atol_xy=1e-4):
    """Check a greedy window of :func:`~actiongen_keras.generation.sampler.sample_window` against
    the full model on its own prefix; returns the number of events checked.

    Row ``row`` of ``out`` (screen units, ``scroll`` as classes) is written back as the
    decoder input of ``window`` (``make_windows`` layout, with ``bos_xy``); one teacher-forced
    pass of ``model`` then must give, at every step, the generated event: the argmax of the
    event head over the types the coherence rules allow (held state replayed from the
    history and the events before), the median interval of that type's timing head (or
    the clamp to T of a first event that would land before it), the most probable position
    of a move (clipped to the screen; other events at the cursor), the argmax button / key
    within the rules; and at the step after the last event, EOS when the window stopped on it.
    Press durations (``dwell`` on, as the default sampler): a press / key_down schedules its
    release at the median of its dwell head; a scheduled release that is due before the next
    event (or before an EOS) must be the event there, and the rules never release a
    scheduled button otherwise. ``out`` must come without a clock.
    """
    g = model.get_layer("generator")
    n = int(out["count"][row])
    x = {k: np.array(window[k][row : row + 1]) for k in F.INPUT_NAMES if not k.startswith("dec_")}
    A1 = int(model.get_layer("decoder").max_actions) + 1
    dec = {"dec_type": np.zeros((1, A1), np.int32), "dec_button": np.zeros((1, A1), np.int32), "dec_key": np.zeros((1, A1), np.int32),
           "dec_scroll": np.full((1, A1, 2), F.SCROLL_ZERO, np.int32), "dec_dt": np.zeros((1, A1), np.float32),
           "dec_t_after": np.zeros((1, A1), np.float32), "dec_xy": np.zeros((1, A1, 2), np.float32)}
    dec["dec_type"][0, 0] = F.BOS
    dec["dec_xy"][0, 0] = window["bos_xy"][row]
    cols = (("dec_type", "event_type_id"), ("dec_button", "button_id"), ("dec_key", "key_id"), ("dec_scroll", "scroll"),
            ("dec_dt", "dt_ms"), ("dec_t_after", "t_ms"), ("dec_xy", "xy"))
    for d, o in cols:
        dec[d][0, 1 : n + 1] = out[o][row, :n]
    if n + 1 < A1 and STOPS[int(out["stop"][row])] == "eos":
        dec["dec_type"][0, n + 1] = F.EOS
    x.update(dec)
    full = model_outputs(model, x)
    tb = (g.timing_boundaries_ms, g.num_timing_components, g.max_timing_ms)
    med = np.asarray(ops.convert_to_numpy(timing_quantile(ops.convert_to_tensor(full["timing"][0]), 0.5, *tb)))
    tbd = (g.dwell_boundaries_ms, g.num_timing_components, g.max_timing_ms)
    hold = np.asarray(ops.convert_to_numpy(timing_quantile(ops.convert_to_tensor(full["dwell"][0]), 0.5, *tbd)))
    sched = {"button": {}, "key": {}}  # id -> scheduled release time (ms from T)
    point = np.clip(np.asarray(ops.convert_to_numpy(xy_point(ops.convert_to_tensor(full["xy"][0]), g.num_xy_mixtures, g.xy_frame))), 0.0, 1.0)
    hist_t, hist_b, hist_k = (np.asarray(window[k][row]) for k in ("hist_type", "hist_button", "hist_key"))
    valid = hist_t != F.PAD
    t_prev = -float(np.asarray(window["hist_t_before"][row])[valid].min()) if valid.any() else 0.0

    def held(i):  # the generated events before step i, the rest PAD (one shape for every i: JAX compiles once)
        gen = np.arange(out["event_type_id"].shape[1]) < i
        types = np.concatenate([hist_t, np.where(gen, out["event_type_id"][row], F.PAD)])[None]
        b = R.held_from_history(types, np.concatenate([hist_b, out["button_id"][row]])[None], F.NUM_BUTTONS, R.NAMES_BUTTON)
        k = R.held_from_history(types, np.concatenate([hist_k, out["key_id"][row]])[None], g.num_keys, R.NAMES_KEY)
        return b, k

    cursor = np.asarray(window["bos_xy"][row], np.float64)
    def scheduled(name, size):
        m = np.zeros((1, size), bool)
        m[0, list(sched[name])] = True
        return m

    for i in range(n + (STOPS[int(out["stop"][row])] == "eos")):
        hb, hk = held(i)
        sb, sk = scheduled("button", F.NUM_BUTTONS), scheduled("key", g.num_keys)
        allowed = np.asarray(ops.convert_to_numpy(R.type_mask(hb, hk, True, sb, sk)))[0]
        want = int(np.argmax(np.where(allowed, full["event_type"][0, i], -np.inf)))
        expect = -t_prev if t_prev + med[i] < 0.0 else float(med[i])
        due = min([(t, name, ident) for name in ("button", "key") for ident, t in sched[name].items()], default=None)
        if due is not None and due[0] <= (target_ms if want == F.EOS else t_prev + expect):
            if i == n:  # the release was due past the window's end
                assert due[0] >= target_ms, (i, due)
                break
            typ = int(out["event_type_id"][row, i])
            assert typ == (F.RELEASE if due[1] == "button" else F.KEY_UP), (i, typ, due)
            assert int(out[due[1] + "_id"][row, i]) == due[2], (i, due)
            assert abs(float(out["t_ms"][row, i]) - max(due[0], t_prev)) <= atol_ms + 1e-4 * abs(due[0]), (i, out["t_ms"][row, i], due)
            np.testing.assert_allclose(out["xy"][row, i], cursor, atol=atol_xy, err_msg=f"step {i}")
            del sched[due[1]][due[2]]
            t_prev = float(out["t_ms"][row, i])
            continue
        if i == n:
            assert want == F.EOS, (i, want)
            break
        typ = int(out["event_type_id"][row, i])
        assert typ == want, (i, typ, want)
        assert 0.0 <= float(out["t_ms"][row, i]) < target_ms, (i, out["t_ms"][row, i])
        dt = float(out["dt_ms"][row, i])
        assert abs(dt - expect) <= atol_ms + 1e-4 * expect, (i, dt, expect)
        xy = out["xy"][row, i]
        np.testing.assert_allclose(xy, point[i] if R.MOVES_CURSOR[typ] else cursor, atol=atol_xy, err_msg=f"step {i}")
        for name, need, low, key in (("button", R.BUTTON_NEED, R.BUTTON_MIN, "button_id"), ("key", R.KEY_NEED, R.KEY_MIN, "key_id")):
            names = R.NAMES_BUTTON if name == "button" else R.NAMES_KEY
            if names[typ]:
                ok = np.asarray(ops.convert_to_numpy(R.id_mask(hb if name == "button" else hk, np.array([typ]), need, low, True,
                                                               sb if name == "button" else sk)))[0]
                ident = int(out[key][row, i])
                assert ident == int(np.argmax(np.where(ok, full[name][0, i], -np.inf))), (i, name)
                if R.HELD_AFTER[typ] == 1:
                    sched[name][ident] = float(out["t_ms"][row, i]) + float(hold[i])
                else:
                    sched[name].pop(ident, None)
        t_prev = float(out["t_ms"][row, i])
        cursor = xy
    return n


__all__ = ["check_greedy_window", "model_outputs"]
