"""The trained model's layers as step functions (``keras.ops``): encode once, decode one event at a time.

Generation (:mod:`actiongen_keras.generation.sampler`) and the export call these; they run on
the model's backend and compile with it (XLA on TensorFlow, ``jax.jit``, or PyTorch eager).

* :meth:`ModelSteps.encode`: state + history -> the attention memory, its cross-attention
  keys/values for every decoder block (:meth:`AdvancedAttentionDecoder.memory_cache`) and
  the generator's per-window context (:meth:`ContextAwareActionGenerator.window_context`),
  once per window;
* :meth:`ModelSteps.step`: one decoder input (the previous event, or BOS) at step ``i``
  -> the fused features ``h`` of step ``i``, the anchor pointer and the event logits, with the decoder's
  key/value cache (:meth:`AdvancedAttentionDecoder.decode_step`); the sampling loop then
  reads :meth:`ContextAwareActionGenerator.event_logits` and, for the chosen type,
  :meth:`ContextAwareActionGenerator.attributes`;
* :meth:`ModelSteps.next_event`: the heads of the first event after T for every candidate
  type (row ``c`` = "if the event is of type c") and the ``seq_len`` logits, the exported
  ``serving_default`` / TFLite entry point; :meth:`ModelSteps.next_event_points` adds the
  point predictions (median interval, most probable position).

The decoder is causal, so step ``i`` equals step ``i`` of the full model on the same
decoder inputs (``tests/generation``).
"""

from __future__ import annotations

from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.context_aware_generator import first_previous_cursor, xy_point
from actiongen_keras.layers.multi_scale_timing import timing_quantile
from actiongen_keras.models.builder import real_events

ENCODER_INPUTS = ("state_numeric", "state_categorical", "state_mask", "hist_type", "hist_button", "hist_key", "hist_scroll", "hist_dt",
                  "hist_t_before", "hist_xy")
BEHAVIOUR_INPUTS = ("hist_type", "hist_dt", "hist_t_before", "hist_xy", "screen", "anchor_xy", "anchor_dt", "anchor_mask")
WINDOW_INPUTS = tuple(dict.fromkeys(ENCODER_INPUTS + BEHAVIOUR_INPUTS + ("bos_xy",)))
"""An encoded window as generation takes it: the model's inputs without the decoder, plus
``bos_xy`` (the cursor at T, screen units)."""
DEC_INPUTS = ("dec_type", "dec_button", "dec_key", "dec_scroll", "dec_dt", "dec_t_after", "dec_xy")
HEADS = ("event_type", "timing", "xy", "button", "key", "scroll", "dwell")


def bos_token(window):
    """The decoder input of step 0 (``DEC_INPUTS`` names without the step axis: ``[B]`` / ``[B, 2]``)."""
    B = ops.shape(window["hist_type"])[0]
    zi = ops.zeros((B,), "int32")
    zf = ops.zeros((B,), "float32")
    return {"dec_type": zi + F.BOS, "dec_button": zi, "dec_key": zi, "dec_scroll": ops.zeros((B, 2), "int32") + F.SCROLL_ZERO,
            "dec_dt": zf, "dec_t_after": zf, "dec_xy": ops.cast(window["bos_xy"], "float32")}


