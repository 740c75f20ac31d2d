"""``build_model``: the attention model, assembled as one Functional graph."""

from __future__ import annotations

import keras

from actiongen_keras.data import features as F
from actiongen_keras.errors import ConfigError
from actiongen_keras.layers import (
    AdvancedAttentionDecoder,
    ContextAwareActionGenerator,
    EventEmbedding,
    PixelDequantization,
    StateEmbedding,
)
from actiongen_keras.layers.context_aware_generator import XY_FRAMES, XY_HEADS
from actiongen_keras.models.dataset_meta import DatasetMeta
from actiongen_keras.models.model_config import as_model_config, timing_spec


def noisy_positions(cfg, inputs):
    """The inputs the layers read: ``inputs`` with ``hist_xy`` and ``dec_xy`` through a
    ``GaussianNoise`` layer when ``cfg.xy_input_noise > 0`` (active in training only).

    In closed loop the model reads its own sampled positions, whose noise is independent
    from event to event; trained on clean positions only, it extrapolates that noise into
    the next step and the path wanders. Noisy input positions with clean targets teach it
    to smooth them instead (a cheap cure for this exposure bias)."""
    if not cfg.xy_input_noise:
        return inputs
    seen = dict(inputs)
    for seed, name in enumerate(("hist_xy", "dec_xy"), start=1):
        seen[name] = keras.layers.GaussianNoise(float(cfg.xy_input_noise), seed=seed, name=f"{name}_noise")(inputs[name])
    return seen


def real_events(hist_type):
    """The history's mask (True = a real event, False = padding), from its event types."""
    return keras.ops.not_equal(hist_type, F.PAD)


def make_inputs(meta):
    """``{name: keras.Input}`` per :func:`actiongen_keras.data.features.input_signature`."""
    sig = F.input_signature(
        meta.max_history_events, meta.max_actions, meta.history_ticks, meta.num_state_numeric, meta.num_state_categorical, meta.num_anchors
    )
    return {name: keras.Input(shape=sig[name][0], dtype=sig[name][1], name=name) for name in F.INPUT_NAMES}


def name_outputs(heads):
    """Wrap each head in an Identity layer named after its target (dict keys = TARGET_NAMES)."""
    return {name: keras.layers.Identity(name=name)(heads[name]) for name in F.TARGET_NAMES}


def embed_events(embedding, inputs, prefix, offset_name):
    return embedding(
        inputs[f"{prefix}_type"],
        inputs[f"{prefix}_button"],
        inputs[f"{prefix}_key"],
        inputs[f"{prefix}_scroll"],
        inputs[f"{prefix}_dt"],
        inputs[f"{prefix}_{offset_name}"],
        inputs[f"{prefix}_xy"],
    )


def make_generator(cfg, meta, name="generator"):
    t = timing_spec(cfg, meta)
    return ContextAwareActionGenerator(
        d_model=cfg.d_model,
        num_keys=meta.num_keys,
        num_xy_mixtures=cfg.num_xy_mixtures,
        num_timing_components=t["num_components"],
        timing_boundaries_ms=t["boundaries_ms"],
        max_timing_ms=t["max_ms"],
        dropout=cfg.dropout,
        num_anchors=meta.num_anchors,
        xy_head=cfg.xy_head,
        xy_offset_scale=cfg.xy_offset_scale,
        xy_sigma_floor=cfg.xy_sigma_floor,
        xy_frame=cfg.xy_frame,
        anchor_event_bias=cfg.anchor_event_bias,
        step_context=cfg.step_context,
        name=name,
    )


def apply_heads(cfg, meta, inputs, dec_hidden, state_summary, hist_summary, seq_len_logits):
    """The ContextAwareActionGenerator on an encoder-decoder's outputs: the named output dict."""
    event, timing, xy, button, key, scroll, dwell = make_generator(cfg, meta)(
        dec_hidden,
        state_summary,
        hist_summary,
        inputs["dec_type"],
        inputs["dec_t_after"],
        inputs["dec_dt"],
        inputs["dec_xy"],
        inputs["hist_type"],
        inputs["hist_dt"],
        inputs["hist_t_before"],
        inputs["hist_xy"],
        inputs["screen"],
        inputs["anchor_xy"],
        inputs["anchor_dt"],
        inputs["anchor_mask"],
    )
    if cfg.xy_dequantize_px:
        xy = PixelDequantization(cfg.num_xy_mixtures, cfg.xy_dequantize_px, seed=3, frame=cfg.xy_frame, name="xy_dequantization")(xy, inputs["screen"])
    heads = {"event_type": event, "timing": timing, "xy": xy, "button": button, "key": key, "scroll": scroll, "dwell": dwell,
             "seq_len": seq_len_logits}
    return name_outputs(heads)


