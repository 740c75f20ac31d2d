"""``export_saved_model``: a run's ``model.keras`` -> a TF Serving-ready SavedModel version folder.

Signatures (batch dimension dynamic everywhere; inputs/outputs in ``saved_models/README.md``):

* ``serving_default``: raw window -> the next event's distributions (every head, decoder
  step 0) plus ``event_type_probs``, ``timing_median_ms`` and ``xy_point_px``;
* ``generate``: raw window + ``temperature`` + ``seed`` -> up to ``max_actions`` events of
  the next ``target_ms`` (the whole sampling loop in the graph, ``tf.while_loop``, with the
  rules of ``generation.sampler``; encoder + loop compiled with XLA, so TF Serving needs
  ``--xla_cpu_compilation_enabled=true``, unless exported with ``jit_compile=False``);
* ``next_event_encoded``: already-encoded window (ids, standardised state, screen units)
  -> the step-0 heads; builtin ops only, the TFLite entry point;
* ``forward_encoded``: the Keras model itself (teacher forcing, all ``A + 1`` steps).

The forward pass comes from :class:`keras.export.ExportArchive` (``track_and_add_endpoint``),
so the TensorFlow and the JAX backends (jax2tf) export the same signatures; the encoding,
vocabularies (``tf.lookup.StaticHashTable``) and the sampling loop are TensorFlow ops
around it (:mod:`actiongen_keras.export.graph`).

The version folder also gets ``assets.extra/actiongen_export.json`` (the preprocessing,
head sizes and input specs: all a client needs) and ``assets.extra/tf_serving_warmup_requests``.
"""

from __future__ import annotations

import json
from pathlib import Path

import actiongen_keras
from actiongen_keras.atomic import check_output, staged_output
from actiongen_keras.errors import ActiongenError

EXPORT_FORMAT = "actiongen-export/1"
EXPORT_META = "actiongen_export.json"
SIGNATURES = ("serving_default", "generate", "next_event_encoded", "forward_encoded")


def backend_name():
    import keras

    return keras.backend.backend()


def load_run(model_path):
    """``(model, preprocessing)`` of ``RUN_DIR/model.keras`` (``preprocessing.json`` beside it)."""
    from actiongen_keras.data.normalize import load_preprocessing

    model_path = Path(model_path)
    if model_path.is_dir():
        model_path = model_path / "model.keras"
    if not model_path.exists():
        raise ActiongenError(f"{model_path}: no such model (give RUN_DIR/model.keras from 'actiongen train')")
    prep = load_preprocessing(model_path.parent)


    try:
        model = actiongen_keras.load_model(model_path, compile=False)
    except (ValueError, OSError, TypeError) as e:
        raise ActiongenError(f"{model_path}: cannot load the model ({e.__class__.__name__}: {str(e).splitlines()[0]})") from None
    check_model_matches(model, prep, model_path)
    return model, prep


def check_model_matches(model, prep, where="model"):
    sig = prep.input_signature()
    for name, (shape, dtype) in sig.items():
        try:
            inp = model.get_layer(name)
        except ValueError:
            raise ActiongenError(f"{where}: the model has no input '{name}' (not an actiongen model?)") from None
        got = tuple(inp.batch_shape[1:]) if hasattr(inp, "batch_shape") else None
        if got is not None and got != tuple(shape):
            raise ActiongenError(f"{where}: input '{name}' has shape {got}, preprocessing.json says {tuple(shape)}")


def version_dir(out):
    """Check ``out`` ends with a numeric version folder (TF Serving's layout)."""
    out = Path(out)
    if not out.name.isdigit() or int(out.name) <= 0:
        raise ActiongenError(f"{out}: the export folder must be saved_models/<name>/<version> with a positive integer version")
    return out


