"""TF Serving layout: ``saved_models/models.config`` (version labels) and warmup requests.

``saved_models/<name>/<version>/`` are the SavedModel version folders. ``models.config`` (a
``ModelServerConfig`` text proto, next to the model folders) lists each model with
``base_path`` = ``<serving_base>/<name>`` (the path *inside* the container), a ``specific``
version policy with every exported version, and the labels ``stable`` and ``canary``.

Warmup: ``<version>/assets.extra/tf_serving_warmup_requests`` is a TFRecord file of
``tensorflow.serving.PredictionLog`` records (``predict_log.request`` = a
``PredictRequest``), one per signature and batch size, which the model server replays
when it loads the version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from actiongen_keras.data.windows import history_ms
from actiongen_keras.errors import ActiongenError
from actiongen_keras.export.requests import predict_request

CONFIG_NAME = "models.config"
WARMUP_NAME = "tf_serving_warmup_requests"
LABELS = ("stable", "canary")


def _protos():
    # tensorflow-serving-api is imported where used, so an environment without it gets one clear error
    try:
        from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
        from tensorflow_serving.config import model_server_config_pb2
    except ImportError:
        raise ActiongenError("TF Serving files need tensorflow-serving-api (pip install tensorflow-serving-api==2.21.0)") from None
    return predict_pb2, prediction_log_pb2, model_server_config_pb2


def read_models_config(path):
    """``ModelServerConfig`` parsed from the text proto at ``path`` (empty if missing)."""
    _, _, msc = _protos()
    cfg = msc.ModelServerConfig()
    path = Path(path)
    if path.exists():
        try:
            text_format.Parse(path.read_text(), cfg)
        except text_format.ParseError as e:
            raise ActiongenError(f"{path}: not a ModelServerConfig text proto ({e})") from None
    return cfg


def update_models_config(version_folder, label=None, model_name=None, serving_base="/models"):
    """Add ``version_folder`` (``.../<name>/<version>``) to ``.../models.config``; returns ``(path, label)``.

    ``label``: ``stable`` or ``canary``; default: ``stable`` for the first version of a model,
    ``canary`` for later ones (``stable`` stays where it was until promoted with ``--label stable``).
    """
    version_folder = Path(version_folder)
    version = int(version_folder.name)
    model_dir = version_folder.parent
    name = model_name or model_dir.name
    path = model_dir.parent / CONFIG_NAME
    cfg = read_models_config(path)
    entries = [c for c in cfg.model_config_list.config if c.name == name]
    if entries:
        entry = entries[0]
    else:
        entry = cfg.model_config_list.config.add()
        entry.name = name
        entry.model_platform = "tensorflow"
    entry.base_path = f"{serving_base.rstrip('/')}/{model_dir.name}"
    versions = sorted({int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()} | {version})
    entry.model_version_policy.specific.ClearField("versions")
    entry.model_version_policy.specific.versions.extend(versions)
    if label is None:
        label = "canary" if "stable" in entry.version_labels and entry.version_labels["stable"] != version else "stable"
    if label not in LABELS:
        raise ActiongenError(f"--label must be one of {LABELS}, got {label!r}")
    entry.version_labels[label] = version
    for k in list(entry.version_labels):
        if entry.version_labels[k] not in versions:
            del entry.version_labels[k]
    path.write_text(text_format.MessageToString(cfg))
    return path, label


def warmup_windows(prep, batch=1):
    """Representative raw requests without data: a cursor drifting across the screen with clicks."""
    c = prep.data_config
    H, K = int(c.max_history_events), int(c.history_ticks)
    rng = np.random.default_rng(0)
    n = min(H, 60)
    t = np.sort(rng.uniform(0, history_ms(c), n))
    dt = np.diff(t, prepend=t[0] - 10.0)
    typ = np.array(["move"] * n, dtype=object)
    btn = np.array([""] * n, dtype=object)
    typ[n // 2], btn[n // 2] = "press", "left"
    typ[n // 2 + 1], btn[n // 2 + 1] = "release", "left"
    xy = np.stack([960 + np.cumsum(rng.normal(0, 5, n)), 540 + np.cumsum(rng.normal(0, 5, n))], -1)
    T = history_ms(c)

    def rows(a):
        return np.repeat(np.asarray(a)[None], batch, axis=0)

    raw = {
        "hist_type": rows(typ),
        "hist_button": rows(btn),
        "hist_key": rows(np.array([""] * n, dtype=object)),
        "hist_scroll": rows(np.zeros((n, 2), np.float32)),
        "hist_dt_ms": rows(dt.astype(np.float32)),
        "hist_t_before_ms": rows((T - t).astype(np.float32)),
        "hist_xy_px": rows(xy.astype(np.float32)),
        "cursor_xy_px": rows(xy[-1].astype(np.float32)),
        "screen_px": rows(np.array([1920.0, 1080.0], np.float32)),
        "state_mask": rows(np.ones(K, np.float32)),
    }
    if prep.num_numeric:
        raw["state_numeric"] = rows(np.array([[col["mean"] for col in prep.numeric_columns]] * K, np.float64))
    if prep.num_categorical:
        raw["state_categorical"] = rows(np.array([[(col["vocab"] or [""])[0] for col in prep.categorical_columns]] * K, dtype=object))
    if prep.anchors:
        raw["state_age_ms"] = rows(np.float32(0.0))
    return raw


def warmup_records(prep, model_name, batches=(1, 4)):
    """``PredictionLog`` records: each of serving_default and generate at each batch size."""
    _, plog, _ = _protos()
    records = []
    for b in batches:
        raw = warmup_windows(prep, b)
        for sig in ("serving_default", "generate"):
            x = dict(raw)
            if sig == "generate":
                x["temperature"] = np.full(b, 1.0, np.float32)
                x["seed"] = np.arange(b, dtype=np.int64)
                x["recorder"] = np.zeros((b, 5), np.float32)
            req = predict_request(x, model_name, sig)
            records.append(plog.PredictionLog(predict_log=plog.PredictLog(request=req)))
    return records


def write_warmup(saved_model_dir, prep, model_name):
    extra = Path(saved_model_dir) / "assets.extra"
    extra.mkdir(parents=True, exist_ok=True)
    path = extra / WARMUP_NAME
    with tf.io.TFRecordWriter(str(path)) as w:
        for rec in warmup_records(prep, model_name):
            w.write(rec.SerializeToString())
    return path


def read_warmup(saved_model_dir):
    """The ``PredictionLog`` records of a version's warmup file."""
    _, plog, _ = _protos()
    path = Path(saved_model_dir) / "assets.extra" / WARMUP_NAME
    if not path.exists():
        raise ActiongenError(f"{path}: no warmup file")
    out = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        rec = plog.PredictionLog()
        rec.ParseFromString(raw)
        out.append(rec)
    return out
