"""StateEmbedding: one vector per game-state tick."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from actiongen_keras.layers.temporal_position_encoding import TemporalPositionEncoding, encoding_settings


@keras.saving.register_keras_serializable(package="actiongen")
class StateEmbedding(keras.layers.Layer):
    """``call(state_numeric [B,K,S], state_categorical [B,K,C]) -> [B, K, d_model]``.

    Dense projection of the numeric features + one embedding per categorical feature
    (vocab sizes from the dataset) + the tick's time offset before the window boundary
    ``T`` (tick k covers ``[T - (K-k) * tick_ms, T - (K-k-1) * tick_ms)``; its centre is
    encoded with :class:`TemporalPositionEncoding`), then LayerNorm. Absent ticks are not
    handled here: the attention layers mask them with ``state_mask``.
    """

    def __init__(self, d_model, num_numeric, categorical_vocab_sizes=(), history_ticks=10, tick_ms=600.0, time_encoding=None, **kwargs):
        super().__init__(**kwargs)
        self.time_encoding = encoding_settings(time_encoding)  # saved: the encoding is made here
        self.d_model = int(d_model)
        self.num_numeric = int(num_numeric)
        self.categorical_vocab_sizes = tuple(int(v) for v in categorical_vocab_sizes)
        self.history_ticks = int(history_ticks)
        self.tick_ms = float(tick_ms)
        p = self.dtype_policy
        self.numeric_projection = keras.layers.Dense(self.d_model, name="numeric_projection", dtype=p) if self.num_numeric else None
        self.categorical_embeddings = [
            keras.layers.Embedding(v, self.d_model, name=f"categorical_embedding_{i}", dtype=p)
            for i, v in enumerate(self.categorical_vocab_sizes)
        ]
        self.tick_encoding = TemporalPositionEncoding(self.d_model, name="tick_encoding", dtype=p, **self.time_encoding)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm", dtype=p)
        K = self.history_ticks
        self._tick_offsets = ((K - np.arange(K) - 0.5) * self.tick_ms).astype("float32")

    def build(self, state_numeric_shape, state_categorical_shape=None):
        BK = tuple(state_numeric_shape)[:-1]
        if self.numeric_projection is not None:
            self.numeric_projection.build(BK + (self.num_numeric,))
        for emb in self.categorical_embeddings:
            emb.build(BK)
        self.tick_encoding.build((self.history_ticks,))
        self.norm.build(BK + (self.d_model,))
        self.built = True

    def call(self, state_numeric, state_categorical):
        x = self.tick_encoding(ops.convert_to_tensor(self._tick_offsets))[None]  # [1, K, d]
        x = ops.broadcast_to(x, (ops.shape(state_numeric)[0], self.history_ticks, self.d_model))  # [B, K, d], also when S = C = 0
        if self.numeric_projection is not None:
            x = x + self.numeric_projection(ops.cast(state_numeric, self.compute_dtype))
        cat = ops.cast(state_categorical, "int32")
        for i, emb in enumerate(self.categorical_embeddings):
            x = x + emb(cat[..., i])
        return self.norm(x)

    def compute_output_shape(self, state_numeric_shape, state_categorical_shape=None):
        return tuple(state_numeric_shape)[:-1] + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(
            time_encoding=self.time_encoding,
            d_model=self.d_model,
            num_numeric=self.num_numeric,
            categorical_vocab_sizes=list(self.categorical_vocab_sizes),
            history_ticks=self.history_ticks,
            tick_ms=self.tick_ms,
        )
        return config
