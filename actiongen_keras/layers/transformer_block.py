"""TransformerBlock: pre-LayerNorm self-attention (+ optional cross-attention) + feed-forward."""

from __future__ import annotations

import keras
from keras import ops

from actiongen_keras.layers.chunked_attention import ChunkedAttention
from actiongen_keras.layers.efficient_attention import EfficientAttention


def _valid(mask):
    """Any-dtype mask -> bool (nonzero = valid)."""
    return ops.not_equal(ops.cast(mask, "float32"), 0.0)


@keras.saving.register_keras_serializable(package="actiongen")
class TransformerBlock(keras.layers.Layer):
    """``call(x [B,T,d], key_mask=None, context=None, context_mask=None) -> [B,T,d]``.

    * self-attention over ``x``: keys where ``key_mask == 0`` are ignored; each position may
      always attend to itself, so no softmax row is empty (padded/absent positions then
      only see themselves and never leak into valid ones). ``causal=True`` adds a causal
      mask (position t sees positions <= t). ``efficient=True`` uses
      :class:`EfficientAttention` (linear in T, key mask only, not causal).
    * cross-attention to ``context [B,S,d]`` (when ``cross_attention=True``), ignoring
      context keys where ``context_mask == 0``. The caller must guarantee at least one
      valid context key per row (the decoder prepends a learned null memory slot).
    * position-wise feed-forward (``ff_dim``, gelu). Dropout after each sub-block.

    **Cached decoding** (causal blocks, inference): :meth:`context_cache` projects the
    cross-attention keys and values of ``context`` once; :meth:`call_cached` runs one new
    position against the cached self-attention keys/values of the positions before it
    (``cache [B, 2, L, num_heads, head_dim]``, updated at ``index``) and returns the same
    output as :meth:`call` on the whole prefix at that position (keras-hub's cached
    attention pattern; tested to 1e-5).
    """

    def __init__(self, d_model, num_heads, ff_dim, dropout=0.0, cross_attention=False, causal=False, efficient=False, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.dropout = float(dropout)
        self.cross_attention = bool(cross_attention)
        self.causal = bool(causal)
        self.efficient = bool(efficient)
        if self.causal and self.efficient:
            raise ValueError("TransformerBlock: efficient attention here is non-causal")
        if self.d_model % self.num_heads:
            raise ValueError(f"TransformerBlock: d_model ({self.d_model}) must be a multiple of num_heads ({self.num_heads})")
        p = self.dtype_policy
        hd = self.head_dim
        self.self_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="self_norm", dtype=p)
        if self.efficient:
            self.self_attention = EfficientAttention(self.d_model, self.num_heads, name="self_attention", dtype=p)
        else:
            self.self_attention = ChunkedAttention(self.num_heads, hd, name="self_attention", dtype=p)
        if self.cross_attention:
            self.cross_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="cross_norm", dtype=p)
            self.cross_attention_layer = ChunkedAttention(self.num_heads, hd, name="cross_attention", dtype=p)
        self.ff_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ff_norm", dtype=p)
        self.ff_inner = keras.layers.Dense(self.ff_dim, activation="gelu", name="ff_inner", dtype=p)
        self.ff_outer = keras.layers.Dense(self.d_model, name="ff_outer", dtype=p)
        self.drop = keras.layers.Dropout(self.dropout, dtype=p)

    def build(self, x_shape, key_mask_shape=None, context_shape=None, context_mask_shape=None):
        x_shape = tuple(x_shape)
        self.self_norm.build(x_shape)
        self.self_attention.build(x_shape, x_shape)
        if self.cross_attention:
            if context_shape is None:
                raise ValueError("TransformerBlock(cross_attention=True) is built with the shape of its context")
            self.cross_norm.build(x_shape)
            self.cross_attention_layer.build(x_shape, tuple(context_shape))
        self.ff_norm.build(x_shape)
        self.ff_inner.build(x_shape)
        self.ff_outer.build(x_shape[:-1] + (self.ff_dim,))
        self.built = True

    @property
    def head_dim(self):
        return self.d_model // self.num_heads

    def _self_mask(self, x, key_mask):
        T = ops.shape(x)[1]
        eye = ops.cast(ops.eye(T), "bool")[None]  # [1,T,T]
        allowed = None
        if key_mask is not None:
            allowed = ops.logical_or(_valid(key_mask)[:, None, :], eye)
        if self.causal:
            tril = ops.cast(ops.tril(ops.ones((T, T))), "bool")[None]
            allowed = tril if allowed is None else ops.logical_and(allowed, tril)
        return allowed

    def call(self, x, key_mask=None, context=None, context_mask=None, training=None):
        h = self.self_norm(x)
        if self.efficient:
            h = self.self_attention(h, h, key_mask)
        else:
            mask = self._self_mask(x, key_mask)
            if mask is not None:
                mask = ops.broadcast_to(mask, (ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[1]))
            h = self.self_attention(h, h, attention_mask=mask, training=training)
        x = x + self.drop(h, training=training)
        if self.cross_attention:
            h = self.cross_norm(x)
            cmask = None
            if context_mask is not None:
                cmask = ops.broadcast_to(_valid(context_mask)[:, None, :], (ops.shape(x)[0], ops.shape(x)[1], ops.shape(context)[1]))
            h = self.cross_attention_layer(h, context, attention_mask=cmask, training=training)
            x = x + self.drop(h, training=training)
        h = self.ff_outer(self.ff_inner(self.ff_norm(x)))
        return x + self.drop(h, training=training)

    # ------------------------------------------------------------------ cached decoding
    def context_cache(self, context):
        """Cross-attention ``(keys, values)`` of ``context [B, S, d]``, each ``[B, S, heads, head_dim]``."""
        layer = self.cross_attention_layer
        return layer.key_dense(context), layer.value_dense(context)

    def call_cached(self, x, cache, index, context_cache=None, context_mask=None):
        """One position ``x [B, 1, d]`` at ``index`` (a scalar) of a causal block.

        ``cache [B, 2, L, heads, head_dim]``: the self-attention keys (``[:, 0]``) and values
        (``[:, 1]``) of positions ``< index``. Returns ``(y [B, 1, d], cache)`` with this
        position's key and value written at ``index``. Inference only (no dropout)."""
        if not self.causal or self.efficient:
            raise ValueError("TransformerBlock.call_cached: only causal, non-efficient blocks decode with a cache")
        att = self.self_attention
        h = self.self_norm(x)
        index = ops.cast(index, "int32")
        zero = ops.zeros((), "int32")
        start = (zero, zero, index, zero, zero)
        cache = ops.slice_update(cache, start, ops.stack([att.key_dense(h), att.value_dense(h)], axis=1))
        L = ops.shape(cache)[2]
        B = ops.shape(x)[0]
        seen = ops.broadcast_to(ops.less_equal(ops.arange(L, dtype="int32"), index)[None, None, :], (B, 1, L))
        out, _ = att._compute_attention(att.query_dense(h), cache[:, 0], cache[:, 1], seen, training=False)
        x = x + att.output_dense(out)
        if self.cross_attention:
            layer = self.cross_attention_layer
            h = self.cross_norm(x)
            keys, values = context_cache
            cmask = ops.broadcast_to(_valid(context_mask)[:, None, :], (B, 1, ops.shape(keys)[1]))
            out, _ = layer._compute_attention(layer.query_dense(h), keys, values, cmask, training=False)
            x = x + layer.output_dense(out)
        h = self.ff_outer(self.ff_inner(self.ff_norm(x)))
        return x + h, cache

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model,
            num_heads=self.num_heads,
            ff_dim=self.ff_dim,
            dropout=self.dropout,
            cross_attention=self.cross_attention,
            causal=self.causal,
            efficient=self.efficient,
        )
        return config
