"""The exported graph: raw inputs -> in-graph encoding -> model -> next-event heads / sampling loop.

Everything here is plain TensorFlow (``tf.*``), never ``keras.ops``: the model forward pass
is the only backend-specific piece (a ``tf.function`` from
:class:`keras.export.ExportArchive`, jax2tf-converted on the JAX backend), so the same
encoding and sampling code serves the TensorFlow and the JAX exports.

Raw inputs (batch ``B`` dynamic; ``H'`` history length, dynamic: the graph keeps the last
``max_history_events`` and left-pads shorter histories; ``K``, ``S``, ``C`` fixed by the
run's preprocessing) are described by :func:`raw_input_spec`. The encoding follows
``actiongen_keras.data.windows`` exactly (see ``tests/export``).

Sampling (``generate``): :func:`generate_loop`, one decoder step per emitted event, follows
the rules of :func:`actiongen_keras.generation.sampler.generate_window` exactly; their tables
and numbers (held-button/key masks, first-interval redraws, cursor and scroll rules, the
greedy median grid) are defined once in :mod:`actiongen_keras.generation.rules` and read here:

* event type: argmax of the masked logits at temperature 0, else a draw from
  ``softmax(logits / T)`` over the allowed classes: never PAD; ``release`` only while a
  button is held, ``press`` only while one is up, ``key_up`` only while a known key is
  down, ``key_down`` only while one is up (the held state comes from the history and is
  updated by each generated event); EOS stops the window;
* the attributes are read from the chosen type's rows (type-conditioned heads):
  interval ``dt``: the median (``rules.timing_median_ms``'s grid, float64) at temperature
  0, else a draw (scale and component logits divided by ``T``, then the truncated
  logistic); the first event must not land before T: ``dt`` is redrawn up to
  ``rules.MAX_REDRAWS`` times (sampling), then clamped to land at T (greedy: clamped);
* position: only a move has one of its own (greedy: the mean of the most probable
  component; else a component drawn from ``softmax(logits / T)`` plus a Gaussian draw),
  clipped to the screen; every other event happens at the current cursor;
* button / key: argmax / draw over the ids the type may name (press: a button that is up;
  release: a held one; key_down: a known key (id >= 2) that is up; key_up: a held one);
  scroll: ``dx``, then ``dy`` (not 0 notches when ``dx`` is 0);
* the window ends at EOS, at ``max_actions`` events, or when an event's time reaches
  ``target_ms`` after T (that event is dropped).

The loop can decode over the fixed-length (``A + 1``) decoder input, zero after the events
generated so far (the decoder is causal), so that the whole loop compiles with XLA
(``jit_compile``, see :class:`~actiongen_keras.export.saved_model.ServingModule`).

Random numbers come from a counter-based hash of ``(seed[b], step, slot)`` (stateless, per
row: a row's events do not depend on the other rows of the batch); the sampler uses NumPy's
generator, so sampled windows agree in distribution, greedy windows exactly.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from actiongen_keras.data import features as F
from actiongen_keras.generation import rules
from actiongen_keras.layers.context_aware_generator import (
    XY_SIGMA_FLOOR,
    XY_SIGMA_SHIFT,
)
from actiongen_keras.layers.multi_scale_timing import (
    MIN_LOGISTIC_SCALE,
    NUM_SCALES,
    scale_ranges,
)

EVENT_NAMES = tuple(F.EVENT_TYPES)
HEAD_OUTPUTS = ("event_type_logits", "timing_params", "xy_params", "button_logits", "key_logits", "scroll_logits", "seq_len_logits")
HEAD_OF = dict(zip(HEAD_OUTPUTS, F.TARGET_NAMES))


# --------------------------------------------------------------------------- specs


def raw_input_spec(prep, generate=False):
    """``{name: (shape, dtype)}`` of the raw (client) inputs; ``None`` = dynamic dimension.

    ``state_numeric`` is omitted when the run has no numeric state feature,
    ``state_categorical`` when it has no categorical one. ``state_age_ms`` (ms from the
    last tick's snapshot to T; 0 when the state is current) only exists when the run's
    state declares anchors: their times are counted from T (``features.py``).
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
    if prep.anchors:
        spec["state_age_ms"] = ((None,), "float32")
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


HISTORY_INPUTS = ("hist_type", "hist_button", "hist_key", "hist_scroll", "hist_dt_ms", "hist_t_before_ms", "hist_xy_px")


def check_history_lengths(raw):
    """Assert that every ``hist_*`` input holds the same number of events (each is cut to
    the last H on its own, so different lengths would pair one event's type with another's
    time)."""
    n = tf.shape(raw["hist_type"])[1]
    for name in HISTORY_INPUTS[1:]:
        tf.debugging.assert_equal(tf.shape(raw[name])[1], n,
                                  message=f"{name} must hold as many history events as hist_type (dimension 1)")


def check_temperature(temperature):
    """The one temperature rule of the CLI and the ``generate`` signature: finite and >= 0 (0 = greedy)."""
    temperature = tf.debugging.assert_all_finite(temperature, "temperature contains NaN or Inf")
    tf.debugging.assert_non_negative(temperature, message="temperature must be >= 0 (0 = greedy)")
    return temperature


def encode_raw(raw, prep, tables):
    """Raw request tensors -> the encoded window (``encoded_window_spec`` names).

    Refused (an assertion naming the input): NaN/Inf outside ``state_numeric`` (where NaN
    means missing), ``screen_px`` below ``features.SCREEN_MIN_PX``, unknown event types,
    ``hist_*`` inputs of different lengths. Clipped: positions into the screen, scroll
    notches to +-``SCROLL_CLIP``, standardised state to +-``STATE_Z_CLIP``, anchors to
    +-``ANCHOR_XY_CLIP`` screens and +-``ANCHOR_DT_CLIP_MS`` (as the data pipeline does).
    """
    c = prep.data_config
    H, K = int(c.max_history_events), int(c.history_ticks)
    S, C = prep.num_numeric, prep.num_categorical
    check_history_lengths(raw)
    screen = _finite(tf.cast(raw["screen_px"], tf.float32), "screen_px")
    tf.debugging.assert_greater_equal(screen, F.SCREEN_MIN_PX, message=f"screen_px must be >= {F.SCREEN_MIN_PX:g} (width, height in pixels)")
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
        z = tf.clip_by_value(z, -F.STATE_Z_CLIP, F.STATE_Z_CLIP)
        out["state_numeric"] = tf.cast(z, tf.float32) * mask[..., None]
    else:
        out["state_numeric"] = tf.zeros([B, K, 0], tf.float32)
    if C:
        cols = [tf.cast(tables[f"state_cat_{j}"].lookup(raw["state_categorical"][..., j]), tf.int32) for j in range(C)]
        out["state_categorical"] = tf.stack(cols, axis=-1) * tf.cast(mask[..., None], tf.int32)
    else:
        out["state_categorical"] = tf.zeros([B, K, 0], tf.int32)
    out.update(encode_anchors(raw, prep, screen, mask))
    return out


def encode_anchors(raw, prep, screen, mask):
    """``anchor_xy``, ``anchor_dt``, ``anchor_mask`` from the raw state of the last tick, as
    ``windows.make_windows`` (``Preprocessing.encode_anchors``) makes them."""
    K, P = int(prep.data_config.history_ticks), prep.num_anchors
    B = tf.shape(mask)[0]
    if not prep.anchors:
        return {"anchor_xy": tf.zeros([B, P, 2], tf.float32), "anchor_dt": tf.zeros([B, P], tf.float32),
                "anchor_mask": tf.zeros([B, P], tf.float32)}
    cols = np.array(prep.anchor_columns(), np.int64)
    last = tf.cast(raw["state_numeric"][:, K - 1, :], tf.float64)  # [B, S], NaN = missing
    scr = tf.cast(screen, tf.float64)
    ax = tf.gather(last, cols[:, 0], axis=1) / scr[:, 0:1]
    ay = tf.gather(last, cols[:, 1], axis=1) / scr[:, 1:2]
    present = tf.math.is_finite(ax) & tf.math.is_finite(ay) & (mask[:, K - 1 : K] > 0.5)
    ax = tf.clip_by_value(tf.where(present, ax, 0.0), -F.ANCHOR_XY_CLIP, F.ANCHOR_XY_CLIP)
    ay = tf.clip_by_value(tf.where(present, ay, 0.0), -F.ANCHOR_XY_CLIP, F.ANCHOR_XY_CLIP)
    has_dt = tf.constant(cols[:, 2] >= 0)[None, :]
    dt = tf.gather(last, np.maximum(cols[:, 2], 0), axis=1)
    timed = present & has_dt & tf.math.is_finite(dt)
    dt = tf.clip_by_value(tf.where(timed, dt, 0.0), -F.ANCHOR_DT_CLIP_MS, F.ANCHOR_DT_CLIP_MS)
    dt = tf.cast(tf.cast(dt, tf.float32), tf.float64)
    age = _finite(tf.cast(raw["state_age_ms"], tf.float64), "state_age_ms")[:, None]
    xy = tf.stack([tf.where(present, ax, 0.0), tf.where(present, ay, 0.0)], axis=-1)
    return {
        "anchor_xy": tf.cast(xy, tf.float32),
        "anchor_dt": tf.cast(tf.where(timed, dt - age, 0.0), tf.float32),
        "anchor_mask": tf.cast(present, tf.float32),
    }


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
        r = np.array(scale_ranges(self.boundaries_ms, self.max_ms), np.float64)
        self.lo, self.hi = r[:, 0], r[:, 1]

    @classmethod
    def from_model(cls, model):
        g = model.get_layer("generator")
        return cls(g.num_xy_mixtures, g.num_timing_components, g.timing_boundaries_ms, g.max_timing_ms, g.num_keys)

    def to_dict(self):
        return {"num_xy_mixtures": self.M, "num_timing_components": self.Mt, "boundaries_ms": list(self.boundaries_ms),
                "max_ms": self.max_ms, "num_keys": self.num_keys}


def split_timing(params, heads):
    """Timing mixture ``params [N, P]`` -> float64 ``(scale_logits [N, 3], comp_logits, loc, scale [N, 3, Mt])``."""
    p = tf.cast(params, tf.float64)
    rest = tf.reshape(p[:, NUM_SCALES:], [-1, NUM_SCALES, 3, heads.Mt])
    return p[:, :NUM_SCALES], rest[:, :, 0], rest[:, :, 1], MIN_LOGISTIC_SCALE + tf.math.softplus(rest[:, :, 2])


def _sigmoid64(v):
    return 0.5 * (1.0 + tf.tanh(0.5 * v))  # rules.sigmoid64


def _linspace(lo, hi, n):
    """``numpy.linspace`` per row: ``lo [N]`` .. ``hi [N]`` -> ``[N, n]`` (float64, last point exactly ``hi``)."""
    step = (hi - lo) / float(n - 1)
    y = tf.range(n, dtype=tf.float64)[None, :] * step[:, None] + lo[:, None]
    return tf.concat([y[:, :-1], hi[:, None]], axis=1)


def timing_median_ms(params, heads, q=0.5):
    """Quantile ``q`` (median) in ms (float64 ``[N]``) of the timing mixtures ``params [N, P]``:
    :func:`actiongen_keras.generation.rules.timing_median_ms` (the same grid passes, float64)."""
    sl, cl, loc, sc = split_timing(params, heads)
    ps = tf.nn.softmax(sl, axis=-1)  # [N, 3]
    pc = tf.nn.softmax(cl, axis=-1)  # [N, 3, Mt]
    lo_s = tf.constant(np.asarray(heads.lo, np.float64))[:, None]  # [3, 1]
    hi_s = tf.constant(np.asarray(heads.hi, np.float64))[:, None]
    f_lo, f_hi = _sigmoid64((lo_s - loc) / sc), _sigmoid64((hi_s - loc) / sc)
    denom = tf.maximum(f_hi - f_lo, 1e-12)
    G = rules.MEDIAN_GRID
    n = tf.shape(params)[0]
    q = tf.cast(q, tf.float64) * tf.ones([n], tf.float64)

    def cdf(y):  # [N, G] -> [N, G]
        yc = tf.minimum(tf.maximum(y[:, :, None, None], lo_s), hi_s)  # [N, G, 3, 1]
        f = _sigmoid64((yc - loc[:, None]) / sc[:, None])  # [N, G, 3, Mt]
        within = tf.reduce_sum(pc[:, None] * (f - f_lo[:, None]) / denom[:, None], axis=-1)  # [N, G, 3]
        return tf.reduce_sum(within * ps[:, None, :], axis=-1)

    lo = tf.zeros([n], tf.float64)
    hi = tf.fill([n], tf.constant(math.log1p(heads.max_ms), tf.float64))
    for _ in range(rules.MEDIAN_PASSES):
        y = _linspace(lo, hi, G)
        c = cdf(y)
        j = tf.clip_by_value(tf.reduce_sum(tf.cast(c < q[:, None], tf.int32), axis=-1), 1, G - 1)
        lo = tf.gather(y, j - 1, axis=1, batch_dims=1)
        hi = tf.gather(y, j, axis=1, batch_dims=1)
    c0 = tf.gather(c, j - 1, axis=1, batch_dims=1)
    c1 = tf.gather(c, j, axis=1, batch_dims=1)
    frac = tf.where(c1 <= c0, tf.zeros_like(c0), tf.clip_by_value((q - c0) / tf.where(c1 <= c0, tf.ones_like(c0), c1 - c0), 0.0, 1.0))
    return tf.math.expm1(lo + frac * (hi - lo))


def sample_timing_ms(params, temperature, u, heads):
    """Draws (ms, float64 ``[N, R]``) from the timing mixtures ``params [N, P]`` as
    ``multi_scale_timing.sample_timing_ms`` does: a scale from ``softmax(scale_logits / T)``,
    a component from ``softmax(comp_logits / T)``, then the truncated logistic by inverse CDF.
    ``u [N, R, 3]`` uniforms (float64), ``temperature [N]`` (> 0)."""
    sl, cl, loc, sc = split_timing(params, heads)
    t = tf.cast(temperature, tf.float64)
    ps = tf.nn.softmax(sl / t[:, None], axis=-1)
    s = tf.minimum(tf.reduce_sum(tf.cast(u[..., 0:1] > tf.cumsum(ps, axis=-1)[:, None, :], tf.int32), -1), NUM_SCALES - 1)  # [N, R]
    pc = tf.nn.softmax(cl / t[:, None, None], axis=-1)  # [N, 3, Mt]
    pick = lambda x: tf.gather(x, s, axis=1, batch_dims=1)  # [N, 3, ...] -> [N, R, ...]
    c = tf.minimum(tf.reduce_sum(tf.cast(u[..., 1:2] > tf.cumsum(pick(pc), axis=-1), tf.int32), -1), heads.Mt - 1)  # [N, R]
    at_c = lambda x: tf.gather(pick(x), c, axis=2, batch_dims=2)  # [N, R]
    loc_c, sc_c = at_c(loc), at_c(sc)
    lo = tf.gather(tf.constant(np.asarray(heads.lo, np.float64)), s)
    hi = tf.gather(tf.constant(np.asarray(heads.hi, np.float64)), s)
    f_lo, f_hi = tf.sigmoid((lo - loc_c) / sc_c), tf.sigmoid((hi - loc_c) / sc_c)
    v = tf.clip_by_value(f_lo + u[..., 2] * (f_hi - f_lo), 1e-12, 1.0 - 1e-12)
    return tf.math.expm1(tf.clip_by_value(loc_c + sc_c * tf.math.log(v / (1.0 - v)), lo, hi))


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
    B = tf.shape(h["timing"])[0]
    nt = h["timing"].shape[1]
    med = timing_median_ms(tf.reshape(h["timing"], [B * nt, -1]), heads)
    res["timing_median_ms"] = tf.cast(tf.reshape(med, [B, nt]), tf.float32)
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


SLOTS = 64  # random numbers per row and decoder step


def uniforms(keys, step, n):
    """U(0, 1) ``[B, n]`` (float64, never 0 or 1) for row keys ``[B]``, decoder step and slots ``0..n-1``."""
    assert n <= SLOTS
    slot = tf.range(n, dtype=tf.int64)
    c = _mix32(tf.bitwise.bitwise_and(tf.cast(step, tf.int64) * SLOTS + slot + 0x7F4A7C15, _M32))  # [n]
    h = _mix32(tf.bitwise.bitwise_xor(keys[:, None], c[None, :]))
    return tf.clip_by_value((tf.cast(h, tf.float64) + 0.5) / 4294967296.0, 1e-9, 1.0 - 1e-9)


def categorical(logits, temperature, u, allowed=None):
    """Class ids ``[N]``: argmax of the allowed logits where ``temperature <= 0``, else an
    inverse-CDF draw (uniform ``u [N]``) from ``softmax(logits / T)`` over the allowed
    classes (``sampler.sample_categorical``). A row with no allowed class ignores the mask."""
    n = logits.shape[-1]
    z = tf.cast(logits, tf.float64)
    if allowed is not None:
        allowed = tf.logical_or(allowed, tf.logical_not(tf.reduce_any(allowed, axis=-1, keepdims=True)))
        z = tf.where(allowed, z, tf.constant(-np.inf, tf.float64))
    greedy = tf.cast(tf.argmax(z, axis=-1), tf.int32)
    t = tf.cast(tf.maximum(temperature, 1e-6), tf.float64)
    p = tf.nn.softmax(z / t[:, None], axis=-1)
    cum = tf.cumsum(p, axis=-1)
    drawn = tf.minimum(tf.reduce_sum(tf.cast(cum <= u[:, None] * cum[:, -1:], tf.int32), axis=-1), n - 1)
    return tf.where(temperature <= 0.0, greedy, drawn)


# --------------------------------------------------------------------------- held state (rules tables)


def _ids_ok(held, need, min_id):
    """``held [B, n]`` bool, ``need`` / ``min_id`` ``[B, C]`` -> ``[B, C, n]``: ids the type may name (``rules.id_mask``)."""
    n = held.shape[-1]
    ids = tf.range(n, dtype=tf.int32)
    return tf.logical_and(ids[None, None, :] >= min_id[..., None], tf.equal(held[:, None, :], tf.equal(need, 1)[..., None]))


def type_mask(held_b, held_k):
    """Event classes that may be sampled ``[B, NUM_EVENT_CLASSES]`` (``rules.type_mask``)."""
    B = tf.shape(held_b)[0]
    tab = lambda a: tf.tile(tf.constant(a)[None, :], [B, 1])
    ok = tf.constant(rules.TYPE_ALLOWED)[None, :]
    for held, need, min_id in ((held_b, rules.BUTTON_NEED, rules.BUTTON_MIN), (held_k, rules.KEY_NEED, rules.KEY_MIN)):
        any_ok = tf.reduce_any(_ids_ok(held, tab(need), tab(min_id)), axis=-1)
        ok = tf.logical_and(ok, tf.logical_or(any_ok, tf.constant(need < 0)[None, :]))
    return ok


def id_mask(held, ev, need_table, min_table):
    """Ids the chosen types ``ev [B]`` may name: ``[B, n]`` (``rules.id_mask``)."""
    need = tf.gather(tf.constant(need_table), ev)[:, None]
    min_id = tf.gather(tf.constant(min_table), ev)[:, None]
    return _ids_ok(held, need, min_id)[:, 0]


def _class_table(table, ev):
    """``table [NUM_EVENT_CLASSES]`` at ``ev`` (any int tensor; ids outside the classes -> the PAD entry)."""
    ev = tf.where(tf.logical_and(ev >= 0, ev < F.NUM_EVENT_CLASSES), ev, tf.zeros_like(ev))
    return tf.gather(tf.constant(table), ev)


def held_from_history(types, ids, n, names_table):
    """Held state after replaying the history (``types``/``ids`` ``[B, H]``, time order):
    ``[B, n]`` bool, an id is held when the last event naming it set it (``rules.HELD_AFTER``)."""
    H = types.shape[1]
    pos = tf.range(1, H + 1, dtype=tf.int32)[None, :, None]
    names = tf.logical_and(_class_table(names_table, types), tf.not_equal(types, F.PAD))
    touch = tf.logical_and(tf.equal(ids[..., None], tf.range(n, dtype=tf.int32)), names[..., None])  # [B, H, n]
    after = _class_table(rules.HELD_AFTER, types)[..., None]
    last_set = tf.reduce_max(tf.where(tf.logical_and(touch, tf.equal(after, 1)), pos, 0), axis=1)
    last_clear = tf.reduce_max(tf.where(tf.logical_and(touch, tf.equal(after, 0)), pos, 0), axis=1)
    return last_set > last_clear


def update_held(held, ev, ident, emit, names_table):
    """Held state after the events ``ev [B]`` naming ``ident [B]`` (where ``emit``)."""
    n = held.shape[-1]
    touch = tf.logical_and(tf.equal(ident[:, None], tf.range(n, dtype=tf.int32)[None, :]),
                           tf.logical_and(emit, _class_table(names_table, ev))[:, None])
    return tf.where(touch, tf.equal(_class_table(rules.HELD_AFTER, ev), 1)[:, None], held)


# --------------------------------------------------------------------------- generate

# random-number slots of one step (uniforms(keys, step, NUM_SLOTS))
_S_TYPE = 0
_S_DT = 1  # (1 + MAX_REDRAWS) draws x 3 uniforms
_S_XY = _S_DT + 3 * (1 + rules.MAX_REDRAWS)  # component, 2 for Box-Muller
_S_BUTTON = _S_XY + 3
_S_KEY = _S_BUTTON + 1
_S_SCROLL = _S_KEY + 1  # dx, dy
NUM_SLOTS = _S_SCROLL + 2
assert NUM_SLOTS <= SLOTS

def generate_loop(encode_fn, step_fn, window, temperature, seed, heads, prep, fixed_prefix=True, held=None, last_t_rel=None,
                  with_stop=False):
    """The sampling loop (``tf.while_loop``); returns the ``generate`` outputs (ids, not names).

    Follows ``generation.sampler.generate_window`` (module doc; rules in
    :mod:`actiongen_keras.generation.rules`). ``encode_fn`` / ``step_fn``: :meth:`ModelSteps.encode`
    / :meth:`ModelSteps.step` as TensorFlow-callable functions (ExportArchive endpoints).
    ``fixed_prefix``: every step decodes the whole ``A + 1`` decoder input (static shapes, for
    XLA); else the prefix ``[:, :i + 1]`` (dynamic shapes, cheaper without XLA). Both give the
    same heads (the decoder is causal).

    In-memory callers (``generation.rollout``; the export leaves them at their defaults):
    ``held``: ``(buttons [B, NUM_BUTTONS], keys [B, num_keys])`` bool, the held state at T
    (default: from the window's history); ``last_t_rel``: ``[B]`` time of the previous event
    relative to T, <= 0 (default: the last history event, 0 without one); ``with_stop``: also
    return ``stop [B]`` int32, how each window ended (0 max_actions, 1 EOS, 2 time).
    """
    from actiongen_keras.models.steps import BEHAVIOUR_INPUTS, ENCODER_INPUTS

    c = prep.data_config
    A = int(c.max_actions)
    A1 = A + 1
    target_ms = float(c.target_ms)
    NK = heads.num_keys
    B = tf.shape(window["hist_type"])[0]
    temperature = tf.cast(temperature, tf.float32)
    greedy = temperature <= 0.0
    any_greedy, all_greedy = tf.reduce_any(greedy), tf.reduce_all(greedy)
    tpos = tf.maximum(temperature, 1e-6)
    keys = row_keys(seed)
    ht = tf.cast(window["hist_type"], tf.int32)
    valid = tf.not_equal(ht, F.PAD)
    last_tb = tf.reduce_min(tf.where(valid, tf.cast(window["hist_t_before"], tf.float64), np.inf), axis=-1)
    last_tb = tf.where(tf.reduce_any(valid, axis=-1), last_tb, 0.0)
    if last_t_rel is not None:
        last_tb = -tf.cast(last_t_rel, tf.float64)
    if held is None:
        held_b0 = held_from_history(ht, tf.cast(window["hist_button"], tf.int32), F.NUM_BUTTONS, rules.NAMES_BUTTON)
        held_k0 = held_from_history(ht, tf.cast(window["hist_key"], tf.int32), NK, rules.NAMES_KEY)
    else:
        held_b0 = tf.ensure_shape(tf.cast(held[0], tf.bool), [None, F.NUM_BUTTONS])
        held_k0 = tf.ensure_shape(tf.cast(held[1], tf.bool), [None, NK])
    ctx = encode_fn({k: window[k] for k in ENCODER_INPUTS})
    beh = {k: window[k] for k in BEHAVIOUR_INPUTS}
    dec0 = decoder_bos(window, A1)
    zf = tf.zeros([B, A], tf.float32)
    zi = tf.zeros([B, A], tf.int32)
    out0 = {"event_type_id": zi, "t_ms": zf, "dt_ms": zf, "xy": tf.zeros([B, A, 2], tf.float32), "button_id": zi, "key_id": zi,
            "scroll": tf.zeros([B, A, 2], tf.int32)}
    if with_stop:
        out0["stop"] = tf.zeros([B], tf.int32)
    moves_cursor = tf.constant(rules.MOVES_CURSOR)
    names_button, names_key = tf.constant(rules.NAMES_BUTTON), tf.constant(rules.NAMES_KEY)
    nr = 1 + rules.MAX_REDRAWS

    def body(i, dec, out, count, done, t_prev, cursor, held_b, held_k):
        prefix = dec if fixed_prefix else {k: v[:, : i + 1] for k, v in dec.items()}
        h = step_fn(ctx, beh, prefix, tf.fill([B], i))
        u = uniforms(keys, i, NUM_SLOTS)
        ev = categorical(h["event_type"], temperature, u[:, _S_TYPE], type_mask(held_b, held_k))
        a = {k: tf.gather(h[k], ev, axis=1, batch_dims=1) for k in ("timing", "xy", "button", "key", "scroll")}
        # interval: median (greedy) or a draw; the first event not before T (redraws, then clamp)
        need = -t_prev
        dt_med = tf.cond(any_greedy, lambda: timing_median_ms(a["timing"], heads), lambda: tf.zeros([B], tf.float64))
        cand = tf.cond(all_greedy, lambda: tf.zeros([B, nr], tf.float64),
                       lambda: sample_timing_ms(a["timing"], tpos, tf.reshape(u[:, _S_DT:_S_XY], [B, nr, 3]), heads))
        redraw = cand[:, 1:] >= need[:, None]
        first_ok = tf.gather(cand[:, 1:], tf.cast(tf.argmax(tf.cast(redraw, tf.int32), axis=-1), tf.int32), axis=1, batch_dims=1)
        redrawn = tf.where(tf.reduce_any(redraw, axis=-1), first_ok, need)
        early = lambda d: t_prev + d < 0.0
        dt = tf.where(greedy, tf.where(early(dt_med), need, dt_med), tf.where(early(cand[:, 0]), redrawn, cand[:, 0]))
        t_after = t_prev + dt
        # position: moves only; other events at the cursor
        logits, mu, sigma = split_xy(a["xy"], heads.M)
        comp = categorical(logits, temperature, u[:, _S_XY])
        onehot = tf.one_hot(comp, heads.M, dtype=tf.float32)[..., None]
        m = tf.reduce_sum(mu * onehot, axis=-2)
        s = tf.reduce_sum(sigma * onehot, axis=-2)
        r = tf.sqrt(-2.0 * tf.math.log(u[:, _S_XY + 1]))
        ang = 2.0 * math.pi * u[:, _S_XY + 2]
        z = tf.cast(tf.stack([r * tf.cos(ang), r * tf.sin(ang)], axis=-1), tf.float32)
        xy = tf.clip_by_value(tf.where(greedy[:, None], m, m + s * z), 0.0, 1.0)
        xy = tf.where(tf.gather(moves_cursor, ev)[:, None], xy, cursor)
        # button / key / scroll, only for the types that name them, within the held-state masks
        is_btn, is_key, is_scroll = tf.gather(names_button, ev), tf.gather(names_key, ev), tf.equal(ev, F.SCROLL)
        button = categorical(a["button"], temperature, u[:, _S_BUTTON], id_mask(held_b, ev, rules.BUTTON_NEED, rules.BUTTON_MIN))
        button = tf.where(is_btn, button, 0)
        key = categorical(a["key"], temperature, u[:, _S_KEY], id_mask(held_k, ev, rules.KEY_NEED, rules.KEY_MIN))
        key = tf.where(is_key, key, 0)
        dx = categorical(a["scroll"][:, 0], temperature, u[:, _S_SCROLL])
        dy_ok = tf.logical_or(tf.not_equal(tf.range(F.NUM_SCROLL_CLASSES)[None, :], rules.SCROLL_STILL),
                              tf.not_equal(dx, rules.SCROLL_STILL)[:, None])
        dy = categorical(a["scroll"][:, 1], temperature, u[:, _S_SCROLL + 1], dy_ok)
        sc_cls = tf.where(is_scroll[:, None], tf.stack([dx, dy], axis=-1), rules.SCROLL_STILL)
        emit = tf.logical_and(tf.logical_not(done), tf.logical_and(tf.not_equal(ev, F.EOS), t_after < target_ms))
        emit_f = tf.cast(emit, tf.float32)
        emit_i = tf.cast(emit, tf.int32)
        col = tf.one_hot(i, A, dtype=tf.float32)[None, :] * emit_f[:, None]  # [B, A]
        coli = tf.cast(col, tf.int32)
        nxt = tf.one_hot(i + 1, A1, dtype=tf.float32)[None, :] * emit_f[:, None]  # [B, A1]
        nxti = tf.cast(nxt, tf.int32)
        dt32, t32 = tf.cast(dt, tf.float32), tf.cast(t_after, tf.float32)
        out = {
            "event_type_id": out["event_type_id"] + coli * ev[:, None],
            "t_ms": out["t_ms"] + col * t32[:, None],
            "dt_ms": out["dt_ms"] + col * dt32[:, None],
            "xy": out["xy"] + col[..., None] * xy[:, None, :],
            "button_id": out["button_id"] + coli * button[:, None],
            "key_id": out["key_id"] + coli * key[:, None],
            "scroll": out["scroll"] + coli[..., None] * (sc_cls - F.SCROLL_CLIP)[:, None, :],
            **({"stop": tf.where(tf.logical_and(tf.logical_not(done), tf.logical_not(emit)),
                                 tf.where(tf.equal(ev, F.EOS), 1, 2), out["stop"])} if with_stop else {}),
        }
        dec = {
            "dec_type": dec["dec_type"] + nxti * ev[:, None],
            "dec_button": dec["dec_button"] + nxti * button[:, None],
            "dec_key": dec["dec_key"] + nxti * key[:, None],
            "dec_scroll": dec["dec_scroll"] + nxti[..., None] * sc_cls[:, None, :],
            "dec_dt": dec["dec_dt"] + nxt * dt32[:, None],
            "dec_t_after": dec["dec_t_after"] + nxt * t32[:, None],
            "dec_xy": dec["dec_xy"] + nxt[..., None] * xy[:, None, :],
        }
        held_b = update_held(held_b, ev, button, emit, rules.NAMES_BUTTON)
        held_k = update_held(held_k, ev, key, emit, rules.NAMES_KEY)
        t_prev = tf.where(emit, t_after, t_prev)
        cursor = tf.where(emit[:, None], xy, cursor)
        return i + 1, dec, out, count + emit_i, tf.logical_or(done, tf.logical_not(emit)), t_prev, cursor, held_b, held_k

    def cond(i, dec, out, count, done, *_):
        return tf.logical_not(tf.reduce_all(done))

    loop_vars = (tf.constant(0), dec0, out0, tf.zeros([B], tf.int32), tf.zeros([B], tf.bool), -last_tb,
                 tf.cast(window["bos_xy"], tf.float32), held_b0, held_k0)
    _, _, out, count, *_ = tf.while_loop(cond, body, loop_vars, maximum_iterations=A)
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
