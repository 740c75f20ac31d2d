"""EfficientAttention: multi-head linear attention, cost linear in the key length."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="actiongen")
class EfficientAttention(keras.layers.Layer):
    """Non-causal linear attention (Katharopoulos et al. 2020) with ``phi(x) = elu(x) + 1``.

    ``call(query [B,T,d], value [B,S,d], key_mask [B,S] or None) -> [B, T, d]``::

        out_t = phi(q_t) . (sum_s m_s phi(k_s) v_s^T) / (phi(q_t) . sum_s m_s phi(k_s) + eps)

    per head. The largest intermediate is ``[B, heads, head_dim, head_dim]`` (the key-value
    summary): no ``[T, S]`` score matrix, so time and memory grow linearly with ``S``
    (the history length). Masked keys (``key_mask == 0``: history padding) are removed
    by zeroing their features, so their contents have no effect; a query whose keys are all
    masked gets 0. Used for history self-attention when ``ModelConfig.efficient_attention``.
    """

    def __init__(self, d_model, num_heads, eps=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.num_heads = int(num_heads)
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.head_dim = self.d_model // self.num_heads
        self.eps = float(eps)
        p = self.dtype_policy
        self.query_dense = keras.layers.Dense(self.d_model, name="query", dtype=p)
        self.key_dense = keras.layers.Dense(self.d_model, name="key", dtype=p)
        self.value_dense = keras.layers.Dense(self.d_model, name="value", dtype=p)
        self.output_dense = keras.layers.Dense(self.d_model, name="attention_output", dtype=p)

    def build(self, query_shape, value_shape=None, key_mask_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        self.query_dense.build(query_shape)
        self.key_dense.build(value_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build(tuple(query_shape)[:-1] + (self.d_model,))
        self.built = True

    def _heads(self, x):
        s = ops.shape(x)
        return ops.reshape(x, (-1, s[1], self.num_heads, self.head_dim))

    def call(self, query, value=None, key_mask=None):
        value = query if value is None else value
        q = ops.elu(self._heads(self.query_dense(query))) + 1.0  # [B,T,h,e]
        k = ops.elu(self._heads(self.key_dense(value))) + 1.0  # [B,S,h,e]
        v = self._heads(self.value_dense(value))  # [B,S,h,e]
        if key_mask is not None:
            m = ops.cast(ops.not_equal(ops.cast(key_mask, "float32"), 0.0), k.dtype)[:, :, None, None]
            k = k * m
            v = ops.where(m > 0, v, 0.0)
        kv = ops.einsum("bshd,bshe->bhde", k, v)  # [B,h,e,e]
        k_sum = ops.sum(k, axis=1)  # [B,h,e]
        num = ops.einsum("bthd,bhde->bthe", q, kv)
        den = ops.einsum("bthd,bhd->bth", q, k_sum)[..., None] + self.eps
        out = num / den
        s = ops.shape(out)
        return self.output_dense(ops.reshape(out, (-1, s[1], self.d_model)))

    def compute_output_shape(self, query_shape, value_shape=None, key_mask_shape=None):
        return tuple(query_shape)[:-1] + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, eps=self.eps)
        return config