class ModelSteps:
    """Encode / step functions over a model built by :func:`actiongen_keras.models.build_model`."""

    def __init__(self, model):
        self.model = model
        self.state_embedding = model.get_layer("state_embedding")
        self.event_embedding = model.get_layer("event_embedding")
        self.decoder = model.get_layer("decoder")
        self.generator = model.get_layer("generator")

    @property
    def max_actions(self):
        return self.decoder.max_actions

    def encode(self, window):
        """An encoded window (``WINDOW_INPUTS``, at least ``ENCODER_INPUTS`` + ``BEHAVIOUR_INPUTS``) -> context."""
        state_seq = self.state_embedding(window["state_numeric"], window["state_categorical"])
        hist_seq = self.event_embedding(window["hist_type"], window["hist_button"], window["hist_key"], window["hist_scroll"],
                                        window["hist_dt"], window["hist_t_before"], window["hist_xy"])
        memory, memory_mask, s_sum, h_sum = self.decoder.encode(
            state_seq, window["state_mask"], hist_seq, real_events(window["hist_type"]), training=False
        )
        g = self.generator
        return {
            "memory_cache": self.decoder.memory_cache(memory),
            "memory_mask": memory_mask,
            "state_summary": s_sum,
            "hist_summary": h_sum,
            "window": g.window_context(s_sum, h_sum, window["hist_type"], window["hist_dt"], window["hist_t_before"], window["hist_xy"],
                                       window["screen"]),
            "anchor_xy": window["anchor_xy"], "anchor_dt": window["anchor_dt"], "anchor_mask": window["anchor_mask"],
        }

    def empty_cache(self, batch):
        return self.decoder.empty_cache(batch)

    def step(self, ctx, token, index, cache):
        """Decoder input ``token`` (``DEC_INPUTS``, ``[B]`` / ``[B, 2]``) at step ``index`` ->
        ``(hidden [B, 1, d], h [B, 1, d], pointer [B, 1, 2], event_logits [B, NUM_EVENT_CLASSES], cache)``
        (the event head's logits with the anchors' bias, where the model has one)."""
        t = {k: v[:, None] for k, v in token.items()}
        x = self.event_embedding(t["dec_type"], t["dec_button"], t["dec_key"], t["dec_scroll"], t["dec_dt"], t["dec_t_after"], t["dec_xy"])
        hidden, cache = self.decoder.decode_step(x, index, cache, ctx["memory_cache"], ctx["memory_mask"])
        h, pointer, event_bias = self.generator.fuse_steps(ctx["window"], hidden, ops.cast(t["dec_t_after"], "float32"),
                                                           ops.cast(t["dec_dt"], "float32"), ops.cast(t["dec_xy"], "float32"), ctx["anchor_xy"],
                                                           ctx["anchor_dt"], ctx["anchor_mask"], training=False)
        return hidden, h, pointer, self.generator.event_logits(h, event_bias)[:, 0], cache

    def all_attributes(self, h, xy, pointer, prev_xy):
        """The attribute heads for every candidate type: ``(timing, xy, button, key, scroll, dwell)``,
        each ``[B, NUM_EVENT_TYPES, ...]`` (``h [B, 1, d]``, cursor ``xy [B, 2]``, ``pointer [B, 1, 2]``,
        the cursor before ``xy`` ``prev_xy [B, 2]``)."""
        nt = F.NUM_EVENT_TYPES
        B = ops.shape(h)[0]
        types = ops.broadcast_to(ops.arange(nt, dtype="int32")[None, :], (B, nt))

        def per_type(v):
            return ops.repeat(ops.cast(v, "float32")[:, None, :], nt, axis=1)

        return self.generator.attributes(ops.repeat(h, nt, axis=1), types, per_type(xy), ops.repeat(pointer, nt, axis=1), per_type(prev_xy))

    def next_event(self, window):
        """Encoded window (``WINDOW_INPUTS``) -> the heads of the first event after T (attribute
        heads for every candidate type, ``HEADS`` names) and ``seq_len``."""
        ctx = self.encode(window)
        B = ops.shape(window["hist_type"])[0]
        token = bos_token(window)
        hidden, h, pointer, event_logits, _ = self.step(ctx, token, 0, self.empty_cache(B))
        prev_xy = first_previous_cursor(token["dec_xy"], window["hist_xy"], window["hist_type"])
        attrs = self.all_attributes(h, token["dec_xy"], pointer, prev_xy)
        out = dict(zip(HEADS, (event_logits,) + tuple(attrs)))
        out["seq_len"] = self.decoder.seq_len_logits(hidden, ctx["state_summary"], ctx["hist_summary"])
        return out

    def next_event_points(self, window):
        """:meth:`next_event` plus ``timing_median_ms [B, NUM_EVENT_TYPES]`` and ``xy_point
        [B, NUM_EVENT_TYPES, 2]`` (screen units): the point predictions the metrics score."""
        out = self.next_event(window)
        g = self.generator
        out["timing_median_ms"] = timing_quantile(out["timing"], 0.5, g.timing_boundaries_ms, g.num_timing_components, g.max_timing_ms)
        out["xy_point"] = xy_point(out["xy"], g.num_xy_mixtures, g.xy_frame)
        return out


__all__ = ["BEHAVIOUR_INPUTS", "DEC_INPUTS", "ENCODER_INPUTS", "HEADS", "WINDOW_INPUTS", "ModelSteps", "bos_token"]
