"""ChunkedAttention (layers/chunked_attention.py): Keras's MultiHeadAttention to the bit, split along the batch."""

import numpy as np


def test_chunked_attention_is_keras_attention_to_the_bit():
    # ChunkedAttention splits a large score tensor along the batch: the same ops per window,
    # so the same outputs and gradients as Keras's MultiHeadAttention with the same weights.
    import keras

    from actiongen_keras.layers.chunked_attention import CHUNK_SCORES, ChunkedAttention

    B, T, S, heads = 32, 64, 128, 4
    assert B * heads * T * S >= 4 * CHUNK_SCORES  # large enough to be split
    rng = np.random.default_rng(0)
    q = keras.ops.convert_to_tensor(rng.normal(size=(B, T, 16)).astype("float32"))
    kv = keras.ops.convert_to_tensor(rng.normal(size=(B, S, 16)).astype("float32"))
    mask = keras.ops.convert_to_tensor(rng.random((B, T, S)) < 0.8)
    chunked = ChunkedAttention(heads, 4)
    plain = keras.layers.MultiHeadAttention(heads, 4)
    chunked(q, kv, attention_mask=mask)
    plain(q, kv, attention_mask=mask)
    plain.set_weights(chunked.get_weights())
    assert chunked._num_chunks(chunked.query_dense(q), chunked.key_dense(kv)) > 1
    assert np.array_equal(keras.ops.convert_to_numpy(chunked(q, kv, attention_mask=mask)),
                          keras.ops.convert_to_numpy(plain(q, kv, attention_mask=mask)))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        grads = []
        for layer in (chunked, plain):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(layer(q, kv, attention_mask=mask)))
            grads.append(tape.gradient(loss, layer.trainable_variables))
        for a, b in zip(*grads, strict=True):
            assert np.array_equal(a.numpy(), b.numpy())
