"""AdvancedAttentionDecoder: state/history encoders, cross-attention, causal event decoder."""

from __future__ import annotations

import keras
from keras import ops

from actiongen_keras.layers.transformer_block import TransformerBlock, _valid


def masked_mean(x, mask):
    """Mean of ``x [B,L,d]`` over positions where ``mask [B,L]`` is nonzero (0 if none)."""
    m = ops.cast(_valid(mask), x.dtype)[..., None]
    total = ops.sum(ops.where(m > 0, x, 0.0), axis=1)
    return total / ops.maximum(ops.sum(m, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="actiongen")
class AdvancedAttentionDecoder(keras.layers.Layer):
    """Encodes the context and decodes the target events with teacher forcing.

    ``call(state_seq, state_mask, hist_seq, hist_mask, dec_seq)`` with
    ``state_seq [B,K,d]`` (embedded ticks), ``state_mask [B,K]`` (1 = tick has a state),
    ``hist_seq [B,H,d]`` (embedded history), ``hist_mask [B,H]`` (bool, True = a real event,
    False = padding), ``dec_seq [B,T,d]`` (embedded decoder inputs, ``T <= max_actions+1``)
    returns ``(dec_hidden [B,T,d], state_summary [B,d], hist_summary [B,d],
    seq_len_logits [B, max_actions+1])``.

    1. temporal self-attention over the ticks (absent ticks masked as keys);
    2. action self-attention over the history (padding masked as keys; linear-cost
       :class:`EfficientAttention` when ``efficient_attention``), with cross-attention from
       each history event to the ticks;
    3. memory = ``[null slot, ticks, history]``; the learned null slot is always valid, so a
       window without state and without history still has a well-defined attention;
    4. causal decoder over ``dec_seq`` (+ learned step positions) with cross-attention to
       the memory: output t depends only on decoder inputs 0..t. ``decode`` on a prefix
       gives the same outputs as the full sequence at those steps, so generation can call
       :meth:`encode` once and :meth:`decode` on the growing prefix (or run the whole model
       with the not-yet-generated steps left at any value);
       :meth:`decode_step` does the same one position at a time with a key/value cache
       (:meth:`memory_cache` projects the memory's cross-attention keys/values once,
       :meth:`empty_cache` holds the decoder's own); equal to :meth:`decode` (tested to 1e-5);
    5. sequence-length head: count distribution over ``0..max_actions`` from the BOS step's
       output and the two summaries. EOS consistency: the event head's EOS probability at
       step i should match the hazard ``P(L = i | L >= i)`` implied by these logits
       (:func:`actiongen_keras.training.losses.eos_consistency`).
    """

    def __init__(self, d_model, num_heads, num_layers, ff_dim, max_actions, dropout=0.0, efficient_attention=False, **kwargs):
        super().__init__(**kwargs)
        self.d_model = int(d_model)
        self.num_heads = int(num_heads)
        self.num_layers = int(num_layers)
        self.ff_dim = int(ff_dim)
        self.max_actions = int(max_actions)
        self.dropout = float(dropout)
        self.efficient_attention = bool(efficient_attention)
        p = self.dtype_policy
        common = {"d_model": self.d_model, "num_heads": self.num_heads, "ff_dim": self.ff_dim, "dropout": self.dropout, "dtype": p}
        self.state_blocks = [TransformerBlock(name=f"state_block_{i}", **common) for i in range(self.num_layers)]
        self.hist_blocks = [
            TransformerBlock(cross_attention=True, efficient=self.efficient_attention, name=f"hist_block_{i}", **common)
            for i in range(self.num_layers)
        ]
        self.dec_blocks = [TransformerBlock(cross_attention=True, causal=True, name=f"dec_block_{i}", **common) for i in range(self.num_layers)]
        self.state_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="state_norm", dtype=p)
        self.hist_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="hist_norm", dtype=p)
        self.dec_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="dec_norm", dtype=p)
        self.step_position = keras.layers.Embedding(self.max_actions + 1, self.d_model, name="step_position", dtype=p)
        self.seq_len_hidden = keras.layers.Dense(self.d_model, activation="gelu", name="seq_len_hidden", dtype=p)
        self.seq_len_head = keras.layers.Dense(self.max_actions + 1, name="seq_len_head", dtype=p)

    def build(self, state_seq_shape, state_mask_shape, hist_seq_shape, hist_mask_shape, dec_seq_shape):
        B, K, d = state_seq_shape
        H, T = hist_seq_shape[1], dec_seq_shape[1]
        plus = lambda *n: None if None in n else sum(n)  # an unknown length stays unknown
        self.null_memory = self.add_weight(name="null_memory", shape=(1, 1, self.d_model), initializer="zeros")
        state_ctx = (B, plus(1, K), d)
        memory = (B, plus(1, K, H), d)
        for blk in self.state_blocks:
            blk.build((B, K, d))
        for blk in self.hist_blocks:
            blk.build((B, H, d), context_shape=state_ctx)
        for blk in self.dec_blocks:
            blk.build((B, T, d), context_shape=memory)
        self.state_norm.build((B, K, d))
        self.hist_norm.build((B, H, d))
        self.dec_norm.build((B, T, d))
        self.step_position.build((T,))
        self.seq_len_hidden.build((B, 3 * d))
        self.seq_len_head.build((B, self.d_model))
        self.built = True

    def _null(self, batch):
        return ops.broadcast_to(ops.cast(self.null_memory, self.compute_dtype), (batch, 1, self.d_model))

    def encode(self, state_seq, state_mask, hist_seq, hist_mask, training=None):
        """-> ``(memory [B,1+K+H,d], memory_mask [B,1+K+H], state_summary, hist_summary)``."""
        B = ops.shape(state_seq)[0]
        s_valid = ops.cast(_valid(state_mask), "float32")
        h_valid = ops.cast(_valid(hist_mask), "float32")
        s = state_seq
        for blk in self.state_blocks:
            s = blk(s, key_mask=s_valid, training=training)
        s = self.state_norm(s)
        null = self._null(B)
        one = ops.ones((B, 1), "float32")
        state_ctx = ops.concatenate([null, s], axis=1)
        state_ctx_mask = ops.concatenate([one, s_valid], axis=1)
        h = hist_seq
        for blk in self.hist_blocks:
            h = blk(h, key_mask=h_valid, context=state_ctx, context_mask=state_ctx_mask, training=training)
        h = self.hist_norm(h)
        memory = ops.concatenate([state_ctx, h], axis=1)
        memory_mask = ops.concatenate([state_ctx_mask, h_valid], axis=1)
        return memory, memory_mask, masked_mean(s, s_valid), masked_mean(h, h_valid)

    def decode(self, dec_seq, memory, memory_mask, training=None):
        """Causal decoding of ``dec_seq [B,T,d]`` (any ``T <= max_actions+1``) -> ``[B,T,d]``."""
        T = ops.shape(dec_seq)[1]
        x = dec_seq + self.step_position(ops.arange(T))[None]
        for blk in self.dec_blocks:
            x = blk(x, context=memory, context_mask=memory_mask, training=training)
        return self.dec_norm(x)

    def memory_cache(self, memory):
        """Per decoder block, the cross-attention ``(keys, values)`` of ``memory`` (once per window)."""
        return [blk.context_cache(memory) for blk in self.dec_blocks]

    def empty_cache(self, batch):
        """Per decoder block, zero self-attention keys/values ``[B, 2, max_actions + 1, heads, head_dim]``."""
        blk = self.dec_blocks[0]
        shape = (batch, 2, self.max_actions + 1, blk.num_heads, blk.head_dim)
        return [ops.zeros(shape, self.compute_dtype) for _ in self.dec_blocks]

    def decode_step(self, dec_step, index, cache, memory_cache, memory_mask):
        """:meth:`decode` of one position: ``dec_step [B, 1, d]`` (the embedded decoder input at
        ``index``, a scalar) -> ``(hidden [B, 1, d], cache)``, with ``cache`` from
        :meth:`empty_cache` holding positions ``< index`` and ``memory_cache`` from
        :meth:`memory_cache`."""
        x = dec_step + self.step_position(ops.reshape(ops.cast(index, "int32"), (1,)))[None]
        new_cache = []
        for blk, c, mc in zip(self.dec_blocks, cache, memory_cache):
            x, c = blk.call_cached(x, c, index, context_cache=mc, context_mask=memory_mask)
            new_cache.append(c)
        return self.dec_norm(x), new_cache

    def seq_len_logits(self, dec_hidden, state_summary, hist_summary):
        z = ops.concatenate([dec_hidden[:, 0], state_summary, hist_summary], axis=-1)
        return self.seq_len_head(self.seq_len_hidden(z))

    def call(self, state_seq, state_mask, hist_seq, hist_mask, dec_seq, training=None):
        memory, memory_mask, s_sum, h_sum = self.encode(state_seq, state_mask, hist_seq, hist_mask, training=training)
        dec_hidden = self.decode(dec_seq, memory, memory_mask, training=training)
        return dec_hidden, s_sum, h_sum, self.seq_len_logits(dec_hidden, s_sum, h_sum)

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model,
            num_heads=self.num_heads,
            num_layers=self.num_layers,
            ff_dim=self.ff_dim,
            max_actions=self.max_actions,
            dropout=self.dropout,
            efficient_attention=self.efficient_attention,
        )
        return config
