"""The exported graph: raw inputs -> in-graph encoding -> model -> next-event heads / sampling loop.

Everything here is plain TensorFlow (``tf.*``), never ``keras.ops``: the model forward pass
is the only backend-specific piece (a ``tf.function`` from
:class:`keras.export.ExportArchive`, jax2tf-converted on the JAX backend), so the same
encoding and sampling code serves the TensorFlow and the JAX exports.

Raw inputs (batch ``B`` dynamic; ``H'`` history length, dynamic: the graph keeps the last
``max_history_events`` and left-pads shorter histories; ``K``, ``S``, ``C`` fixed by the
run's preprocessing) are described by :func:`raw_input_spec`. The encoding follows
``actiongen_keras.data.windows`` exactly (see ``tests/export``).

Sampling (``generate``), one decoder step per emitted event, re-running the full (causal)
model on the growing decoder prefix:

* event type: argmax at temperature 0, else a draw from ``softmax(logits / T)`` (PAD is
  never drawn); EOS stops the window;
* timing (ms since the previous event): the first event is conditioned on the time
  already elapsed since the last history event (``dt >= t_before`` of the last history
  event, so it lands at or after T): quantile ``F(lb) + q (1 - F(lb))`` of the mixture,
  ``q = 0.5`` (median) at temperature 0, ``q = u`` when sampling, where the scale and
  component logits are divided by ``T``; later events use ``lb = 0`` (plain median when
  greedy, the evaluation's point prediction);
* xy: mean of the most probable component at temperature 0; else a component drawn from
  ``softmax(logits / T)`` and a Gaussian draw with its sigma; positions are clipped to
  the screen;
* button / key / scroll: argmax or draw from ``softmax(logits / T)``; only set for the
  event types that carry them (the data pipeline's convention);
* an event at or after ``target_ms`` after T stops the window, as does ``max_actions``.

Random numbers come from a counter-based hash of ``(seed[b], step, slot)`` (stateless, per
row: a row's events do not depend on the other rows of the batch).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from actiongen_keras.data import features as F
from actiongen_keras.layers.context_aware_generator import (
    XY_SIGMA_FLOOR,
    XY_SIGMA_SHIFT,
)
from actiongen_keras.layers.multi_scale_timing import (
    MIN_LOGISTIC_SCALE,
    NUM_SCALES,
    scale_ranges,
)

BISECTION_STEPS = 30
EVENT_NAMES = tuple(F.EVENT_TYPES)
HEAD_OUTPUTS = ("event_type_logits", "timing_params", "xy_params", "button_logits", "key_logits", "scroll_logits", "seq_len_logits")
HEAD_OF = dict(zip(HEAD_OUTPUTS, F.TARGET_NAMES))


# --------------------------------------------------------------------------- specs


def raw_input_spec(prep, generate=False):
    """``{name: (shape, dtype)}`` of the raw (client) inputs; ``None`` = dynamic dimension.

    ``state_numeric`` is omitted when the run has no numeric state feature,
    ``state_categorical`` when it has no categorical one.
    """
    K = int(prep.data_config.history_ticks)
    spec = {
        "hist_type": ((None, None), "string"),
        "hist_button": ((None, None), "string"),
        "hist_key": ((None, None), "string"),
        "hist_scroll": ((None, None, 2), "int32"),
        "hist_dt_ms": ((None, None), "float32"),
        "hist_t_before_ms": ((None, None), "float32"),
        "hist_xy_px": ((None, None, 2), "float32"),
        "cursor_xy_px": ((None, 2), "float32"),
        "screen_px": ((None, 2), "float32"),
        "state_mask": ((None, K), "float32"),
    }
    if prep.num_numeric:
        spec["state_numeric"] = ((None, K, prep.num_numeric), "float64")
    if prep.num_categorical:
        spec["state_categorical"] = ((None, K, prep.num_categorical), "string")
    if generate:
        spec["temperature"] = ((None,), "float32")
        spec["seed"] = ((None,), "int64")
    return spec


def encoded_window_spec(prep):
    """``{name: (shape, dtype)}`` of the already-encoded window (TFLite / ``next_event_encoded``).

    The model's window inputs (``features.INPUT_NAMES`` without the decoder) plus ``bos_xy``
    (the cursor at T, screen units): the decoder input is built inside the graph.
    """
    c = prep.data_config
    sig = prep.input_signature()
    spec = {k: ((None,) + tuple(v[0]), v[1]) for k, v in sig.items() if not k.startswith("dec_")}
    spec["bos_xy"] = ((None, 2), "float32")
    assert spec["hist_type"][0] == (None, c.max_history_events)
    return spec


def tensor_specs(spec):
    return {k: tf.TensorSpec(shape, tf.as_dtype(dtype), name=k) for k, (shape, dtype) in spec.items()}


# --------------------------------------------------------------------------- tables


def _table(keys, values, default):
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(list(keys), tf.string), tf.constant(list(values), tf.int64), key_dtype=tf.string, value_dtype=tf.int64
    )
    return tf.lookup.StaticHashTable(init, default_value=default)


def make_tables(prep):
    """The StaticHashTables of the graph: event types, buttons, keys, each categorical column."""
    ev = {name: i for i, name in enumerate(EVENT_NAMES) if F.MOVE <= i <= F.KEY_UP}
    ev.update({"": F.PAD, "pad": F.PAD})
    btn = dict(F.BUTTON_ID)
    key_vals = prep.key_vocab.to_list()
    tables = {
        "event_type": _table(ev.keys(), ev.values(), -1),
        "button": _table(btn.keys(), btn.values(), 0),
        "key": _table([""] + key_vals, [0] + [i + 2 for i in range(len(key_vals))], 1),
    }
    for j, col in enumerate(prep.categorical_columns):
        vals = [str(v) for v in col["vocab"]]
        tables[f"state_cat_{j}"] = _table([""] + vals, [0] + [i + 2 for i in range(len(vals))], 1)
    return tables


# --------------------------------------------------------------------------- encoding


def _finite(x, name):
    return tf.debugging.assert_all_finite(x, f"{name} contains NaN or Inf (send finite values)")


def _fit_history(x, H, fill):
    """Keep the last H steps of ``x [B, H', ...]`` and left-pad to exactly H."""
    x = x[:, -H:]
    n = tf.shape(x)[1]
    pad = [[0, 0], [H - n, 0]] + [[0, 0]] * (len(x.shape) - 2)
    out = tf.pad(x, pad, constant_values=fill)
    return tf.ensure_shape(out, [None, H] + list(x.shape[2:]))


def encode_raw(raw, prep, tables):
    """Raw request tensors -> the encoded window (``encoded_window_spec`` names)."""
    c = prep.data_config
    H, K = int(c.max_history_events), int(c.history_ticks)
    S, C = prep.num_numeric, prep.num_categorical
    screen = _finite(tf.cast(raw["screen_px"], tf.float32), "screen_px")
    tf.debugging.assert_positive(screen, message="screen_px must be > 0 (width, height in pixels)")
    type_id = tf.cast(tables["event_type"].lookup(_fit_history(raw["hist_type"], H, "")), tf.int32)
    tf.debugging.assert_non_negative(
        type_id, message="hist_type: unknown event type (expected '' for padding, move, press, release, scroll, key_down, key_up)"
    )
    valid = tf.not_equal(type_id, F.PAD)
    is_btn = tf.logical_or(tf.equal(type_id, F.PRESS), tf.equal(type_id, F.RELEASE))
    is_key = tf.logical_or(tf.equal(type_id, F.KEY_DOWN), tf.equal(type_id, F.KEY_UP))
    button = tf.cast(tables["button"].lookup(_fit_history(raw["hist_button"], H, "")), tf.int32)
    key = tf.cast(tables["key"].lookup(_fit_history(raw["hist_key"], H, "")), tf.int32)
    scroll = tf.clip_by_value(_fit_history(tf.cast(raw["hist_scroll"], tf.int32), H, 0), -F.SCROLL_CLIP, F.SCROLL_CLIP) + F.SCROLL_CLIP
    scroll = tf.where((tf.equal(type_id, F.SCROLL))[..., None], scroll, F.SCROLL_CLIP)
    dt = _fit_history(_finite(raw["hist_dt_ms"], "hist_dt_ms"), H, 0.0)
    tb = _fit_history(_finite(raw["hist_t_before_ms"], "hist_t_before_ms"), H, 0.0)
    xy = _fit_history(_finite(raw["hist_xy_px"], "hist_xy_px"), H, 0.0)
    xy = tf.clip_by_value(xy / screen[:, None, :], 0.0, 1.0)
    cursor = tf.clip_by_value(_finite(raw["cursor_xy_px"], "cursor_xy_px") / screen, 0.0, 1.0)
    zero_i = tf.zeros_like(type_id)
    out = {
        "hist_type": type_id,
        "hist_button": tf.where(is_btn, button, zero_i),
        "hist_key": tf.where(is_key, key, zero_i),
        "hist_scroll": tf.where(valid[..., None], scroll, 0),
        "hist_dt": tf.where(valid, dt, 0.0),
        "hist_t_before": tf.where(valid, tb, 0.0),
        "hist_xy": tf.where(valid[..., None], xy, 0.0),
        "screen": screen,
        "bos_xy": cursor,
    }
    mask = tf.cast(raw["state_mask"] > 0.5, tf.float32)
    out["state_mask"] = mask
    B = tf.shape(type_id)[0]
    if S:
        mean = tf.constant([c_["mean"] for c_ in prep.numeric_columns], tf.float64)
        std = tf.constant([c_["std"] for c_ in prep.numeric_columns], tf.float64)
        z = (tf.cast(raw["state_numeric"], tf.float64) - mean) / std
        z = tf.where(tf.math.is_finite(z), z, tf.zeros_like(z))  # NaN = missing value -> the mean
        out["state_numeric"] = tf.cast(z, tf.float32) * mask[..., None]
    else:
        out["state_numeric"] = tf.zeros([B, K, 0], tf.float32)
    if C:
        cols = [tf.cast(tables[f"state_cat_{j}"].lookup(raw["state_categorical"][..., j]), tf.int32) for j in range(C)]
        out["state_categorical"] = tf.stack(cols, axis=-1) * tf.cast(mask[..., None], tf.int32)
    else:
        out["state_categorical"] = tf.zeros([B, K, 0], tf.int32)
    return out


def decoder_bos(window, A1):
    """Decoder inputs with only the BOS step (padding after it), as in ``make_windows``."""
    B = tf.shape(window["hist_type"])[0]
    first = tf.one_hot(0, A1, dtype=tf.float32)[None, :]  # [1, A1]
    zeros_i = tf.zeros([B, A1], tf.int32)
    zeros_f = tf.zeros([B, A1], tf.float32)
    return {
        "dec_type": zeros_i + tf.cast(first, tf.int32) * F.BOS,
        "dec_button": zeros_i,
        "dec_key": zeros_i,
        "dec_scroll": tf.zeros([B, A1, 2], tf.int32) + tf.cast(first, tf.int32)[..., None] * F.SCROLL_CLIP,
        "dec_dt": zeros_f,
        "dec_t_after": zeros_f,
        "dec_xy": first[..., None] * window["bos_xy"][:, None, :],
    }


# --------------------------------------------------------------------------- distributions (tf)


class Heads:
    """Static sizes of the heads, read from the model's generator layer."""

    def __init__(self, num_xy_mixtures, num_timing_components, boundaries_ms, max_ms, num_keys):
        self.M = int(num_xy_mixtures)
        self.Mt = int(num_timing_components)
        self.boundaries_ms = tuple(float(b) for b in boundaries_ms)
        self.max_ms = float(max_ms)
        self.num_keys = int(num_keys)
        r = np.array(scale_ranges(self.boundaries_ms, self.max_ms), np.float32)
        self.lo, self.hi = r[:, 0], r[:, 1]

    @classmethod
    def from_model(cls, model):
        g = model.get_layer("generator")
        return cls(g.num_xy_mixtures, g.num_timing_components, g.timing_boundaries_ms, g.max_timing_ms, g.num_keys)

    def to_dict(self):
        return {"num_xy_mixtures": self.M, "num_timing_components": self.Mt, "boundaries_ms": list(self.boundaries_ms),
                "max_ms": self.max_ms, "num_keys": self.num_keys}


def split_timing(params, Mt):
    scale_logits = params[..., :NUM_SCALES]
    rest = tf.reshape(params[..., NUM_SCALES:], tf.concat([tf.shape(params)[:-1], [NUM_SCALES, 3, Mt]], 0))
    return scale_logits, rest[..., 0, :], rest[..., 1, :], MIN_LOGISTIC_SCALE + tf.math.softplus(rest[..., 2, :])


def timing_cdf(parts, y, heads):
    """CDF of the timing mixture at ``y`` ([B], log1p ms); ``parts`` from :func:`split_timing`."""
    scale_logits, comp_logits, loc, scale = parts
    lo, hi = tf.constant(heads.lo)[:, None], tf.constant(heads.hi)[:, None]
    yy = y[:, None, None]
    f_lo = tf.sigmoid((lo - loc) / scale)
    f_hi = tf.sigmoid((hi - loc) / scale)
    f_y = tf.sigmoid((tf.minimum(tf.maximum(yy, lo), hi) - loc) / scale)
    w = tf.nn.softmax(comp_logits, axis=-1)
    within = tf.reduce_sum(w * (f_y - f_lo) / tf.maximum(f_hi - f_lo, 1e-12), axis=-1)
    return tf.reduce_sum(tf.nn.softmax(scale_logits, axis=-1) * within, axis=-1)


def timing_quantile(parts, q, heads):
    """Quantile ``q`` ([B]) in ms, by bisection in ``y`` (as ``multi_scale_timing.timing_quantile``)."""
    lo = tf.zeros_like(q)
    hi = tf.ones_like(q) * math.log1p(heads.max_ms)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = timing_cdf(parts, mid, heads) < q
        lo = tf.where(below, mid, lo)
        hi = tf.where(below, hi, mid)
    return tf.math.expm1(0.5 * (lo + hi))


def split_xy(params, M):
    logits = params[..., :M]
    mu = tf.stack([params[..., M : 2 * M], params[..., 2 * M : 3 * M]], axis=-1)
    raw = tf.stack([params[..., 3 * M : 4 * M], params[..., 4 * M : 5 * M]], axis=-1)
    return logits, mu, XY_SIGMA_FLOOR + tf.math.softplus(raw - XY_SIGMA_SHIFT)


def xy_point(params, M):
    logits, mu, _ = split_xy(params, M)
    best = tf.one_hot(tf.argmax(logits, axis=-1), M, dtype=mu.dtype)
    return tf.reduce_sum(mu * best[..., None], axis=-2)


def next_event_outputs(h, window, heads):
    """serving_default outputs from :meth:`ModelSteps.next_event`'s heads plus decoded conveniences."""
    res = {out: h[head] for out, head in HEAD_OF.items()}
    res["event_type_probs"] = tf.nn.softmax(h["event_type"], axis=-1)
    parts = split_timing(h["timing"], heads.Mt)  # [B, NT, ...]
    B = tf.shape(h["timing"])[0]
    nt = h["timing"].shape[1]
    flat = tuple(tf.reshape(p, tf.concat([[B * nt], tf.shape(p)[2:]], 0)) for p in parts)
    med = timing_quantile(flat, tf.fill([B * nt], 0.5), heads)
    res["timing_median_ms"] = tf.reshape(med, [B, nt])
    res["xy_point_px"] = xy_point(h["xy"], heads.M) * window["screen"][:, None, :]
    return res


# --------------------------------------------------------------------------- randomness

_M32 = 0xFFFFFFFF


def _mulmod32(x, c):
    x_lo = tf.bitwise.bitwise_and(x, 0xFFFF)
    x_hi = tf.bitwise.right_shift(x, 16)
    hi = tf.bitwise.left_shift(tf.bitwise.bitwise_and(x_hi * (c & 0xFFFF), 0xFFFF), 16)
    return tf.bitwise.bitwise_and(x_lo * c + hi, _M32)


def _mix32(x):
    x = _mulmod32(tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16)), 0x85EBCA6B)
    x = _mulmod32(tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 13)), 0xC2B2AE35)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def row_keys(seed):
    """Per-row 32-bit keys from an int64 ``seed [B]``."""
    seed = tf.cast(seed, tf.int64)
    a = _mix32(tf.bitwise.bitwise_and(seed, _M32))
    return _mix32(tf.bitwise.bitwise_xor(a, tf.bitwise.bitwise_and(tf.bitwise.right_shift(seed, 32), _M32) + 0x9E3779B9))


