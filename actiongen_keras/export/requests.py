"""Client side of the exported signatures: raw windows from sessions, REST JSON, gRPC PredictRequest.

* :func:`raw_window`: one window of a session at boundary ``T`` as the raw inputs the
  SavedModel takes (events thinned and selected exactly as ``data/windows.py`` does; key
  names, button names and event types as strings, pixels, milliseconds, raw state values).
* :func:`rest_body` / :func:`from_rest_body`: TF Serving's REST ``predict`` JSON, row
  (``"instances"``) or columnar (``"inputs"``) format, and back to typed arrays the way
  the model server parses it (the signature's dtype decides).
* :func:`predict_request` / :func:`from_predict_request`: the gRPC ``PredictRequest``
  (``tensorflow-serving-api``).
* :func:`check_inputs` / :func:`call_signature`: validation with one clear
  :class:`~actiongen_keras.errors.ActiongenError` per problem (missing or unknown names,
  shapes, dtypes, NaN), then the call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from actiongen_keras.data.features import SCREEN_MIN_PX
from actiongen_keras.data.normalize import Preprocessing
from actiongen_keras.data.windows import history_ms, thin_moves
from actiongen_keras.errors import ActiongenError
from actiongen_keras.generation.clock import recorder_input, recorder_of
from actiongen_keras.recordings.session import read_session

NAN_OK = {"state_numeric"}  # NaN there means "value missing" (the data pipeline's convention)
DEFAULTS = {"temperature": 0.0, "seed": 0}


def _np_dtype(dtype):
    return {"string": object, "float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64}[dtype]


# --------------------------------------------------------------------------- windows


def parse_window_arg(text):
    """``SESSION_DIR@T_MS`` -> ``(folder, T)``."""
    if "@" not in text:
        raise ActiongenError(f"--window must be SESSION_DIR@T_MS, got {text!r}")
    folder, t = text.rsplit("@", 1)
    try:
        T = float(t)
    except ValueError:
        raise ActiongenError(f"--window: T_MS must be a number of milliseconds, got {t!r}") from None
    if not np.isfinite(T):
        raise ActiongenError(f"--window: T_MS must be a finite number of milliseconds, got {t!r}")
    if not Path(folder).is_dir():
        raise ActiongenError(f"--window: {folder}: no such session folder")
    return folder, T


def raw_window(session, prep, T, generate=False, temperature=0.0, seed=0):
    """The raw inputs (batch 1, history padded to ``max_history_events``) of ``session`` at ``T`` ms."""
    c = prep.data_config
    H, K = int(c.max_history_events), int(c.history_ticks)
    ev, _ = thin_moves(session.events, c.min_move_interval_ms)
    t = np.asarray(ev.t_ms, dtype=np.float64)
    T = float(T)
    hi = int(np.searchsorted(t, T, side="left"))
    lo = int(np.searchsorted(t, T - history_ms(c), side="left"))
    lo = max(lo, hi - H)
    n = hi - lo
    dt = np.zeros(len(t), np.float64)
    if len(t) > 1:
        dt[1:] = np.diff(t)
    sel = slice(lo, hi)
    typ = np.asarray(ev.type, dtype=object).astype(str)[sel]
    is_btn = np.isin(typ, ("press", "release"))
    is_key = np.isin(typ, ("key_down", "key_up"))
    is_scr = typ == "scroll"

    def pad(a, fill, dtype):
        a = np.asarray(a)
        out = np.full((H,) + a.shape[1:], fill, dtype=dtype)
        if n:
            out[H - n:] = a
        return out[None]

    def strs(a, keep):
        a = np.asarray(a, dtype=object)[sel]
        return np.array(["" if (not k or v is None) else str(v) for v, k in zip(a, keep)], dtype=object)

    xy = np.stack([np.nan_to_num(np.asarray(ev.x, np.float64)[sel]), np.nan_to_num(np.asarray(ev.y, np.float64)[sel])], -1).reshape(-1, 2)
    scroll = np.stack([np.asarray(ev.scroll_dx)[sel], np.asarray(ev.scroll_dy)[sel]], -1).reshape(-1, 2) * is_scr[:, None]
    if hi > 0:
        last = hi - 1
        cursor = np.nan_to_num(np.array([ev.x[last], ev.y[last]], np.float64))
    else:
        cursor = np.zeros(2)
    raw = {
        "hist_type": pad(typ, "", object),
        "hist_button": pad(strs(ev.button, is_btn), "", object),
        "hist_key": pad(strs(ev.key, is_key), "", object),
        "hist_scroll": pad(scroll.astype(np.float32), 0.0, np.float32),
        "hist_dt_ms": pad(dt[sel].astype(np.float32), 0.0, np.float32),
        "hist_t_before_ms": pad((T - t[sel]).astype(np.float32), 0.0, np.float32),
        "hist_xy_px": pad(xy.astype(np.float32), 0.0, np.float32),
        "cursor_xy_px": cursor.astype(np.float32)[None],
        "screen_px": np.asarray(session.screen[:2], np.float32)[None],
    }
    # state at the K ticks T - (K-1-k) * tick: last snapshot at or before each tick
    S, C = prep.num_numeric, prep.num_categorical
    num = np.full((K, S), np.nan, np.float64)
    cat = np.full((K, C), "", dtype=object)
    mask = np.zeros(K, np.float32)
    age = 0.0
    st = session.state
    if st is not None and len(st):
        ticks = T - (K - 1 - np.arange(K)) * float(c.tick_ms)
        j = np.searchsorted(np.asarray(st.t_ms, np.float64), ticks + 1e-6, side="right") - 1
        ok = j >= 0
        mask = ok.astype(np.float32)
        if ok[-1]:
            age = T - float(np.asarray(st.t_ms, np.float64)[j[-1]])
        have = {col["name"] for col in (session.state_columns or [])}
        for i, col in enumerate(prep.numeric_columns):
            if col["name"] in have:
                v = np.asarray(st.columns[col["name"]], dtype=np.float64)
                num[ok, i] = v[j[ok]]
        for i, col in enumerate(prep.categorical_columns):
            if col["name"] in have:
                v = np.asarray(st.columns[col["name"]], dtype=object)
                cat[ok, i] = ["" if x is None else str(x) for x in v[j[ok]]]
    raw["state_mask"] = mask[None]
    if S:
        raw["state_numeric"] = num[None]
    if C:
        raw["state_categorical"] = cat[None]
    if prep.anchors:
        raw["state_age_ms"] = np.array([age], np.float32)
    if generate:
        raw["temperature"] = np.array([temperature], np.float32)
        raw["seed"] = np.array([seed], np.int64)
        # the recorder of the session's events before T, as a rollout reads it (generation.clock)
        rec = recorder_of(session.events, T)
        raw["recorder"] = np.array([recorder_input(rec.clock, rec.grid, T)], np.float32)
    return raw


def stack_windows(windows):
    """Concatenate batch-1 raw windows along the batch axis."""
    return {k: np.concatenate([w[k] for w in windows]) for k in windows[0]}


def encoded_window(inputs):
    """Model inputs (``windows_from_sessions``) -> the ``next_event_encoded`` / TFLite inputs."""
    out = {k: np.asarray(v) for k, v in inputs.items() if not k.startswith("dec_")}
    out["bos_xy"] = np.asarray(inputs["dec_xy"])[:, 0].astype(np.float32)
    return out


# --------------------------------------------------------------------------- validation


def check_inputs(inputs, spec, signature="serving_default"):
    """Typed arrays per ``spec`` (``{name: (shape, dtype)}``), or an ActiongenError naming the problem."""
    if not isinstance(inputs, dict):
        raise ActiongenError(f"{signature}: inputs must be a dict of named tensors, got {type(inputs).__name__}")
    missing = [k for k in spec if k not in inputs]
    unknown = [k for k in inputs if k not in spec]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing input(s) {missing}")
        if unknown:
            parts.append(f"unknown input(s) {unknown}")
        raise ActiongenError(f"{signature}: {'; '.join(parts)} (expected {sorted(spec)})")
    out = {}
    batch = None
    hist_len = None
    for name, (shape, dtype) in spec.items():
        v = inputs[name]
        try:
            if dtype == "string":
                a = np.asarray(v, dtype=object)
                if a.size and not all(isinstance(x, (str, bytes)) for x in a.ravel()):
                    raise TypeError("not strings")
            else:
                a0 = np.asarray(v)
                if a0.dtype == object or a0.dtype.kind in "USb":
                    raise TypeError(f"{a0.dtype}")
                if dtype.startswith("int") and a0.dtype.kind == "f" and (not np.all(np.isfinite(a0)) or np.any(a0 != np.round(a0))):
                    raise TypeError("float values for an integer input")
                a = a0.astype(_np_dtype(dtype))
        except (TypeError, ValueError) as e:
            raise ActiongenError(f"{signature}: input '{name}' must be {dtype}, got values that are not ({e})") from None
        if a.ndim != len(shape):
            raise ActiongenError(f"{signature}: input '{name}' must have rank {len(shape)} (shape {_fmt(shape)}), got shape {a.shape}")
        for want, got in zip(shape, a.shape):
            if want is not None and want != got:
                raise ActiongenError(f"{signature}: input '{name}' must have shape {_fmt(shape)}, got {a.shape}")
        if batch is None:
            batch = a.shape[0]
        elif a.shape[0] != batch:
            raise ActiongenError(f"{signature}: input '{name}' has batch size {a.shape[0]}, other inputs {batch}")
        if name.startswith("hist_"):
            if hist_len is None:
                hist_len = a.shape[1]
            elif a.shape[1] != hist_len:
                raise ActiongenError(f"{signature}: input '{name}' has {a.shape[1]} history events, other hist_* inputs {hist_len}")
        if a.dtype.kind == "f" and name not in NAN_OK and not np.all(np.isfinite(a)):
            raise ActiongenError(f"{signature}: input '{name}' contains NaN or Inf")
        if name == "temperature" and np.any(a < 0):  # the graph's rule (graph.check_temperature)
            raise ActiongenError(f"{signature}: temperature must be >= 0 (0 = greedy)")
        if name == "recorder" and np.any(a[:, [0, 2, 4]] < 0):  # the graph's rule (graph.check_recorder)
            raise ActiongenError(f"{signature}: recorder: period, resolution and pixel grid must be >= 0 (0 = off)")
        if name == "screen_px" and np.any(a < SCREEN_MIN_PX):
            raise ActiongenError(f"{signature}: screen_px must be >= {SCREEN_MIN_PX:g} (width, height in pixels)")
        out[name] = a
    return out


def _fmt(shape):
    return "(" + ", ".join("B" if i == 0 and s is None else ("n" if s is None else str(s)) for i, s in enumerate(shape)) + ")"


def signature_spec(meta, signature):
    key = {"serving_default": "raw_inputs", "generate": "generate_inputs", "next_event_encoded": "encoded_inputs"}.get(signature)
    if key is None:
        raise ActiongenError(f"unknown signature {signature!r} (serving_default, generate, next_event_encoded)")
    return {k: (tuple(s), d) for k, (s, d) in meta[key].items()}


def call_signature(loaded, meta, signature, inputs):
    """Validate ``inputs`` and call ``loaded.signatures[signature]``; NumPy outputs."""
    spec = signature_spec(meta, signature)
    arrays = check_inputs(inputs, spec, signature)
    fn = loaded.signatures[signature]
    tensors = {k: tf.constant(v if spec[k][1] != "string" else _utf8(v), dtype=tf.as_dtype(spec[k][1])) for k, v in arrays.items()}
    try:
        out = fn(**tensors)
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as e:
        msg = getattr(e, "message", None) or str(e)
        raise ActiongenError(f"{signature}: the model rejected the request: {_first_line(msg)}") from None
    return {k: _to_numpy(v) for k, v in out.items()}


def _utf8(a):
    """Strings as UTF-8 bytes (NumPy's ``astype(bytes)`` is ASCII-only: a key named 'é' would fail)."""
    a = np.asarray(a, dtype=object)
    return np.vectorize(lambda s: s.encode("utf-8") if isinstance(s, str) else s, otypes=[object])(a) if a.size else a.astype(bytes)


def _first_line(msg):
    """The useful part of a TensorFlow error: the assert's own message when there is one."""
    text = str(msg)
    m = re.search(r"assertion failed: \[(.*?)\s*\]", text)
    if m:
        return m.group(1).replace("\\'", "'")
    for line in text.splitlines():
        line = line.strip()
        if "contains NaN or Inf" in line or "must be" in line:
            return line.split(" : ")[0]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("[[", "Traceback", "Graph execution error", "Detected at node", "<stack")):
            return line
    return text[:300]


