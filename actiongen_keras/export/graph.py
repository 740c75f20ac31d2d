"""The exported graph around the model: raw inputs -> in-graph encoding -> model steps -> named outputs.

Everything here is plain TensorFlow (``tf.*``): the string tables, the encoding of a raw
request (pixels, milliseconds, key names) into the model's window, and the naming of the
generated events. The model's own computation, including the whole sampling loop
(:func:`actiongen_keras.generation.sampler.sample_window`, the one loop every caller uses),
comes in as backend functions (``tf.function`` on TensorFlow, jax2tf-converted on JAX) from
:class:`~actiongen_keras.export.saved_model.ServingModule`; nothing here samples.

Raw inputs (batch ``B`` dynamic; ``H'`` history length, dynamic: the graph keeps the last
``max_history_events`` and left-pads shorter histories; ``K``, ``S``, ``C`` fixed by the
run's preprocessing) are described by :func:`raw_input_spec`. The encoding follows
``actiongen_keras.data.windows`` exactly (see ``tests/export``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from actiongen_keras.data import features as F

EVENT_NAMES = tuple(F.EVENT_TYPES)
HEAD_OUTPUTS = ("event_type_logits", "timing_params", "xy_params", "button_logits", "key_logits", "scroll_logits", "dwell_params",
                "seq_len_logits")
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
        "hist_scroll": ((None, None, 2), "float32"),
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
        spec["recorder"] = ((None, 5), "float32")
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


def check_recorder(recorder):
    """The ``generate`` signature's recorder input ``[B, 5]`` (the sampling loop's ``clock``:
    period, phase relative to T, resolution, others-on-ticks, pixel grid; zeros = off, see
    ``generation.clock.recorder_input``): finite, and period, resolution and grid >= 0."""
    recorder = tf.debugging.assert_all_finite(recorder, "recorder contains NaN or Inf")
    tf.debugging.assert_non_negative(tf.gather(recorder, [0, 2, 4], axis=1),
                                     message="recorder: period, resolution and pixel grid must be >= 0 (0 = off)")
    return recorder


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
    scroll = tf.raw_ops.Bucketize(input=_fit_history(_finite(raw["hist_scroll"], "hist_scroll"), H, 0.0), boundaries=list(F.SCROLL_EDGES))
    scroll = tf.where((tf.equal(type_id, F.SCROLL))[..., None], scroll, F.SCROLL_ZERO)  # features.scroll_class in the graph
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


def head_sizes(model):
    """The sizes of the model's heads (written to the export's metadata for clients)."""
    g = model.get_layer("generator")
    return {"num_xy_mixtures": int(g.num_xy_mixtures), "num_timing_components": int(g.num_timing_components),
            "boundaries_ms": [float(b) for b in g.timing_boundaries_ms], "max_ms": float(g.max_timing_ms), "num_keys": int(g.num_keys),
            "xy_frame": g.xy_frame}


def next_event_outputs(h, window):
    """``serving_default`` outputs from :meth:`ModelSteps.next_event_points`'s heads: every head
    under its output name, plus ``event_type_probs``, ``timing_median_ms`` and ``xy_point_px``."""
    res = {out: h[head] for out, head in HEAD_OF.items()}
    res["event_type_probs"] = tf.nn.softmax(h["event_type"], axis=-1)
    res["timing_median_ms"] = tf.cast(h["timing_median_ms"], tf.float32)
    res["xy_point_px"] = tf.cast(h["xy_point"], tf.float32) * window["screen"][:, None, :]
    return res


def seed32(seed):
    """The int64 ``seed`` input folded into the int32 the sampling loop takes (low word xor high word)."""
    seed = tf.cast(seed, tf.int64)
    folded = tf.bitwise.bitwise_xor(tf.bitwise.bitwise_and(seed, 0xFFFFFFFF), tf.bitwise.bitwise_and(tf.bitwise.right_shift(seed, 32), 0xFFFFFFFF))
    return tf.cast(tf.bitwise.bitwise_xor(folded, 0x80000000) - 0x80000000, tf.int32)  # the same 32 bits as a signed int32


NOTCHES = np.asarray(F.scroll_notches(np.arange(F.NUM_SCROLL_CLASSES)), np.float32)
"""Scroll class id -> notches (``features.scroll_notches`` as a table)."""


def name_generated(out, window, prep):
    """Add names (strings), pixels and scroll notches to :func:`~actiongen_keras.generation.sampler.sample_window`'s outputs."""
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
        "scroll": tf.where(live[..., None], tf.gather(NOTCHES, out["scroll"]), 0.0),
    }
    return res