def uniform(keys, step, slot):
    """U(0, 1) ``[B]`` (float32, never 0 or 1) for row keys, decoder step and slot."""
    c = _mix32(tf.bitwise.bitwise_and(tf.cast(step, tf.int64) * 64 + slot + 0x7F4A7C15, _M32))
    h = _mix32(tf.bitwise.bitwise_xor(keys, c))
    u = (tf.cast(h, tf.float64) + 0.5) / 4294967296.0
    return tf.clip_by_value(tf.cast(u, tf.float32), 1e-7, 1.0 - 1e-7)


def categorical(logits, temperature, u):
    """argmax where ``temperature <= 0``, else inverse-CDF draw from ``softmax(logits / T)``.

    ``temperature`` and ``u`` have the leading shape of ``logits`` (``logits.shape[:-1]``).
    """
    n = logits.shape[-1]
    greedy = tf.cast(tf.argmax(logits, axis=-1), tf.int32)
    p = tf.nn.softmax(logits / tf.maximum(temperature, 1e-6)[..., None], axis=-1)
    cum = tf.cumsum(p, axis=-1)
    drawn = tf.minimum(tf.reduce_sum(tf.cast(cum < u[..., None], tf.int32), axis=-1), n - 1)
    return tf.where(temperature <= 0.0, greedy, drawn)


