"""KeystrokeTimingMixture: a keystroke's interval and dwell as a mixture of 2-D log-normals."""

from __future__ import annotations

import math

import keras
from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="actiongen")
class KeystrokeTimingMixture(keras.layers.Layer):
    """The density of (log interval, log dwell) of one keystroke given its context.

    The previous and the current key are embedded (one table shared by both), concatenated
    with the numeric context (shift, previous interval, the typist's pace; see
    ``data/keystrokes.py``) and passed through two dense layers to the parameters of a
    mixture of ``num_mixtures`` Gaussians over (log interval ms, log dwell ms) with diagonal
    covariance: a log-normal mixture over the times themselves.

    Inputs: ``prev [B]`` and ``key [B]`` (int token ids) and ``numeric [B, F]``.
    Output: ``params [B, 5M]``: ``M`` logits, then ``M`` means and ``M`` log sigmas per
    dimension (interval means, dwell means, interval log sigmas, dwell log sigmas). The
    means are offset by ``center`` (log ms), so an untrained layer starts near 150 ms.
    """

    def __init__(self, num_tokens, num_mixtures=8, embed_dim=16, hidden=64, center=5.0, **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = int(num_tokens)
        self.num_mixtures = int(num_mixtures)
        self.embed_dim = int(embed_dim)
        self.hidden = int(hidden)
        self.center = float(center)
        self.embedding = keras.layers.Embedding(self.num_tokens, self.embed_dim, name="key_embedding")
        self.dense1 = keras.layers.Dense(self.hidden, activation="gelu", name="dense1")
        self.dense2 = keras.layers.Dense(self.hidden, activation="gelu", name="dense2")
        self.head = keras.layers.Dense(5 * self.num_mixtures, name="mixture", kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))

    def build(self, prev_shape, key_shape, numeric_shape):
        self.embedding.build(tuple(prev_shape))
        width = 2 * self.embed_dim + int(numeric_shape[-1])
        self.dense1.build((None, width))
        self.dense2.build((None, self.hidden))
        self.head.build((None, self.hidden))
        self.built = True

    def call(self, prev, key, numeric):
        e = ops.concatenate([self.embedding(prev), self.embedding(key), ops.cast(numeric, self.compute_dtype)], axis=-1)
        h = self.dense2(self.dense1(e))
        p = self.head(h)
        M = self.num_mixtures
        return ops.concatenate([p[:, :M], p[:, M : 3 * M] + self.center, ops.clip(p[:, 3 * M :], -5.0, 3.0)], axis=-1)

    def compute_output_shape(self, prev_shape, key_shape, numeric_shape):
        return (prev_shape[0], 5 * self.num_mixtures)

    def get_config(self):
        config = super().get_config()
        config.update(num_tokens=self.num_tokens, num_mixtures=self.num_mixtures, embed_dim=self.embed_dim, hidden=self.hidden,
                      center=self.center)
        return config


def keystroke_log_prob(y, params, num_mixtures):
    """Log density of ``y [B, 2]`` (log interval, log dwell) under ``params [B, 5M]`` (per row)."""
    M = num_mixtures
    y = ops.cast(y, params.dtype)
    logits, mu, log_s = params[:, :M], params[:, M : 3 * M], params[:, 3 * M :]
    z = (ops.concatenate([ops.repeat(y[:, :1], M, axis=1), ops.repeat(y[:, 1:], M, axis=1)], axis=1) - mu) * ops.exp(-log_s)
    comp = -0.5 * (z * z) - log_s - 0.5 * LOG_2PI  # [B, 2M]: interval then dwell
    comp = comp[:, :M] + comp[:, M:]
    return ops.logsumexp(comp + ops.log_softmax(logits, axis=-1), axis=-1)


@keras.saving.register_keras_serializable(package="actiongen")
class KeystrokeNLL(keras.losses.Loss):
    """Mean negative log density of (log interval, log dwell) under the mixture (:func:`keystroke_log_prob`)."""

    def __init__(self, num_mixtures=8, name="keystroke_nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_mixtures = int(num_mixtures)

    def call(self, y_true, y_pred):
        return -keystroke_log_prob(y_true, y_pred, self.num_mixtures)

    def get_config(self):
        return {**super().get_config(), "num_mixtures": self.num_mixtures}


__all__ = ["KeystrokeNLL", "KeystrokeTimingMixture", "keystroke_log_prob"]
