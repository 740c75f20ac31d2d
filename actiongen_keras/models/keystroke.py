"""The keystroke-timing model: a small Keras model over one keystroke's context, and its folder.

``build_keystroke_model`` wraps :class:`~actiongen_keras.layers.keystroke_timing.KeystrokeTimingMixture`
in a functional model (inputs ``prev``, ``key``, ``numeric``; output the mixture's
parameters). :class:`KeystrokeModel` is a trained one read from its folder:

    MODEL_DIR/model.keras    the Keras model
    MODEL_DIR/meta.json      vocabulary, numeric inputs, the statistics learned beside the model
                             (typists' paces, typo rate and run lengths, shift release lags),
                             the people it was trained on, its validation NLL, ``license``
    MODEL_DIR/NOTICE         the data's licence (non-commercial research only for the Aalto data)

Sampling is NumPy on the parameters (:func:`sample_timing`).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from actiongen_keras.data import keystrokes as K
from actiongen_keras.errors import ActiongenError
from actiongen_keras.layers.keystroke_timing import KeystrokeNLL, KeystrokeTimingMixture

FORMAT = "actiongen-keystroke-model/1"


def build_keystroke_model(num_mixtures=8, embed_dim=16, hidden=64, learning_rate=3e-3):
    """The compiled functional model (loss :class:`KeystrokeNLL`)."""
    prev = keras.Input(shape=(), dtype="int32", name="prev")
    key = keras.Input(shape=(), dtype="int32", name="key")
    numeric = keras.Input(shape=(len(K.NUMERIC),), dtype="float32", name="numeric")
    params = KeystrokeTimingMixture(len(K.TOKENS), num_mixtures=num_mixtures, embed_dim=embed_dim, hidden=hidden,
                                    center=K.LOG_CENTER, name="timing")(prev, key, numeric)
    model = keras.Model({"prev": prev, "key": key, "numeric": numeric}, params, name="keystroke_timing")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=KeystrokeNLL(num_mixtures))
    return model


def sample_timing(params, num_mixtures, rng, temperature=1.0):
    """One (interval ms, dwell ms) per row of ``params [B, 5M]`` (NumPy), clipped to the data's bounds."""
    M = num_mixtures
    params = np.asarray(params, dtype=np.float64)
    logits = params[:, :M] - params[:, :M].max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    c = (p.cumsum(axis=1) < rng.random((len(p), 1))).sum(axis=1).clip(0, M - 1)
    rows = np.arange(len(p))
    mu = np.stack([params[rows, M + c], params[rows, 2 * M + c]], axis=1)
    s = np.exp(np.stack([params[rows, 3 * M + c], params[rows, 4 * M + c]], axis=1)) * float(temperature)
    z = mu + s * rng.standard_normal(mu.shape)
    return np.clip(np.exp(z[:, 0]), *K.INTERVAL_MS), np.clip(np.exp(z[:, 1]), *K.DWELL_MS)


def save_keystroke_model(folder, model, meta):
    """Write ``model.keras``, ``meta.json`` (with the format and the licence) and ``NOTICE`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    meta = {"format": FORMAT, "license": K.NOTICE, "tokens": list(K.TOKENS), "numeric": list(K.NUMERIC), **meta}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    (folder / "NOTICE").write_text(K.NOTICE + "\n", encoding="utf-8")
    return folder


class KeystrokeModel:
    """A trained keystroke-timing model read from its folder (module doc)."""

    def __init__(self, folder):
        self.path = Path(folder)
        meta_path = self.path / "meta.json"
        if not meta_path.is_file() or not (self.path / "model.keras").is_file():
            raise ActiongenError(f"{self.path}: not a keystroke model folder (needs model.keras and meta.json; "
                                 "train one with `actiongen typing train`)")
        self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ActiongenError(f"{meta_path}: format {self.meta.get('format')!r}, expected {FORMAT!r}")
        if self.meta.get("tokens") != list(K.TOKENS) or self.meta.get("numeric") != list(K.NUMERIC):
            raise ActiongenError(f"{meta_path}: trained with another key vocabulary or inputs than this version's")
        self.model = keras.saving.load_model(self.path / "model.keras", compile=False)
        self.num_mixtures = int(self.meta["num_mixtures"])
        self.paces = np.asarray(self.meta["paces"], dtype=np.float64)

    def params(self, prev, key, numeric):
        """The mixture parameters (NumPy) of a batch of keystroke contexts."""
        out = self.model({"prev": np.asarray(prev, np.int32), "key": np.asarray(key, np.int32),
                          "numeric": np.asarray(numeric, np.float32)}, training=False)
        return np.asarray(keras.ops.convert_to_numpy(out))

    def sample(self, prev, key, numeric, rng, temperature=1.0):
        return sample_timing(self.params(prev, key, numeric), self.num_mixtures, rng, temperature)


__all__ = ["FORMAT", "KeystrokeModel", "build_keystroke_model", "sample_timing", "save_keystroke_model"]
