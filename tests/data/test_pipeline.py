"""model.fit consumes make_dataset on the TensorFlow, JAX and PyTorch backends.

Each backend runs in its own subprocess (Keras picks the backend at import). The model
is a tiny Functional stand-in for the real one: every contract input in, every target
name out, per-output losses that return per-step values so the per-step sample weights
(a dict keyed by output name, from tf.data) apply. The check also shows that the
weights are used: all-zero weights give loss 0.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SCRIPT = textwrap.dedent(
    '''
    import json, os, sys
    sys.path.insert(0, os.environ["ACTIONGEN_ROOT"])
    import numpy as np
    import keras
    from keras import layers, ops
    from actiongen_keras.data import features as F
    from actiongen_keras.data.normalize import load_preprocessing
    from actiongen_keras.data.pipeline import make_dataset

    data_dir = sys.argv[1]
    keras.utils.set_random_seed(0)
    prep = load_preprocessing(data_dir)
    A1 = prep.data_config.max_actions + 1
    inputs = {k: keras.Input(shape=s, dtype=dt, name=k) for k, (s, dt) in prep.input_signature().items()}
    flat = [layers.Flatten()(ops.cast(v, "float32")) for v in inputs.values() if int(np.prod(v.shape[1:])) > 0]
    h = layers.Dense(8, activation="relu")(layers.Concatenate()(flat))

    def head(name, shape, classes=None):
        x = layers.Dense(int(np.prod(shape)) * (classes or 1))(h)
        x = layers.Reshape(tuple(shape) + ((classes,) if classes else ()))(x)
        if classes:
            x = layers.Softmax()(x)
        return layers.Identity(name=name)(x)

    outputs = {
        "event_type": head("event_type", (A1,), F.NUM_EVENT_CLASSES),
        "timing": head("timing", (A1,)),
        "xy": head("xy", (A1, 2)),
        "button": head("button", (A1,), F.NUM_BUTTONS),
        "key": head("key", (A1,), prep.key_vocab_size),
        "scroll": head("scroll", (A1, 2), F.NUM_SCROLL_CLASSES),
        "dwell": head("dwell", (A1,)),
        "seq_len": head("seq_len", (), A1),
    }
    model = keras.Model(inputs, outputs)
    sce = keras.losses.sparse_categorical_crossentropy

    def step_sq(yt, yp):  # (batch, A+1): keras "mse" would average the steps away
        return ops.square(yt - yp)

    def xy_sq(yt, yp):
        return ops.sum(ops.square(yt - yp), axis=-1)

    def scroll_ce(yt, yp):  # one-hot CE: sparse CE on rank-4 predictions breaks torch's backward
        oh = ops.one_hot(ops.cast(yt, "int32"), F.NUM_SCROLL_CLASSES)
        return ops.sum(-ops.sum(oh * ops.log(ops.clip(yp, 1e-7, 1.0)), axis=-1), axis=-1)

    model.compile(optimizer="adam", loss={"event_type": sce, "timing": step_sq, "xy": xy_sq, "button": sce,
                                          "key": sce, "scroll": scroll_ce, "dwell": step_sq, "seq_len": sce})
    train = make_dataset(data_dir, "train", batch_size=32, shuffle=True, seed=1)
    val = make_dataset(data_dir, "val", batch_size=32, shuffle=False)
    hist = model.fit(train, validation_data=val, epochs=2, verbose=0)
    x, y, w = next(iter(make_dataset(data_dir, "train", batch_size=16, shuffle=False).as_numpy_iterator()))
    zero = model.evaluate(x, y, sample_weight={k: np.zeros_like(v) for k, v in w.items()}, verbose=0, return_dict=True)
    full = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    print("RESULT " + json.dumps({"backend": keras.backend.backend(), "loss": hist.history["loss"],
                                  "val_loss": hist.history["val_loss"], "zero": zero["loss"], "full": full["loss"]}))
    '''
)


@pytest.fixture(scope="module")
def data_dir(dummy_data_dir, tmp_path_factory):
    script = tmp_path_factory.mktemp("fit") / "fit.py"
    script.write_text(SCRIPT)
    return dummy_data_dir, script


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_fit_on_backend(backend, data_dir):
    out, script = data_dir
    env = dict(os.environ, KERAS_BACKEND=backend, ACTIONGEN_ROOT=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    res = json.loads(lines[-1][len("RESULT "):])
    assert res["backend"] == backend
    assert len(res["loss"]) == 2 and all(v == v and v > 0 for v in res["loss"] + res["val_loss"])  # finite, not NaN
    assert res["zero"] == 0.0 and res["full"] > 0
