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
from actiongen_keras.export.testing import make_tiny_run


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
    g = dict(raw, temperature=np.zeros(3, np.float32), seed=np.zeros(3, np.int64))
    gj = R.call_signature(lj, mj, "generate", g)
    gt = R.call_signature(lt, mt, "generate", g)
    np.testing.assert_array_equal(gj["count"], gt["count"])
    np.testing.assert_array_equal(gj["event_type"], gt["event_type"])
    np.testing.assert_allclose(gj["t_ms"], gt["t_ms"], atol=1e-2)