def _to_numpy(t):
    a = t.numpy()
    if a.dtype == object:
        a = np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b, otypes=[object])(a) if a.size else a
    return a


# --------------------------------------------------------------------------- REST


def _jsonable(a):
    a = np.asarray(a)
    if a.dtype == object:
        return np.vectorize(lambda s: s.decode() if isinstance(s, bytes) else str(s), otypes=[object])(a).tolist() if a.size else a.tolist()
    return a.tolist()


def rest_body(inputs, signature="serving_default", fmt="instances"):
    """TF Serving REST ``:predict`` body: row format (``instances``) or columnar (``inputs``)."""
    if fmt == "instances":
        B = len(next(iter(inputs.values())))
        rows = [{k: _jsonable(np.asarray(v)[b]) for k, v in inputs.items()} for b in range(B)]
        return {"signature_name": signature, "instances": rows}
    if fmt == "inputs":
        return {"signature_name": signature, "inputs": {k: _jsonable(v) for k, v in inputs.items()}}
    raise ActiongenError(f"REST format must be 'instances' or 'inputs', got {fmt!r}")


def from_rest_body(body, spec):
    """Parse a REST body as TF Serving does: JSON lists -> arrays of the signature's dtypes."""
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except json.JSONDecodeError as e:
            raise ActiongenError(f"REST body is not valid JSON ({e.msg})") from None
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise ActiongenError("REST 'instances' must be a non-empty list of objects (one per window)")
        names = set(rows[0])
        if any(set(r) != names for r in rows):
            raise ActiongenError("REST 'instances': every row must have the same named inputs")
        cols = {k: [r[k] for r in rows] for k in rows[0]}
    elif "inputs" in body:
        cols = body["inputs"]
        if not isinstance(cols, dict):
            raise ActiongenError("REST 'inputs' must be an object of named inputs")
    else:
        raise ActiongenError("REST body needs 'instances' (row format) or 'inputs' (columnar format)")
    out = {}
    for k, v in cols.items():
        if k not in spec:
            out[k] = np.asarray(v)
            continue
        dtype = spec[k][1]
        try:
            out[k] = np.asarray(v, dtype=object) if dtype == "string" else np.asarray(v, dtype=_np_dtype(dtype))
        except (TypeError, ValueError) as e:
            raise ActiongenError(f"REST input '{k}' cannot be read as {dtype} ({e})") from None
    return out


