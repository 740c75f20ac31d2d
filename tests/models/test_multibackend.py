"""The real model on each Keras backend (subprocesses: Keras picks the backend at import):
``model.fit`` on ``make_dataset`` (the tf.data pipeline, its per-output sample weights),
evaluate, and save/reload, under TensorFlow, JAX and PyTorch."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, numpy as np, keras
    from actiongen_keras.data import features as F
    from actiongen_keras.data.normalize import load_preprocessing
    from actiongen_keras.data.pipeline import make_dataset
    from actiongen_keras.models import build_model
    from actiongen_keras.models.dataset_meta import DatasetMeta
    from actiongen_keras.testing.generation import model_outputs
    from actiongen_keras.testing.runs import tiny_config
    from actiongen_keras.training.losses import build_losses
    from actiongen_keras.training.metrics import build_weighted_metrics
    from actiongen_keras.training.train import build_training_state

    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    out_dir, data_dir = sys.argv[2], sys.argv[3]
    keras.utils.set_random_seed(0)
    meta = DatasetMeta.from_preprocessing(load_preprocessing(data_dir))
    cfg = tiny_config().model
    model = build_model(cfg, meta)
    losses = build_losses(cfg, meta)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses, weighted_metrics=build_weighted_metrics(cfg, meta))
    build_training_state(model, meta)  # TensorFlow: one trace of the train step, not two (training.train.compile_model does it)
    train = make_dataset(data_dir, "train", batch_size=32, shuffle=True, seed=1)
    val = make_dataset(data_dir, "val", batch_size=32, shuffle=False)
    hist = model.fit(train, validation_data=val, epochs=2, verbose=0).history
    assert all(np.isfinite(v) and v > 0 for v in hist["loss"] + hist["val_loss"]), hist
    assert hist["loss"][1] < hist["loss"][0], hist["loss"]
    x, y, w = next(iter(make_dataset(data_dir, "train", batch_size=8, shuffle=False).as_numpy_iterator()))

    # Per-output sample weights from tf.data reach each loss: evaluate() == each Loss on
    # the predictions with that output's weight ...
    ev = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0, return_dict=True)
    pred = model_outputs(model, x)
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

    # all-zero weights: loss 0 (the weights from tf.data are what the losses use)
    zero = model.evaluate(x, y, sample_weight={k: np.zeros_like(v) for k, v in w.items()}, verbose=0, return_dict=True)
    assert zero["loss"] == 0.0 and ev["loss"] > 0, (zero["loss"], ev["loss"])

    path = os.path.join(out_dir, "m.keras")
    model.save(path)
    clone = keras.saving.load_model(path)
    a, b = model_outputs(model, x), model_outputs(clone, x)
    for k in F.TARGET_NAMES:
        np.testing.assert_array_equal(a[k], b[k])
    print("OK", json.dumps({k: round(float(v), 4) for k, v in ev.items()}))
    """
)


BACKENDS = ("tensorflow", "jax", "torch")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, dummy_data_dir):
    """Start the three backends at once (XLA/TF compilation is mostly single-threaded)."""
    procs = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:  # not imported here: the subprocess does
            continue
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        out = tmp_path_factory.mktemp(backend)
        procs[backend] = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, backend, str(out), str(dummy_data_dir)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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