class ServingModule:
    """The export graph around one model: the archive, its backend endpoints and the tf.functions.

    ``jit_compile``: the ``generate`` loop (encoder, every decoder step and the sampling, over
    the fixed-length decoder input) is one XLA-compiled function; without it the loop runs
    op by op on the growing prefix (several times slower, but any TensorFlow runtime runs it).
    """

    def __init__(self, model, prep, jit_compile=True):
        import keras
        import numpy as np
        import tensorflow as tf

        from actiongen_keras.export import graph as G
        from actiongen_keras.models.steps import (
            BEHAVIOUR_INPUTS,
            DEC_INPUTS,
            ENCODER_INPUTS,
            ModelSteps,
        )

        self.model, self.prep = model, prep
        self.heads = G.Heads.from_model(model)
        backend = backend_name()
        steps = ModelSteps(model)
        self.archive = archive = keras.export.ExportArchive()
        sig = prep.input_signature()
        enc = {k: tf.TensorSpec((None,) + tuple(s), tf.as_dtype(d), name=k) for k, (s, d) in sig.items()}
        # The Keras model itself (teacher forcing), also tracks the model's variables.
        self.forward = archive.track_and_add_endpoint("forward_encoded", model, input_signature=[enc])
        win_spec = G.tensor_specs(G.encoded_window_spec(prep))
        next_event = archive.add_endpoint("next_event_encoded", steps.next_event, input_signature=[win_spec])
        # encode/step: backend functions the generate loop calls; not signatures of their own
        # (ExportArchive._backend_add_endpoint: the jax2tf / tf.function wrapping without registering).
        enc_in = {k: enc[k] for k in ENCODER_INPUTS}
        probe = steps.encode({k: np.zeros((1,) + tuple(sig[k][0]), sig[k][1]) for k in ENCODER_INPUTS})
        ctx_spec = {k: tf.TensorSpec((None,) + tuple(v.shape[1:]), tf.as_dtype(keras.backend.standardize_dtype(v.dtype)), name=k)
                    for k, v in probe.items()}
        beh_spec = {k: enc[k] for k in BEHAVIOUR_INPUTS}
        dec_spec = {k: tf.TensorSpec((None, None) + tuple(sig[k][0][1:]), tf.as_dtype(sig[k][1]), name=k) for k in DEC_INPUTS}
        i_spec = tf.TensorSpec((None,), tf.int32, name="step")
        kw_enc, kw_step = {}, {}
        if backend == "jax":
            def poly(spec, second=None):
                dims = ["batch"] + [second if (d is None and second) else str(d) for d in spec.shape[1:]]
                return "(" + ", ".join(dims) + ")"

            kw_enc = {"jax2tf_kwargs": {"polymorphic_shapes": [{k: poly(v) for k, v in enc_in.items()}]}}
            kw_step = {"jax2tf_kwargs": {"polymorphic_shapes": [
                {k: poly(v) for k, v in ctx_spec.items()}, {k: poly(v) for k, v in beh_spec.items()},
                {k: poly(v, "L") for k, v in dec_spec.items()}, "(batch,)"]}}
        encode_fn = archive._backend_add_endpoint("_encode", steps.encode, [enc_in], **kw_enc)
        step_fn = archive._backend_add_endpoint("_step", steps.step, [ctx_spec, beh_spec, dec_spec, i_spec], **kw_step)
        tables = G.make_tables(prep)
        holder = tf.Module()
        holder.tables = list(tables.values())
        archive.track(holder)
        self.tables = tables
        heads = self.heads
        self.jit_compile = jit_compile = bool(jit_compile)
        window_keys = tuple(dict.fromkeys(ENCODER_INPUTS + BEHAVIOUR_INPUTS + ("bos_xy",)))

        def sample(window, temperature, seed):
            return G.generate_loop(encode_fn, step_fn, window, temperature, seed, heads, prep, fixed_prefix=jit_compile)

        # XLA: one compiled function for the numeric part (no string tables or asserts inside);
        # shapes are static per batch size (compiled on first use of each batch size).
        sample = tf.function(sample, jit_compile=True, reduce_retracing=False) if jit_compile else sample

        @tf.function(input_signature=[G.tensor_specs(G.raw_input_spec(prep))])
        def serving_default(raw):
            window = G.encode_raw(raw, prep, tables)
            return G.next_event_outputs(next_event(window), window, heads)

        @tf.function(input_signature=[G.tensor_specs(G.raw_input_spec(prep, generate=True))])
        def generate(raw):
            window = G.encode_raw(raw, prep, tables)
            temperature = G.check_temperature(raw["temperature"])
            out = sample({k: window[k] for k in window_keys}, temperature, tf.cast(raw["seed"], tf.int64))
            return G.name_generated(out, window, prep)

        self.functions = {"serving_default": serving_default, "generate": generate, "next_event_encoded": next_event}
        for name in ("serving_default", "generate"):
            fn = self.functions[name]
            fn.get_concrete_function()
            archive.add_endpoint(name, fn)

    def meta(self):
        from actiongen_keras.export import graph as G

        return {
            "format": EXPORT_FORMAT,
            "backend": backend_name(),
            "generate_jit_compile": self.jit_compile,
            "signatures": list(SIGNATURES),
            "heads": self.heads.to_dict(),
            "raw_inputs": {k: [list(s), d] for k, (s, d) in G.raw_input_spec(self.prep).items()},
            "generate_inputs": {k: [list(s), d] for k, (s, d) in G.raw_input_spec(self.prep, generate=True).items()},
            "encoded_inputs": {k: [list(s), d] for k, (s, d) in G.encoded_window_spec(self.prep).items()},
            "preprocessing": self.prep.to_dict(),
        }

    def write(self, out):
        out = Path(out)
        self.archive.write_out(str(out), verbose=False)
        extra = out / "assets.extra"
        extra.mkdir(parents=True, exist_ok=True)
        (extra / EXPORT_META).write_text(json.dumps(self.meta(), indent=1) + "\n")
        return out


