"""The JAX backend's export (jax2tf inside keras.export.ExportArchive) equals the Keras model.

Slow: the export runs in a subprocess with ``KERAS_BACKEND=jax``; the SavedModel is then
loaded here (TensorFlow) and compared with the Keras model on the same raw requests.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from actiongen_keras.export import requests as R
from actiongen_keras.export.saved_model import (
    load_run,
    load_saved_model,
    read_export_meta,
)
from actiongen_keras.export.serving import warmup_windows
from actiongen_keras.testing.runs import make_tiny_run


@pytest.mark.slow
def test_jax_export_matches_tensorflow_export_and_keras(tmp_path):
    run = make_tiny_run(tmp_path / "run")
    code = (
        "from actiongen_keras.export.saved_model import export_saved_model\n"
        f"export_saved_model({str(run / 'model.keras')!r}, {str(tmp_path / 'jax' / 'm' / '1')!r}, warmup=False, log=print)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=os.getcwd(), timeout=600, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    from actiongen_keras.export.saved_model import export_saved_model

    export_saved_model(run / "model.keras", tmp_path / "tf" / "m" / "1", warmup=False, log=lambda *_: None)
    jax_dir, tf_dir = tmp_path / "jax" / "m" / "1", tmp_path / "tf" / "m" / "1"
    mj, mt = read_export_meta(jax_dir), read_export_meta(tf_dir)
    assert mj["backend"] == "jax" and mt["backend"] == "tensorflow"
    lj, lt = load_saved_model(jax_dir), load_saved_model(tf_dir)
    _, prep = load_run(run / "model.keras")
    raw = warmup_windows(prep, 3)
    oj = R.call_signature(lj, mj, "serving_default", raw)
    ot = R.call_signature(lt, mt, "serving_default", raw)  # == Keras (test_export.py)
    for k in ("event_type_logits", "timing_params", "xy_params", "button_logits", "key_logits", "scroll_logits", "seq_len_logits"):
        np.testing.assert_allclose(oj[k], ot[k], atol=1e-4, err_msg=k)
    # generate: the same loop, jax2tf-converted; greedy windows are the Keras model's own point
    # predictions on their prefix (as the TensorFlow export's, tests/export/test_export.py)
    import tensorflow as tf

    from actiongen_keras.data import features as F
    from actiongen_keras.export import graph as G
    from actiongen_keras.export.saved_model import load_run as load_keras_run
    from actiongen_keras.generation.testing import check_greedy_window

    g = dict(raw, temperature=np.zeros(3, np.float32), seed=np.zeros(3, np.int64))
    gj = R.call_signature(lj, mj, "generate", g)
    model, _ = load_keras_run(run / "model.keras")
    enc = G.encode_raw({k: tf.constant(v if v.dtype != object else v.astype(bytes)) for k, v in raw.items()}, prep, G.make_tables(prep))
    events = 0
    for b in range(3):
        window = {k: np.asarray(v[b : b + 1]) for k, v in enc.items()}
        o = {k: np.asarray(gj[k][b : b + 1]) for k in ("count", "event_type_id", "button_id", "key_id", "t_ms", "dt_ms")}
        o["xy"] = np.asarray(gj["xy_px"][b : b + 1]) / raw["screen_px"][b]
        o["scroll"] = F.scroll_class(np.asarray(gj["scroll"][b : b + 1]))
        o["stop"] = np.array([0])
        events += check_greedy_window(model, window, o, target_ms=prep.data_config.target_ms, atol_ms=2e-2, atol_xy=1e-4)
    assert events >= 3, events
