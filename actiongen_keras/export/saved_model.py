"""``export_saved_model``: a run's ``model.keras`` -> a TF Serving-ready SavedModel version folder.

Signatures (batch dimension dynamic everywhere; inputs/outputs in ``saved_models/README.md``):

* ``serving_default``: raw window -> the next event's distributions (every head, decoder
  step 0) plus ``event_type_probs``, ``timing_median_ms`` and ``xy_point_px``;
* ``generate``: raw window + ``temperature`` + ``seed`` + ``recorder`` (the context's clock
  and pixel grid, zeros = off) -> up to ``max_actions`` events of the next ``target_ms`` (the package's one sampling loop, ``generation.sampler.sample_window``,
  in the graph; encoder + loop compiled with XLA, so TF Serving needs
  ``--xla_cpu_compilation_enabled=true``, unless exported with ``jit_compile=False``); its
  sampling options (``top_k``, ``top_p``, ``xy_noise_corr``, ``xy_top_p``) are compiled in:
  by default the run's ``config.json`` ``generation`` section, what ``actiongen evaluate``
  and ``generate`` sample with (``temperature`` and ``seed`` are inputs of every request);
* ``next_event_encoded``: already-encoded window (ids, standardised state, screen units)
  -> the step-0 heads; builtin ops only, the TFLite entry point;
* ``forward_encoded``: the Keras model itself (teacher forcing, all ``A + 1`` steps).

The forward pass comes from :class:`keras.export.ExportArchive` (``track_and_add_endpoint``),
so the TensorFlow and the JAX backends (jax2tf) export the same signatures, the sampling
loop included; the encoding and vocabularies (``tf.lookup.StaticHashTable``) are
TensorFlow ops around it (:mod:`actiongen_keras.export.graph`).

The version folder also gets ``assets.extra/actiongen_export.json`` (the preprocessing,
head sizes, input specs and the ``generate`` signature's sampling options: all a client needs) and ``assets.extra/tf_serving_warmup_requests``.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import tensorflow as tf

import actiongen_keras
from actiongen_keras.atomic import check_output, staged_output
from actiongen_keras.config import COMPILED_SAMPLING
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.errors import ActiongenError
from actiongen_keras.export import graph as G
from actiongen_keras.export import serving
from actiongen_keras.export.tflite import convert_tflite
from actiongen_keras.generation.run import run_sampling
from actiongen_keras.generation.sampler import SamplingConfig, frozen_weights, sample_window
from actiongen_keras.models.steps import WINDOW_INPUTS, ModelSteps

EXPORT_FORMAT = "actiongen-export/1"
EXPORT_META = "actiongen_export.json"
SIGNATURES = ("serving_default", "generate", "next_event_encoded", "forward_encoded")


def backend_name():
    return keras.backend.backend()


def load_run(model_path):
    """``(model, preprocessing)`` of ``RUN_DIR/model.keras`` (``preprocessing.json`` beside it)."""
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
    for name, (shape, _dtype) in sig.items():
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

    The model's computation comes from :class:`~actiongen_keras.models.steps.ModelSteps` and
    the one sampling loop (:func:`~actiongen_keras.generation.sampler.sample_window`), added as
    backend endpoints of the :class:`keras.export.ExportArchive` (``tf.function``s on
    TensorFlow, jax2tf-converted on JAX); the string tables and the raw-input encoding are
    TensorFlow ops around them (:mod:`actiongen_keras.export.graph`).

    ``jit_compile``: the ``generate`` loop (encoder, every decoder step and the sampling) is
    one XLA-compiled function; without it the loop runs op by op (slower, but any
    TensorFlow runtime runs it). ``sampling``: the :class:`SamplingConfig` whose compiled-in
    options (``static()``: top-k, top-p, position-noise correlation, position nucleus,
    dwell) the ``generate`` loop samples with (default: the loop's defaults).
    """

    def __init__(self, model, prep, jit_compile=True, sampling=None):
        self.model, self.prep = model, prep
        self.sampling = (sampling or SamplingConfig()).static()
        self.heads = G.head_sizes(model)
        backend = backend_name()
        steps = ModelSteps(model)
        target_ms = float(prep.data_config.target_ms)
        self.archive = archive = keras.export.ExportArchive()
        sig = prep.input_signature()
        enc = {k: tf.TensorSpec((None,) + tuple(s), tf.as_dtype(d), name=k) for k, (s, d) in sig.items()}
        # The Keras model itself (teacher forcing), also tracks the model's variables.
        self.forward = archive.track_and_add_endpoint("forward_encoded", model, input_signature=[enc])
        win_spec = G.tensor_specs(G.encoded_window_spec(prep))
        next_event = archive.add_endpoint("next_event_encoded", steps.next_event, input_signature=[win_spec])
        # Backend functions the signatures call, not signatures of their own
        # (ExportArchive._backend_add_endpoint: the jax2tf / tf.function wrapping without registering).
        gen_spec = [{k: win_spec[k] for k in WINDOW_INPUTS}, tf.TensorSpec((None,), tf.float32, name="temperature"),
                    tf.TensorSpec((None,), tf.int32, name="seed"), tf.TensorSpec((None, 5), tf.float32, name="recorder")]
        kw_points, kw_gen = {}, {}
        if backend == "jax":
            def poly(spec):
                return "(" + ", ".join(["batch"] + [str(d) for d in spec.shape[1:]]) + ")"

            kw_points = {"jax2tf_kwargs": {"polymorphic_shapes": [{k: poly(v) for k, v in win_spec.items()}]}}
            # with_gradient=False: the loop's outputs are integer ids and sampled values; a gradient
            # function for them cannot be traced, and SavedModel would try to
            kw_gen = {"jax2tf_kwargs": {"polymorphic_shapes": [{k: poly(v) for k, v in gen_spec[0].items()}, "(batch,)", "(batch,)", "(batch, 5)"],
                                        "with_gradient": False}}
        points = archive._backend_add_endpoint("_next_event_points", steps.next_event_points, [win_spec], **kw_points)

        def sample(window, temperature, seed, recorder):
            return sample_window(steps, window, temperature, seed, clock=recorder, target_ms=target_ms, **self.sampling)

        sample = archive._backend_add_endpoint("_generate", sample, gen_spec, **kw_gen)
        tables = G.make_tables(prep)
        holder = tf.Module()
        holder.tables = list(tables.values())
        archive.track(holder)
        self.tables = tables
        self.jit_compile = jit_compile = bool(jit_compile)
        if jit_compile:
            # XLA: one compiled function for the numeric part (no string tables or asserts inside),
            # compiled on first use of each batch size.
            # On TensorFlow the weights are constants of that function (frozen_weights: XLA lays
            # them out for their dots at compile time; the other signatures keep the variables).
            if backend == "tensorflow":
                sample = frozen_weights(sample, model)
            sample = tf.function(sample, jit_compile=True, reduce_retracing=False)

        @tf.function(input_signature=[G.tensor_specs(G.raw_input_spec(prep))])
        def serving_default(raw):
            window = G.encode_raw(raw, prep, tables)
            return G.next_event_outputs(points(window), window)

        @tf.function(input_signature=[G.tensor_specs(G.raw_input_spec(prep, generate=True))])
        def generate(raw):
            window = G.encode_raw(raw, prep, tables)
            temperature = G.check_temperature(raw["temperature"])
            out = sample({k: window[k] for k in WINDOW_INPUTS}, temperature, G.seed32(raw["seed"]), G.check_recorder(raw["recorder"]))
            return G.name_generated(out, window, prep)

        self.functions = {"serving_default": serving_default, "generate": generate, "next_event_encoded": next_event}
        for name in ("serving_default", "generate"):
            fn = self.functions[name]
            fn.get_concrete_function()
            archive.add_endpoint(name, fn)

    def meta(self):
        return {
            "format": EXPORT_FORMAT,
            "backend": backend_name(),
            "generate_jit_compile": self.jit_compile,
            "generate_sampling": dict(self.sampling),
            "signatures": list(SIGNATURES),
            "heads": self.heads,
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


def export_saved_model(model_path, out, tflite=None, quantize=None, label=None, warmup=True, overwrite=False, model_name=None,
                       serving_base="/models", log=print, jit_compile=True, sampling=None):
    """Export ``RUN_DIR/model.keras`` to ``out`` (``saved_models/<name>/<version>``).

    ``jit_compile=False``: the ``generate`` loop without XLA (for a model server without
    XLA:CPU JIT; see :class:`ServingModule`). ``sampling``: ``{top_k, top_p, xy_noise_corr,
    xy_top_p}`` compiled into the ``generate`` loop, each one not given taken from the run's
    ``config.json`` ``generation`` section (:func:`export_sampling`).

    Also writes the warmup requests, updates ``saved_models/models.config`` (the folder
    above ``<name>``) with the new version and its label, and optionally a TFLite file.

    Returns ``{"saved_model": path, "models_config": path, "tflite": path | None, "label": label}``.
    """
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
    sampling_config = export_sampling(model_path, sampling)
    # Written beside the version folder and moved into place when complete: a failed
    # export leaves an existing version as it was (and TF Serving never loads half of one).
    with staged_output(out, overwrite, inputs=[model_path]) as work:
        module = ServingModule(model, prep, jit_compile=jit_compile, sampling=sampling_config)
        module.write(work)
        if warmup:
            serving.write_warmup(work, prep, model_name or out.parent.name)
    log(f"wrote SavedModel {out} (backend {backend}; signatures {', '.join(SIGNATURES)}; generate "
        f"{'XLA-compiled: TF Serving needs --xla_cpu_compilation_enabled=true' if jit_compile else 'without XLA'}, sampling "
        + ", ".join(f"{k} {v}" for k, v in module.sampling.items() if k in COMPILED_SAMPLING) + ")")
    config_path, label = serving.update_models_config(out, label=label, model_name=model_name, serving_base=serving_base)
    log(f"updated {config_path}: {model_name or out.parent.name} version {out.name} labelled '{label}'")
    result = {"saved_model": out, "models_config": config_path, "tflite": None, "label": label}
    if tflite:
        result["tflite"] = convert_tflite(out, tflite, quantize=quantize)
        log(f"wrote TFLite {result['tflite']} ({'dynamic-range quantised' if quantize else 'float32'}, signature next_event_encoded)")
    return result


def export_sampling(model_path, given=None):
    """The :class:`SamplingConfig` of an export's ``generate`` loop: the options in ``given``
    (``{name: value}`` of :data:`~actiongen_keras.config.COMPILED_SAMPLING`), the others the
    run's (:func:`~actiongen_keras.generation.run.run_sampling`)."""
    try:
        return SamplingConfig(**run_sampling(model_path, given, COMPILED_SAMPLING))
    except ValueError as e:
        raise ActiongenError(str(e)) from None


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
    p = Path(saved_model_dir)
    if not (p / "saved_model.pb").exists():
        raise ActiongenError(f"{p}: no saved_model.pb (give saved_models/<name>/<version>)")
    return tf.saved_model.load(str(p))