def generate_window_function(model, prep, jit_compile=True):
    """The ``generate`` sampling loop in memory (TensorFlow backend), for ``generation.rollout``.

    The same :func:`~actiongen_keras.export.graph.generate_loop` as the exported ``generate``
    signature (encoder + loop as one XLA-compiled ``tf.function`` with ``jit_compile``), on
    the already-encoded window (``graph.encoded_window_spec``: the ``make_windows`` inputs
    without the decoder, plus ``bos_xy``), with the held state and the previous event's time
    given by the caller (they span more than the window's history) and the stop reasons.

    Returns ``(fn, window_keys)``: ``fn(window, temperature [B] float32, seed [B] int64,
    held_buttons [B, NUM_BUTTONS] bool, held_keys [B, num_keys] bool, last_t_rel [B] float64)``
    -> ``generate_loop``'s outputs (``count``, ``event_type_id``, ``t_ms``, ``dt_ms``, ``xy``
    (screen units), ``button_id``, ``key_id``, ``scroll`` (notch classes - 2), ``stop``).
    """
    import tensorflow as tf

    from actiongen_keras.data import features as F
    from actiongen_keras.export import graph as G
    from actiongen_keras.models.steps import (
        BEHAVIOUR_INPUTS,
        ENCODER_INPUTS,
        ModelSteps,
    )

    if backend_name() != "tensorflow":
        raise ActiongenError(f"the in-memory generate graph needs the TensorFlow backend (got {backend_name()})")
    heads = G.Heads.from_model(model)
    steps = ModelSteps(model)
    window_keys = tuple(dict.fromkeys(ENCODER_INPUTS + BEHAVIOUR_INPUTS + ("bos_xy",)))
    spec = G.tensor_specs(G.encoded_window_spec(prep))
    win_spec = {k: spec[k] for k in window_keys}
    # as ServingModule on this backend (ExportArchive._backend_add_endpoint: a tf.function)
    encode_fn = tf.function(steps.encode, autograph=False)
    step_fn = tf.function(steps.step, autograph=False)
    fixed = bool(jit_compile)

    def sample(window, temperature, seed, held_buttons, held_keys, last_t_rel):
        return G.generate_loop(encode_fn, step_fn, window, temperature, seed, heads, prep, fixed_prefix=fixed,
                               held=(held_buttons, held_keys), last_t_rel=last_t_rel, with_stop=True)

    sig = [win_spec, tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.int64),
           tf.TensorSpec([None, F.NUM_BUTTONS], tf.bool), tf.TensorSpec([None, heads.num_keys], tf.bool),
           tf.TensorSpec([None], tf.float64)]
    # one trace (batch dynamic, as inside the exported ``generate``); XLA compiles per batch size
    return tf.function(sample, input_signature=sig, jit_compile=fixed), window_keys


