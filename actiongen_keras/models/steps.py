"""The trained model's layers as step functions (``keras.ops``): encode once, decode step by step.

They run on the model's backend. Generation (:mod:`actiongen_keras.generation.incremental`)
compiles them per backend; the export wraps them with :class:`keras.export.ExportArchive`
into ``tf.function``s (TensorFlow) or jax2tf-converted functions (JAX), which the TensorFlow
encoding / sampling graph (:mod:`actiongen_keras.export.graph`) then calls.

* :meth:`ModelSteps.encode`: state + history -> attention memory and the two summaries
  (``AdvancedAttentionDecoder.encode``), once per window;
* :meth:`ModelSteps.step`: a decoder prefix ``[B, L]`` and the step index -> the step's
  event-type logits and, because the attribute heads are conditioned on the step's own event
  type (``ContextAwareActionGenerator.attributes``), the attribute heads for *every*
  candidate type: ``[B, NUM_EVENT_TYPES, ...]`` (row ``c`` = "if the event is of type c");
* :meth:`ModelSteps.next_event`: both for the BOS-only prefix (the next event after T),
  plus the ``seq_len`` logits.

The decoder is causal, so step ``i`` of a prefix of length ``L > i`` equals step ``i`` of the
full model with ``dec_type[:, i + 1]`` set to the candidate type (``tests/export``).
"""

from __future__ import annotations

from keras import ops

from actiongen_keras.data import features as F

ENCODER_INPUTS = ("state_numeric", "state_categorical", "state_mask", "hist_type", "hist_button", "hist_key", "hist_scroll", "hist_dt",
                  "hist_t_before", "hist_xy")
BEHAVIOUR_INPUTS = ("hist_type", "hist_dt", "hist_t_before", "hist_xy", "screen", "anchor_xy", "anchor_dt", "anchor_mask")
DEC_INPUTS = ("dec_type", "dec_button", "dec_key", "dec_scroll", "dec_dt", "dec_t_after", "dec_xy")
CONTEXT = ("memory", "memory_mask", "state_summary", "hist_summary")
HEADS = ("event_type", "timing", "xy", "button", "key", "scroll")


class ModelSteps:
    def __init__(self, model):
        self.model = model
        self.state_embedding = model.get_layer("state_embedding")
        self.event_embedding = model.get_layer("event_embedding")
        self.decoder = model.get_layer("decoder")
        self.generator = model.get_layer("generator")

    def encode(self, enc):
        state_seq = self.state_embedding(enc["state_numeric"], enc["state_categorical"])
        hist_seq = self.event_embedding(
            enc["hist_type"], enc["hist_button"], enc["hist_key"], enc["hist_scroll"], enc["hist_dt"], enc["hist_t_before"], enc["hist_xy"]
        )
        memory, memory_mask, s_sum, h_sum = self.decoder.encode(state_seq, enc["state_mask"], hist_seq, enc["hist_type"], training=False)
        return {"memory": memory, "memory_mask": memory_mask, "state_summary": s_sum, "hist_summary": h_sum}

    def _hidden(self, ctx, dec):
        dec_seq = self.event_embedding(
            dec["dec_type"], dec["dec_button"], dec["dec_key"], dec["dec_scroll"], dec["dec_dt"], dec["dec_t_after"], dec["dec_xy"]
        )
        return self.decoder.decode(dec_seq, ctx["memory"], ctx["memory_mask"], training=False)

    def _heads_at(self, hidden, ctx, beh, dec, i):
        idx = ops.cast(i, "int32")

        def at(x):
            j = ops.reshape(idx, (-1,) + (1,) * (len(x.shape) - 1))
            return ops.take_along_axis(x, j, axis=1)

        gen = self.generator
        xy_i = at(ops.cast(dec["dec_xy"], "float32"))
        h, pointer = gen.fuse(
            at(hidden), ctx["state_summary"], ctx["hist_summary"],
            at(ops.cast(dec["dec_t_after"], "float32")), at(ops.cast(dec["dec_dt"], "float32")), xy_i,
            beh["hist_type"], beh["hist_dt"], beh["hist_t_before"], beh["hist_xy"], beh["screen"],
            beh["anchor_xy"], beh["anchor_dt"], beh["anchor_mask"], training=False,
        )  # [B, 1, d]
        event = gen.event_logits(h)[:, 0]
        nt = F.NUM_EVENT_TYPES
        B = ops.shape(h)[0]
        types = ops.broadcast_to(ops.arange(nt, dtype="int32")[None, :], (B, nt))
        attrs = gen.attributes(ops.repeat(h, nt, axis=1), types, ops.repeat(xy_i, nt, axis=1), ops.repeat(pointer, nt, axis=1))
        return dict(zip(HEADS, (event,) + tuple(attrs)))

    def step(self, ctx, beh, dec, i):
        """Heads of step ``i`` (``[B]`` int32) from the decoder prefix ``dec`` (``[B, L, ...]``, ``L > i``)."""
        return self._heads_at(self._hidden(ctx, dec), ctx, beh, dec, i)

    def next_event(self, window):
        """Encoded window (+ ``bos_xy``) -> the heads of the first event after T and ``seq_len``."""
        ctx = self.encode(window)
        B = ops.shape(window["hist_type"])[0]
        zi = ops.zeros((B, 1), "int32")
        zf = ops.zeros((B, 1), "float32")
        dec = {
            "dec_type": zi + F.BOS,
            "dec_button": zi,
            "dec_key": zi,
            "dec_scroll": ops.zeros((B, 1, 2), "int32") + F.SCROLL_CLIP,
            "dec_dt": zf,
            "dec_t_after": zf,
            "dec_xy": ops.cast(window["bos_xy"], "float32")[:, None, :],
        }
        hidden = self._hidden(ctx, dec)
        beh = {k: window[k] for k in BEHAVIOUR_INPUTS}
        out = self._heads_at(hidden, ctx, beh, dec, ops.zeros((B,), "int32"))
        out["seq_len"] = self.decoder.seq_len_logits(hidden, ctx["state_summary"], ctx["hist_summary"])
        return out