# --------------------------------------------------------------------------- generate


def generate_loop(encode_fn, step_fn, window, temperature, seed, heads, prep):
    """The sampling loop (``tf.while_loop``); returns the ``generate`` outputs (ids, not names).

    ``encode_fn`` / ``step_fn``: :meth:`ModelSteps.encode` / :meth:`ModelSteps.step` as
    TensorFlow-callable functions (ExportArchive endpoints).
    """
    from actiongen_keras.export.model_steps import BEHAVIOUR_INPUTS, ENCODER_INPUTS

    c = prep.data_config
    A = int(c.max_actions)
    A1 = A + 1
    target_ms = float(c.target_ms)
    B = tf.shape(window["hist_type"])[0]
    temperature = tf.cast(temperature, tf.float32)
    keys = row_keys(seed)
    valid = tf.not_equal(window["hist_type"], F.PAD)
    last_tb = tf.reduce_min(tf.where(valid, window["hist_t_before"], np.float32(np.inf)), axis=-1)
    last_tb = tf.where(tf.reduce_any(valid, axis=-1), last_tb, 0.0)
    ctx = encode_fn({k: window[k] for k in ENCODER_INPUTS})
    beh = {k: window[k] for k in BEHAVIOUR_INPUTS}
    dec0 = decoder_bos(window, A1)
    zf = tf.zeros([B, A], tf.float32)
    zi = tf.zeros([B, A], tf.int32)
    out0 = {"event_type_id": zi, "t_ms": zf, "dt_ms": zf, "xy": tf.zeros([B, A, 2], tf.float32), "button_id": zi, "key_id": zi,
            "scroll": tf.zeros([B, A, 2], tf.int32)}
    greedy = temperature <= 0.0
    tcol = tf.maximum(temperature, 1e-6)[:, None]
    event_mask = tf.constant([-1e9] + [0.0] * (F.NUM_EVENT_CLASSES - 1), tf.float32)  # never PAD

    def body(i, dec, out, count, done, t_prev):
        prefix = {k: v[:, : i + 1] for k, v in dec.items()}
        h = step_fn(ctx, beh, prefix, tf.fill([B], i))
        u = lambda slot: uniform(keys, i, slot)
        ev = categorical(h["event_type"] + event_mask, temperature, u(0))
        a = {k: tf.gather(h[k], ev, axis=1, batch_dims=1) for k in ("timing", "xy", "button", "key", "scroll")}
        # timing: quantile of the (temperature-scaled) mixture conditioned on dt >= lb
        sl, cl, loc, sc = split_timing(a["timing"], heads.Mt)
        parts = (tf.where(greedy[:, None], sl, sl / tcol), tf.where(greedy[:, None, None], cl, cl / tcol[..., None]), loc, sc)
        lb = tf.where(tf.equal(i, 0), last_tb, tf.zeros_like(last_tb))
        f_lb = timing_cdf(parts, tf.math.log1p(tf.maximum(lb, 0.0)), heads)
        q = tf.where(greedy, 0.5, u(1))
        dt = timing_quantile(parts, f_lb + q * (1.0 - f_lb), heads)
        dt = tf.maximum(dt, lb)
        t_after = t_prev + dt
        # xy
        logits, mu, sigma = split_xy(a["xy"], heads.M)
        comp = categorical(logits, temperature, u(2))
        onehot = tf.one_hot(comp, heads.M, dtype=tf.float32)[..., None]
        m = tf.reduce_sum(mu * onehot, axis=-2)
        s = tf.reduce_sum(sigma * onehot, axis=-2)
        r = tf.sqrt(-2.0 * tf.math.log(u(3)))
        z = tf.stack([r * tf.cos(2.0 * math.pi * u(4)), r * tf.sin(2.0 * math.pi * u(4))], axis=-1)
        xy = tf.where(greedy[:, None], m, m + s * z)
        xy = tf.clip_by_value(xy, 0.0, 1.0)
        # details, only for the event types that carry them
        is_btn = tf.logical_or(tf.equal(ev, F.PRESS), tf.equal(ev, F.RELEASE))
        is_key = tf.logical_or(tf.equal(ev, F.KEY_DOWN), tf.equal(ev, F.KEY_UP))
        is_scroll = tf.equal(ev, F.SCROLL)
        button = tf.where(is_btn, categorical(a["button"], temperature, u(5)), 0)
        key = tf.where(is_key, categorical(a["key"], temperature, u(6)), 0)
        sc_cls = categorical(a["scroll"], temperature[:, None] * tf.ones([1, 2]), tf.stack([u(7), u(8)], axis=-1))
        sc_cls = tf.where(is_scroll[:, None], sc_cls, F.SCROLL_CLIP)
        emit = tf.logical_and(tf.logical_not(done), tf.logical_and(tf.not_equal(ev, F.EOS), t_after < target_ms))
        emit_f = tf.cast(emit, tf.float32)
        emit_i = tf.cast(emit, tf.int32)
        col = tf.one_hot(i, A, dtype=tf.float32)[None, :] * emit_f[:, None]  # [B, A]
        coli = tf.cast(col, tf.int32)
        nxt = tf.one_hot(i + 1, A1, dtype=tf.float32)[None, :] * emit_f[:, None]  # [B, A1]
        nxti = tf.cast(nxt, tf.int32)
        out = {
            "event_type_id": out["event_type_id"] + coli * ev[:, None],
            "t_ms": out["t_ms"] + col * t_after[:, None],
            "dt_ms": out["dt_ms"] + col * dt[:, None],
            "xy": out["xy"] + col[..., None] * xy[:, None, :],
            "button_id": out["button_id"] + coli * button[:, None],
            "key_id": out["key_id"] + coli * key[:, None],
            "scroll": out["scroll"] + coli[..., None] * (sc_cls - F.SCROLL_CLIP)[:, None, :],
        }
        dec = {
            "dec_type": dec["dec_type"] + nxti * ev[:, None],
            "dec_button": dec["dec_button"] + nxti * button[:, None],
            "dec_key": dec["dec_key"] + nxti * key[:, None],
            "dec_scroll": dec["dec_scroll"] + nxti[..., None] * sc_cls[:, None, :],
            "dec_dt": dec["dec_dt"] + nxt * dt[:, None],
            "dec_t_after": dec["dec_t_after"] + nxt * t_after[:, None],
            "dec_xy": dec["dec_xy"] + nxt[..., None] * xy[:, None, :],
        }
        t_prev = tf.where(emit, t_after, t_prev)
        return i + 1, dec, out, count + emit_i, tf.logical_or(done, tf.logical_not(emit)), t_prev

    def cond(i, dec, out, count, done, t_prev):
        return tf.logical_not(tf.reduce_all(done))

    loop_vars = (tf.constant(0), dec0, out0, tf.zeros([B], tf.int32), tf.zeros([B], tf.bool), -last_tb)
    _, _, out, count, _, _ = tf.while_loop(cond, body, loop_vars, maximum_iterations=A)
    out["count"] = count
    return out


def name_generated(out, window, prep):
    """Add names (strings) and pixels to :func:`generate_loop`'s outputs."""
    ev_names = tf.constant(list(EVENT_NAMES))
    btn_names = tf.constant([""] + list(F.BUTTONS[1:]))
    key_names = tf.constant(["", "<unk>"] + prep.key_vocab.to_list())
    A = out["t_ms"].shape[1]
    live = tf.sequence_mask(out["count"], A)
    res = {
        "count": out["count"],
        "event_type": tf.where(live, tf.gather(ev_names, out["event_type_id"]), ""),
        "event_type_id": out["event_type_id"],
        "t_ms": out["t_ms"],
        "dt_ms": out["dt_ms"],
        "xy_px": out["xy"] * window["screen"][:, None, :] * tf.cast(live, tf.float32)[..., None],
        "button": tf.gather(btn_names, out["button_id"]),
        "button_id": out["button_id"],
        "key": tf.gather(key_names, out["key_id"]),
        "key_id": out["key_id"],
        "scroll": out["scroll"],
    }
    return res
