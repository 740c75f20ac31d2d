"""Incremental decoding: encode the context once, then decode one step at a time.

:class:`IncrementalDecoder` wraps a trained model (the Functional graph of
:func:`actiongen_keras.models.builder.build_model`) and re-uses its layers
(``state_embedding``, ``event_embedding``, ``decoder``, ``generator``) in two compiled
functions:

* ``encode(inputs)``: state + history -> ``memory``, ``memory_mask`` and the two summaries
  (``AdvancedAttentionDecoder.encode``), once per window;
* ``step(context, dec, i)``: the decoder inputs of steps ``0..i`` -> the head outputs of
  step ``i`` (``AdvancedAttentionDecoder.decode`` on the prefix, then the generator's
  ``fuse``/``event_logits`` on position ``i`` only, and its type-conditioned
  ``attributes`` for every candidate event type at once, so the sampler picks the type
  first and then reads that type's timing/xy/button/key/scroll without a second call).

The decoder is causal, so decoding a prefix of length ``L > i`` gives the full model's
step ``i`` exactly; the prefix is padded up to a *bucket* length (8, 16, 32, ``A+1`` by
default), which keeps the number of compiled shapes small while short windows stay cheap.
There is no KV cache: re-running a <= 49-step prefix at ``d_model = 64`` costs less
than the Python around it.

Compilation: TensorFlow ``tf.function(jit_compile=True)`` (XLA), JAX ``jax.jit`` over
``stateless_call``-free closures (the weights are captured as constants: inference only),
PyTorch eager under ``torch.no_grad``. ``jit=False`` runs eagerly on every backend.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import ops

import actiongen_keras
from actiongen_keras.data import features as F
from actiongen_keras.errors import ActiongenError
from actiongen_keras.models.steps import (
    BEHAVIOUR_INPUTS,
    DEC_INPUTS,
    ENCODER_INPUTS,
    HEADS,
    ModelSteps,
)


class RunFiles:
    """What a run folder holds for generation: model, Config, Preprocessing, dataset meta."""

    def __init__(self, model, config, preprocessing, meta, path=None):
        self.model, self.config, self.preprocessing, self.meta, self.path = model, config, preprocessing, meta, path


def load_run(model_or_run_dir):
    """``RUN_DIR`` or ``RUN_DIR/model.keras`` -> :class:`RunFiles` (``config.json``,
    ``preprocessing.json``, ``dataset_meta.json`` from the same folder).

    Raises ActiongenError when a file is missing.
    """
    from actiongen_keras.config import Config
    from actiongen_keras.data.jsonfile import load_json
    from actiongen_keras.data.normalize import load_preprocessing
    from actiongen_keras.training.train import dataset_meta_from_preprocessing

    p = Path(model_or_run_dir)
    run_dir, model_path = (p, p / "model.keras") if p.is_dir() else (p.parent, p)
    if not model_path.exists():
        raise ActiongenError(f"{model_path}: no such model file (expected RUN_DIR/model.keras from 'actiongen train')")
    if not (run_dir / "preprocessing.json").exists():
        raise ActiongenError(f"{run_dir}: no preprocessing.json beside the model (a run folder from 'actiongen train' has one)")

    model = actiongen_keras.load_model(model_path, compile=False)
    config = Config.from_json(run_dir / "config.json") if (run_dir / "config.json").exists() else Config()
    prep = load_preprocessing(run_dir)
    meta_path = run_dir / "dataset_meta.json"
    meta = load_json(meta_path, meta_path.name)[0] if meta_path.exists() else dataset_meta_from_preprocessing(prep)
    return RunFiles(model, config, prep, meta, str(model_path))


def _to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


class IncrementalDecoder:
    """Encode once, decode step by step, with the trained model's layers (see module doc).

    Args:
        model: the trained Functional model (``build_model``).
        buckets: prefix lengths to pad to (the last is always ``A+1``).
        jit: compile ``encode``/``step`` where the backend supports it.
    """

    def __init__(self, model, buckets=(8, 16, 32), jit=True):
        self.model = model
        self.steps = ModelSteps(model)
        self.decoder = self.steps.decoder
        self.generator = self.steps.generator
        self.A1 = int(model.input["dec_type"].shape[1]) if isinstance(model.input, dict) else self.decoder.max_actions + 1
        self.buckets = tuple(sorted({int(b) for b in buckets if 0 < int(b) < self.A1} | {self.A1}))
        self.backend = keras.backend.backend()
        self.jit = bool(jit)
        self._shapes = self._head_shapes()
        self._concrete = {}
        self._encode = self._compile(self._encode_fn)
        self._step = self._compile(self._step_fn)

    # ------------------------------------------------------------------ raw functions
    def _encode_fn(self, enc):
        return self.steps.encode(enc)

    def _step_fn(self, ctx, dec_int, dec_float, i):
        """Head outputs of step ``i`` ([B] int32) from the packed decoder prefix, as one
        ``[B, X]`` float32 array (see :meth:`_unpack`).

        ``dec_int [B, L, 5]`` = type, button, key, scroll dx, scroll dy; ``dec_float [B, L, 4]``
        = dt, t_after, x, y (packed: two inputs compile faster than seven). The heads are
        :meth:`ModelSteps.step`'s: ``event_type [B, NUM_EVENT_CLASSES]`` and the attribute
        heads for every candidate type of the step's own event.
        """
        dec = {
            "dec_type": dec_int[..., 0], "dec_button": dec_int[..., 1], "dec_key": dec_int[..., 2], "dec_scroll": dec_int[..., 3:5],
            "dec_dt": dec_float[..., 0], "dec_t_after": dec_float[..., 1], "dec_xy": dec_float[..., 2:4],
        }
        heads = self.steps.step(ctx, ctx["beh"], dec, i)
        B = ops.shape(dec_int)[0]
        return ops.concatenate([ops.reshape(ops.cast(heads[k], "float32"), (B, -1)) for k in self._shapes], axis=-1)

    def _head_shapes(self):
        """Trailing shapes of the step outputs (``HEADS`` order)."""
        g = self.generator
        nt = F.NUM_EVENT_TYPES
        P = 3 + 9 * int(g.num_timing_components)
        return {
            "event_type": (F.NUM_EVENT_CLASSES,),
            "timing": (nt, P),
            "xy": (nt, 5 * int(g.num_xy_mixtures)),
            "button": (nt, F.NUM_BUTTONS),
            "key": (nt, int(g.num_keys)),
            "scroll": (nt, 2, F.NUM_SCROLL_CLASSES),
        }

    def _unpack(self, flat):
        out, o = {}, 0
        B = flat.shape[0]
        for name, shape in self._shapes.items():
            n = int(np.prod(shape))
            out[name] = flat[:, o : o + n].reshape((B,) + shape)
            o += n
        return out

    def _compile(self, fn):
        if not self.jit:
            return fn
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.function(fn, jit_compile=True, reduce_retracing=False)
        if self.backend == "jax":
            import jax

            return jax.jit(fn)
        if self.backend == "torch":
            import torch

            def no_grad(*a):
                with torch.no_grad():
                    return fn(*a)

            return no_grad
        return fn

    # ------------------------------------------------------------------ public API
    def encode(self, inputs):
        """``inputs``: dict of NumPy arrays with a batch axis (at least ``ENCODER_INPUTS`` and
        ``screen``) -> opaque context (backend tensors) for :meth:`step`."""
        enc = {k: ops.convert_to_tensor(np.asarray(inputs[k])) for k in ENCODER_INPUTS}
        ctx = dict(self._encode(enc))
        ctx["beh"] = {k: ops.convert_to_tensor(np.asarray(inputs[k])) for k in BEHAVIOUR_INPUTS}
        return ctx

    @staticmethod
    def pack(dec):
        """``dec_*`` arrays -> ``(dec_int [B, L, 5] int32, dec_float [B, L, 4] float32)``."""
        ints = np.concatenate([np.asarray(dec["dec_type"])[..., None], np.asarray(dec["dec_button"])[..., None],
                               np.asarray(dec["dec_key"])[..., None], np.asarray(dec["dec_scroll"])], axis=-1).astype(np.int32)
        floats = np.concatenate([np.asarray(dec["dec_dt"])[..., None], np.asarray(dec["dec_t_after"])[..., None],
                                 np.asarray(dec["dec_xy"])], axis=-1).astype(np.float32)
        return ints, floats

    def bucket(self, i):
        """Prefix length used for step ``i``."""
        for b in self.buckets:
            if b > i:
                return b
        raise ValueError(f"step {i} is beyond max_actions ({self.A1 - 1})")

    def step(self, ctx, dec, i):
        """Head outputs (NumPy) of step ``i`` given the decoder inputs: ``dec`` is a dict of
        ``dec_*`` arrays or a packed pair from :meth:`pack` (``[B, >= i+1, ...]``; positions
        after ``i`` are ignored). Returns ``event_type [B, NUM_EVENT_CLASSES]`` and
        ``timing``, ``xy``, ``button``, ``key``, ``scroll`` ``[B, NUM_EVENT_TYPES, ...]``
        (row = the event type they are conditioned on)."""
        ints, floats = self.pack(dec) if isinstance(dec, dict) else dec
        L = self.bucket(int(i))
        B = ints.shape[0]
        idx = np.full((B,), int(i), dtype=np.int32)
        args = (ctx, self._tensor(ints[:, :L]), self._tensor(floats[:, :L]), self._tensor(idx))
        if self.backend == "tensorflow" and self.jit:
            # A concrete function per (bucket, batch) skips tf.function's argument matching
            # (about 0.4 ms of a ~1.4 ms call on one core).
            key = (L, B)
            fn = self._concrete.get(key)
            if fn is None:
                fn = self._concrete[key] = self._step.get_concrete_function(*args)
            flat = fn(*args)
        else:
            flat = self._step(*args)
        return self._unpack(np.asarray(flat) if self.backend == "jax" else _to_numpy(flat))

    def _tensor(self, a):
        a = np.ascontiguousarray(a)
        if self.backend == "jax" and self.jit:
            return a  # jax.jit takes NumPy arrays directly (cheaper than a device_put per array)
        return ops.convert_to_tensor(a)

    def full_outputs(self, inputs):
        """The whole model's outputs on ``inputs`` (teacher forcing), NumPy; for checks."""
        out = self.model({k: ops.convert_to_tensor(np.asarray(inputs[k])) for k in F.INPUT_NAMES}, training=False)
        return {k: _to_numpy(v) for k, v in out.items()}

    def warmup(self, inputs):
        """Trace/compile every bucket once (so timings exclude compilation)."""
        ctx = self.encode(inputs)
        dec = self.pack(inputs)
        for b in self.buckets:
            self.step(ctx, dec, b - 1)
        return self


__all__ = ["DEC_INPUTS", "ENCODER_INPUTS", "HEADS", "IncrementalDecoder", "RunFiles", "load_run"]