# --------------------------------------------------------------------------- gRPC


def predict_request(inputs, model_name, signature="serving_default", version=None, version_label=None):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for ``inputs``."""
    try:  # tensorflow-serving-api where used: one clear error without it
        from tensorflow_serving.apis import predict_pb2
    except ImportError:
        raise ActiongenError("the gRPC request needs tensorflow-serving-api (pip install tensorflow-serving-api==2.21.0)") from None
    req = predict_pb2.PredictRequest()
    req.model_spec.name = model_name
    req.model_spec.signature_name = signature
    if version is not None:
        req.model_spec.version.value = int(version)
    elif version_label:
        req.model_spec.version_label = version_label
    for k, v in inputs.items():
        a = np.asarray(v)
        if a.dtype == object:
            a = _utf8(a)
        req.inputs[k].CopyFrom(tf.make_tensor_proto(a))
    return req


def from_predict_request(req):
    out = {}
    for k, proto in req.inputs.items():
        a = tf.make_ndarray(proto)
        if a.dtype == object:
            a = np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b, otypes=[object])(a) if a.size else a
        out[k] = a
    return out


def build_request(meta, window_arg, signature="serving_default", fmt="rest", model_name=None, label=None, temperature=0.0, seed=0,
                  rest_format="instances"):
    """``actiongen serve-request``: the REST body (dict) or the gRPC PredictRequest of one window."""
    prep = Preprocessing.from_dict(meta["preprocessing"])
    folder, T = parse_window_arg(window_arg)
    session, _ = read_session(folder, "strict")
    if signature not in ("serving_default", "generate"):
        raise ActiongenError(f"--signature must be serving_default or generate, got {signature!r}")
    t = np.asarray(session.events.t_ms, np.float64)
    span = history_ms(prep.data_config)
    if not len(t) or not np.any((t >= T - span) & (t < T)):
        where = f"its events span {t[0]:g}..{t[-1]:g} ms" if len(t) else "it has no events"
        raise ActiongenError(f"--window: {folder}: no event in the {span / 1000:g} s before T = {T:g} ms ({where}); "
                             "the request would be all padding")
    raw = raw_window(session, prep, T, generate=signature == "generate", temperature=temperature, seed=seed)
    check_inputs(raw, signature_spec(meta, signature), signature)
    if fmt == "rest":
        return rest_body(raw, signature, rest_format)
    if fmt == "grpc":
        return predict_request(raw, model_name or "actiongen", signature, version_label=label)
    raise ActiongenError(f"--format must be rest or grpc, got {fmt!r}")
