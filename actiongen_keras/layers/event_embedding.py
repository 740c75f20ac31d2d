"""EventEmbedding: one vector per input event (history or decoder step)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.temporal_position_encoding import TemporalPositionEncoding, encoding_settings


@keras.saving.register_keras_serializable(package="actiongen")
class EventEmbedding(keras.layers.Layer):
    """Sum of categorical embeddings and projected continuous fields, then LayerNorm.

    ``call(event_type, button, key, scroll, dt, t_offset, xy)`` with shapes ``[B, L]``
    (``scroll`` and ``xy``: ``[B, L, 2]``) returns ``[B, L, d_model]``.

    * ``event_type`` (``NUM_EVENT_TYPES`` ids incl. BOS), ``button``: embeddings of size d;
    * ``key``: embedding of size ``key_embedding_dim`` projected to d (vocab ``num_keys``);
    * ``scroll``: one embedding table for (dx, dy) classes, dy ids offset by NUM_SCROLL_CLASSES;
    * ``dt`` (ms since previous event) and ``t_offset`` (``t_before`` for history,
      ``t_after`` for decoder steps): two :class:`TemporalPositionEncoding`;
    * ``xy`` (position / screen): ``[x, y, sin(2^k pi xy), cos(2^k pi xy)]`` -> Dense(d).
    """

    def __init__(self, d_model, num_keys, key_embedding_dim=16, num_xy_frequencies=4, time_encoding=None, **kwargs):
        super().__init__(**kwargs)
        self.time_encoding = encoding_settings(time_encoding)  # saved: the encodings are made here
        self.d_model = int(d_model)
        self.num_keys = int(num_keys)
        self.key_embedding_dim = int(key_embedding_dim)
        self.num_xy_frequencies = int(num_xy_frequencies)
        p = self.dtype_policy
        self.type_embedding = keras.layers.Embedding(F.NUM_EVENT_TYPES, self.d_model, name="type_embedding", dtype=p)
        self.button_embedding = keras.layers.Embedding(F.NUM_BUTTONS, self.d_model, name="button_embedding", dtype=p)
        self.key_embedding = keras.layers.Embedding(self.num_keys, self.key_embedding_dim, name="key_embedding", dtype=p)
        self.key_projection = keras.layers.Dense(self.d_model, use_bias=False, name="key_projection", dtype=p)
        self.scroll_embedding = keras.layers.Embedding(2 * F.NUM_SCROLL_CLASSES, self.d_model, name="scroll_embedding", dtype=p)
        self.dt_encoding = TemporalPositionEncoding(self.d_model, name="dt_encoding", dtype=p, **self.time_encoding)
        self.offset_encoding = TemporalPositionEncoding(self.d_model, name="offset_encoding", dtype=p, **self.time_encoding)
        self.xy_projection = keras.layers.Dense(self.d_model, name="xy_projection", dtype=p)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm", dtype=p)
        self._xy_freqs = (np.pi * 2.0 ** np.arange(self.num_xy_frequencies)).astype("float32")

    def build(self, event_type_shape, button_shape=None, key_shape=None, scroll_shape=None, dt_shape=None, t_offset_shape=None, xy_shape=None):
        L = tuple(event_type_shape)
        for emb in (self.type_embedding, self.button_embedding, self.key_embedding):
            emb.build(L)
        self.key_projection.build(L + (self.key_embedding_dim,))
        self.scroll_embedding.build(L + (2,))
        self.dt_encoding.build(L)
        self.offset_encoding.build(L)
        self.xy_projection.build(L + (2 + 4 * self.num_xy_frequencies,))
        self.norm.build(L + (self.d_model,))
        self.built = True

    def xy_features(self, xy):
        xy = ops.cast(xy, self.compute_dtype)
        freqs = ops.convert_to_tensor(self._xy_freqs, dtype=self.compute_dtype)
        ax, ay = xy[..., 0:1] * freqs, xy[..., 1:2] * freqs
        return ops.concatenate([xy, ops.sin(ax), ops.cos(ax), ops.sin(ay), ops.cos(ay)], axis=-1)

    def call(self, event_type, button, key, scroll, dt, t_offset, xy):
        scroll = ops.cast(scroll, "int32")
        scroll_ids = scroll + ops.convert_to_tensor(np.array([0, F.NUM_SCROLL_CLASSES], "int32"))
        x = (
            self.type_embedding(ops.cast(event_type, "int32"))
            + self.button_embedding(ops.cast(button, "int32"))
            + self.key_projection(self.key_embedding(ops.cast(key, "int32")))
            + ops.sum(self.scroll_embedding(scroll_ids), axis=-2)
            + self.dt_encoding(dt)
            + self.offset_encoding(t_offset)
            + self.xy_projection(self.xy_features(xy))
        )
        return self.norm(x)

    def compute_output_shape(self, event_type_shape, button_shape=None, key_shape=None, scroll_shape=None, dt_shape=None, t_offset_shape=None, xy_shape=None):
        return tuple(event_type_shape) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(
            time_encoding=self.time_encoding,
            d_model=self.d_model,
            num_keys=self.num_keys,
            key_embedding_dim=self.key_embedding_dim,
            num_xy_frequencies=self.num_xy_frequencies,
        )
        return config
