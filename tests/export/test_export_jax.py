"""The JAX backend's export (jax2tf inside keras.export.ExportArchive) equals the Keras model.

Slow: the export runs in a subprocess with ``KERAS_BACKEND=jax``; the SavedModel is then
loaded here (TensorFlow) and compared with the Keras model on the same raw requests: the
``serving_default`` heads with the model's own step functions (``ModelSteps.next_event_points``,
which tests/export/test_export.py proves equal to the full model), greedy ``generate``
windows with the full model's point predictions on their prefix.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from actiongen_keras.data import features as F
from actiongen_keras.export import graph as G
from actiongen_keras.export import requests as R
from actiongen_keras.export.saved_model import load_run, load_saved_model, read_export_meta
from actiongen_keras.export.serving import warmup_windows
from actiongen_keras.models.steps import ModelSteps
from actiongen_keras.testing.generation import check_greedy_window
from actiongen_keras.testing.runs import make_tiny_run


@pytest.mark.slow
def test_jax_export_matches_keras(tmp_path):
    run = make_tiny_run(tmp_path / "run")
    out = tmp_path / "jax" / "m" / "1"
    code = (
        "from actiongen_keras.export.saved_model import export_saved_model\n"
        f"export_saved_model({str(run / 'model.keras')!r}, {str(out)!r}, warmup=False, log=print)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=os.getcwd(), timeout=600, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    meta = read_export_meta(out)
    assert meta["backend"] == "jax"
    loaded = load_saved_model(out)
    model, prep = load_run(run / "model.keras")
    raw = warmup_windows(prep, 3)
    enc = G.encode_raw({k: tf.constant(v if v.dtype != object else v.astype(bytes)) for k, v in raw.items()}, prep, G.make_tables(prep))

    served = R.call_signature(loaded, meta, "serving_default", raw)
    ref = ModelSteps(model).next_event_points(enc)
    for name, head in G.HEAD_OF.items():
        np.testing.assert_allclose(served[name], np.asarray(ref[head]), atol=1e-4, err_msg=name)
    np.testing.assert_allclose(served["timing_median_ms"], np.asarray(ref["timing_median_ms"]), rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(served["xy_point_px"], np.asarray(ref["xy_point"]) * raw["screen_px"][:, None, :], atol=1e-3)

    # generate: the same loop, jax2tf-converted; greedy windows are the Keras model's own point
    # predictions on their prefix (as the TensorFlow export's, tests/export/test_export.py)
    g = dict(raw, temperature=np.zeros(3, np.float32), seed=np.zeros(3, np.int64), recorder=np.zeros((3, 5), np.float32))
    gen = R.call_signature(loaded, meta, "generate", g)
    events = 0
    for b in range(3):
        window = {k: np.asarray(v[b : b + 1]) for k, v in enc.items()}
        o = {k: np.asarray(gen[k][b : b + 1]) for k in ("count", "event_type_id", "button_id", "key_id", "t_ms", "dt_ms")}
        o["xy"] = np.asarray(gen["xy_px"][b : b + 1]) / raw["screen_px"][b]
        o["scroll"] = F.scroll_class(np.asarray(gen["scroll"][b : b + 1]))
        o["stop"] = np.array([0])
        events += check_greedy_window(model, window, o, target_ms=prep.data_config.target_ms, atol_ms=2e-2, atol_xy=1e-4)
    assert events >= 3, events
