"""``build_gru_baseline``: the ablation, GRU encoders/decoder instead of attention."""

from __future__ import annotations

import keras

from actiongen_keras.layers import (
    EventEmbedding,
    GRUDecoder,
    MaskedGRUEncoder,
    StateEmbedding,
)
from actiongen_keras.models.builder import (
    apply_heads,
    check_sizes,
    embed_events,
    make_inputs,
    noisy_positions,
    real_events,
)
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.models.model_config import as_model_config


def build_gru_baseline(config, dataset_meta, name="actiongen_gru"):
    """Same inputs, outputs, layouts and heads as :func:`build_model`.

    State ticks and history events are encoded by masked GRUs (absent ticks and padding are
    skipped); the decoder is a GRU over the decoder inputs started from the two encoder
    summaries; the sequence length is predicted from the summaries and the BOS step.
    """
    cfg = as_model_config(config)
    check_sizes(cfg)
    meta = DatasetMeta.from_dict(dataset_meta)
    inputs = make_inputs(meta)
    seen = noisy_positions(cfg, inputs)
    d = cfg.d_model
    state_seq = StateEmbedding(d, meta.num_state_numeric, meta.state_categorical_vocab_sizes, meta.history_ticks, meta.tick_ms, name="state_embedding")(
        inputs["state_numeric"], inputs["state_categorical"]
    )
    event_embedding = EventEmbedding(d, meta.num_keys, cfg.key_embedding_dim, name="event_embedding")
    hist_seq = embed_events(event_embedding, seen, "hist", "t_before")
    dec_seq = embed_events(event_embedding, seen, "dec", "t_after")
    _, state_summary = MaskedGRUEncoder(d, name="state_encoder")(state_seq, inputs["state_mask"])
    _, hist_summary = MaskedGRUEncoder(d, name="history_encoder")(hist_seq, real_events(inputs["hist_type"]))
    context = keras.layers.Concatenate(name="context")([state_summary, hist_summary])
    dec_hidden = GRUDecoder(d, name="decoder")(dec_seq, context)
    bos = keras.layers.Flatten(name="bos_step")(keras.layers.Cropping1D((0, meta.max_actions), name="bos_crop")(dec_hidden))
    seq_in = keras.layers.Concatenate(name="seq_len_input")([bos, context])
    seq_h = keras.layers.Dense(d, activation="gelu", name="seq_len_hidden")(seq_in)
    seq_len_logits = keras.layers.Dense(meta.max_actions + 1, name="seq_len_head")(seq_h)
    return keras.Model(inputs, apply_heads(cfg, meta, seen, dec_hidden, state_summary, hist_summary, seq_len_logits), name=name)