def check_sizes(cfg):
    if cfg.d_model % cfg.num_heads:
        raise ConfigError(f"model.d_model ({cfg.d_model}) must be divisible by model.num_heads ({cfg.num_heads})")
    for k in ("d_model", "num_heads", "num_layers", "ff_dim", "num_xy_mixtures", "num_timing_components", "key_embedding_dim"):
        if getattr(cfg, k) < 1:
            raise ConfigError(f"model.{k} must be >= 1, got {getattr(cfg, k)}")
    if cfg.xy_head not in XY_HEADS:
        raise ConfigError(f"model.xy_head must be one of {list(XY_HEADS)}, got {cfg.xy_head!r}")
    if cfg.xy_frame not in XY_FRAMES:
        raise ConfigError(f"model.xy_frame must be one of {list(XY_FRAMES)}, got {cfg.xy_frame!r}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ConfigError(f"model.dropout must be in [0, 1), got {cfg.dropout}")


def build_model(config, dataset_meta, name="actiongen"):
    """The attention model: a Functional ``keras.Model``.

    Args:
        config: ``Config`` or ``ModelConfig``.
        dataset_meta: dict (or :class:`DatasetMeta`), see ``models/dataset_meta.py``.

    Inputs: a dict with exactly ``features.INPUT_NAMES``. Outputs: a dict with exactly
    ``features.TARGET_NAMES`` (``A1 = max_actions + 1``, ``M_t`` timing components,
    ``M_xy`` xy mixtures)::

        event_type [B, A1, NUM_EVENT_CLASSES]     logits, incl. EOS
        timing     [B, A1, 3 + 9 M_t]             multi_scale_timing layout
        xy         [B, A1, 5 M_xy]                split_xy_params layout (absolute means; + 2 columns, xy_tail, in the motion and polar frames)
        dwell      [B, A1, 3 + 9 M_t]             multi_scale_timing layout (press hold, ms)
        button     [B, A1, NUM_BUTTONS]           logits
        key        [B, A1, num_keys]              logits
        scroll     [B, A1, 2, NUM_SCROLL_CLASSES] logits for (dx, dy), not flattened
        seq_len    [B, A1]                        logits over 0..max_actions events

    Step i of each per-step output predicts target event i (step seq_len: EOS) from
    decoder inputs 0..i. No target or target mask enters the graph; the only masks are
    ``state_mask`` and history padding (``hist_type != 0``).
    """
    cfg = as_model_config(config)
    check_sizes(cfg)
    meta = DatasetMeta.from_dict(dataset_meta)
    inputs = make_inputs(meta)
    seen = noisy_positions(cfg, inputs)

    state_seq = StateEmbedding(
        cfg.d_model, meta.num_state_numeric, meta.state_categorical_vocab_sizes, meta.history_ticks, meta.tick_ms, name="state_embedding"
    )(inputs["state_numeric"], inputs["state_categorical"])
    event_embedding = EventEmbedding(cfg.d_model, meta.num_keys, cfg.key_embedding_dim, name="event_embedding")
    hist_seq = embed_events(event_embedding, seen, "hist", "t_before")
    dec_seq = embed_events(event_embedding, seen, "dec", "t_after")

    decoder = AdvancedAttentionDecoder(
        d_model=cfg.d_model,
        num_heads=cfg.num_heads,
        num_layers=cfg.num_layers,
        ff_dim=cfg.ff_dim,
        max_actions=meta.max_actions,
        dropout=cfg.dropout,
        efficient_attention=cfg.efficient_attention,
        name="decoder",
    )
    dec_hidden, state_summary, hist_summary, seq_len_logits = decoder(
        state_seq, inputs["state_mask"], hist_seq, real_events(inputs["hist_type"]), dec_seq
    )

    return keras.Model(inputs, apply_heads(cfg, meta, seen, dec_hidden, state_summary, hist_summary, seq_len_logits), name=name)