def export_saved_model(model_path, out, tflite=None, quantize=None, label=None, warmup=True, overwrite=False, model_name=None,
                       serving_base="/models", log=print, jit_compile=True):
    """Export ``RUN_DIR/model.keras`` to ``out`` (``saved_models/<name>/<version>``).

    ``jit_compile=False``: the ``generate`` loop without XLA (for a model server without
    XLA:CPU JIT; see :class:`ServingModule`).

    Also writes the warmup requests, updates ``saved_models/models.config`` (the folder
    above ``<name>``) with the new version and its label, and optionally a TFLite file.

    Returns ``{"saved_model": path, "models_config": path, "tflite": path | None, "label": label}``.
    """
    from actiongen_keras.export import serving

    backend = backend_name()
    if backend == "torch":
        raise ActiongenError(
            "the PyTorch backend cannot write a TensorFlow SavedModel (Keras 3.15 exports torch models only as ONNX/.pt2 "
            "without the in-graph encoding and sampling loop): run 'KERAS_BACKEND=tensorflow actiongen export ...' "
            "(or jax); model.keras itself is backend-independent"
        )
    if quantize not in (None, "dynamic"):
        raise ActiongenError(f"--quantize must be 'dynamic', got {quantize!r}")
    if quantize and not tflite:
        raise ActiongenError("--quantize applies to the TFLite file: give --tflite FILE.tflite as well")
    out = version_dir(out)
    if out.exists() and out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ActiongenError(f"{out}: already exists (TF Serving versions are immutable: export a new version number, "
                             "or give --overwrite)")
    check_output(out, overwrite, inputs=[model_path])
    model, prep = load_run(model_path)
    # Written beside the version folder and moved into place when complete: a failed
    # export leaves an existing version as it was (and TF Serving never loads half of one).
    with staged_output(out, overwrite, inputs=[model_path]) as work:
        module = ServingModule(model, prep, jit_compile=jit_compile)
        module.write(work)
        if warmup:
            serving.write_warmup(work, prep, model_name or out.parent.name)
    log(f"wrote SavedModel {out} (backend {backend}; signatures {', '.join(SIGNATURES)}; generate "
        f"{'XLA-compiled: TF Serving needs --xla_cpu_compilation_enabled=true' if jit_compile else 'without XLA'})")
    config_path, label = serving.update_models_config(out, label=label, model_name=model_name, serving_base=serving_base)
    log(f"updated {config_path}: {model_name or out.parent.name} version {out.name} labelled '{label}'")
    result = {"saved_model": out, "models_config": config_path, "tflite": None, "label": label}
    if tflite:
        from actiongen_keras.export.tflite import convert_tflite

        result["tflite"] = convert_tflite(out, tflite, quantize=quantize)
        log(f"wrote TFLite {result['tflite']} ({'dynamic-range quantised' if quantize else 'float32'}, signature next_event_encoded)")
    return result


def read_export_meta(saved_model_dir):
    p = Path(saved_model_dir) / "assets.extra" / EXPORT_META
    if not p.exists():
        raise ActiongenError(f"{saved_model_dir}: not an actiongen SavedModel (no assets.extra/{EXPORT_META})")
    d = json.loads(p.read_text())
    if d.get("format") != EXPORT_FORMAT:
        raise ActiongenError(f"{p}: format must be '{EXPORT_FORMAT}'")
    return d


def load_saved_model(saved_model_dir):
    """``tf.saved_model.load`` with a clear error."""
    import tensorflow as tf

    p = Path(saved_model_dir)
    if not (p / "saved_model.pb").exists():
        raise ActiongenError(f"{p}: no saved_model.pb (give saved_models/<name>/<version>)")
    return tf.saved_model.load(str(p))
