"""Build, fit one step, evaluate and save/reload under each Keras backend (subprocesses)."""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, numpy as np, keras, tensorflow as tf
    from actiongen_keras.config import ModelConfig
    from actiongen_keras.data import features as F
    from actiongen_keras.models import build_model
    from actiongen_keras.testing.batches import random_batch
    from actiongen_keras.training.losses import build_losses
    from actiongen_keras.training.metrics import build_weighted_metrics

    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    keras.utils.set_random_seed(0)
    meta = dict(num_state_numeric=2, state_categorical_vocab_sizes=[3], num_keys=6,
                max_history_events=5, max_actions=3, history_ticks=2)
    cfg = ModelConfig(d_model=8, num_heads=2, ff_dim=8, num_xy_mixtures=2, num_timing_components=1, key_embedding_dim=2)
    model = build_model(cfg, meta)
    losses = build_losses(cfg, meta)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses, weighted_metrics=build_weighted_metrics(cfg, meta))
    x, y, w = random_batch(meta, 8, seed=1)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(8)
    hist = model.fit(ds, epochs=1, verbose=0).history
    assert np.isfinite(hist["loss"][0]), hist

    # Per-output sample weights from tf.data reach each loss: evaluate() == each Loss on
    # the predictions with that output's weight ...
    ev = model.evaluate(ds, verbose=0, return_dict=True)
    pred = model(x, training=False)
    total = 0.0
    for name in F.TARGET_NAMES:
        val = float(keras.ops.convert_to_numpy(losses[name](y[name], pred[name], w[name])))
        assert abs(ev[name + "_loss"] - val) < 1e-4 * max(1.0, abs(val)), (name, ev[name + "_loss"], val)
        total += val
    assert abs(ev["loss"] - total) < 1e-3 * max(1.0, abs(total)), (ev["loss"], total)
    # ... and targets at weight-0 positions do not matter (same CompileLoss as fit).
    y2 = {k: v.copy() for k, v in y.items()}
    for name in ("event_type", "timing", "xy", "button", "key", "scroll"):
        y2[name][w[name] == 0] = 1
    l1 = float(keras.ops.convert_to_numpy(model.compute_loss(x, y, pred, w, training=False)))
    l2 = float(keras.ops.convert_to_numpy(model.compute_loss(x, y2, pred, w, training=False)))
    assert l1 == l2 and abs(l1 - total) < 1e-3 * max(1.0, abs(total)), (l1, l2, total)

    path = os.path.join(sys.argv[2], "m.keras")
    model.save(path)
    clone = keras.saving.load_model(path)
    a, b = model(x, training=False), clone(x, training=False)
    for k in F.TARGET_NAMES:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a[k]), keras.ops.convert_to_numpy(b[k]))
    print("OK", json.dumps({k: round(float(v), 4) for k, v in ev.items()}))
    """
)


BACKENDS = ("tensorflow", "jax", "torch")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start the three backends at once (XLA/TF compilation is mostly single-threaded)."""
    procs = {}
    for backend in BACKENDS:
        try:
            __import__(backend)
        except ImportError:
            continue
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        out = tmp_path_factory.mktemp(backend)
        procs[backend] = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, backend, str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    results = {}
    for backend, proc in procs.items():
        try:
            stdout, stderr = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        results[backend] = (proc.returncode, stdout, stderr)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_evaluate_save_reload(backend, runs):
    assert backend in runs, f"{backend} is not installed (make test installs the jax and torch extras)"
    rc, stdout, stderr = runs[backend]
    assert rc == 0, stdout[-3000:] + stderr[-6000:]
    assert "OK" in stdout
