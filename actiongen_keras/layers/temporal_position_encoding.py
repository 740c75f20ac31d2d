"""TemporalPositionEncoding: continuous time offsets (ms) -> vectors, at several scales."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

DEFAULT_SCALES_MS = (10.0, 100.0, 1000.0, 10000.0)
ENCODING_DEFAULTS = {"num_frequencies": 8, "scales_ms": DEFAULT_SCALES_MS, "min_frequency": 0.25, "max_frequency": 32.0}


def encoding_settings(settings=None):
    """The :class:`TemporalPositionEncoding` settings a layer that owns encodings builds them
    with: ``settings`` (a dict, e.g. from a saved config) over :data:`ENCODING_DEFAULTS`, every
    key spelled out. The owner saves the result in its ``get_config``: its encodings are made
    in its ``__init__``, so a reloaded model would otherwise take whatever the defaults are
    then, and silently change."""
    unknown = set(settings or {}) - set(ENCODING_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown time encoding settings {sorted(unknown)}; known: {sorted(ENCODING_DEFAULTS)}")
    out = {**ENCODING_DEFAULTS, **(settings or {})}
    return {"num_frequencies": int(out["num_frequencies"]), "scales_ms": [float(s) for s in out["scales_ms"]],
            "min_frequency": float(out["min_frequency"]), "max_frequency": float(out["max_frequency"])}


@keras.saving.register_keras_serializable(package="actiongen")
class TemporalPositionEncoding(keras.layers.Layer):
    """Encodes non-negative time offsets in milliseconds (``[...]`` -> ``[..., output_dim]``).

    Features, computed from ``t = max(t_ms, 0)`` and ``u = log1p(t)`` (log-scaled ms):

    * ``sin(u * w_k)``, ``cos(u * w_k)`` for ``num_frequencies`` frequencies ``w_k``
      spaced geometrically in ``[min_frequency, max_frequency]`` (resolves both a few ms
      and a few seconds: ``u`` spans ~0..11 for 0..60 s);
    * ``tanh(t / s)`` for each ``s`` in ``scales_ms`` (one saturating ramp per scale).

    ``learned=True`` (default) projects the ``2 * num_frequencies + len(scales_ms)``
    fixed features with a Dense layer to ``output_dim``. ``learned=False`` returns purely
    sinusoidal features with ``output_dim // 2`` frequencies (``output_dim`` even).
    """

    def __init__(
        self,
        output_dim,
        num_frequencies=ENCODING_DEFAULTS["num_frequencies"],
        scales_ms=DEFAULT_SCALES_MS,
        learned=True,
        min_frequency=ENCODING_DEFAULTS["min_frequency"],
        max_frequency=ENCODING_DEFAULTS["max_frequency"],
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.output_dim = int(output_dim)
        self.num_frequencies = int(num_frequencies)
        self.scales_ms = tuple(float(s) for s in scales_ms)
        self.learned = bool(learned)
        self.min_frequency = float(min_frequency)
        self.max_frequency = float(max_frequency)
        if not self.learned and self.output_dim % 2:
            raise ValueError(f"TemporalPositionEncoding(learned=False) needs an even output_dim, got {output_dim}")
        n = self.num_frequencies if self.learned else self.output_dim // 2
        self._freqs = np.exp(np.linspace(math.log(self.min_frequency), math.log(self.max_frequency), n)).astype("float32")
        self.projection = keras.layers.Dense(self.output_dim, name="projection", dtype=self.dtype_policy) if self.learned else None

    def build(self, input_shape):
        if self.projection is not None:
            self.projection.build(tuple(input_shape) + (2 * self.num_frequencies + len(self.scales_ms),))
        self.built = True

    def fixed_features(self, t_ms):
        t = ops.maximum(ops.cast(t_ms, self.compute_dtype), 0.0)
        u = ops.expand_dims(ops.log1p(t), -1)
        angles = u * ops.convert_to_tensor(self._freqs, dtype=self.compute_dtype)
        feats = [ops.sin(angles), ops.cos(angles)]
        if self.learned and self.scales_ms:
            scales = ops.convert_to_tensor(np.asarray(self.scales_ms, "float32"), dtype=self.compute_dtype)
            feats.append(ops.tanh(ops.expand_dims(t, -1) / scales))
        return ops.concatenate(feats, axis=-1)

    def call(self, t_ms):
        feats = self.fixed_features(t_ms)
        return self.projection(feats) if self.projection is not None else feats

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_dim=self.output_dim,
            num_frequencies=self.num_frequencies,
            scales_ms=list(self.scales_ms),
            learned=self.learned,
            min_frequency=self.min_frequency,
            max_frequency=self.max_frequency,
        )
        return config
