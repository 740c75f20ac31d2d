"""``actiongen export`` and ``actiongen serve-request`` (hooked into ``actiongen_keras/cli.py``).

``add_export_parsers(subparsers)`` adds both commands to the main parser's subparsers; each
sets ``func`` (returns the exit status; ActiongenError is turned into one line by ``main``).
The export modules (TensorFlow) are imported inside the commands, so building the parser does not.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from google.protobuf import text_format

from actiongen_keras.cliargs import finite_float
from actiongen_keras.config import COMPILED_SAMPLING
from actiongen_keras.data.normalize import load_preprocessing
from actiongen_keras.errors import ActiongenError
from actiongen_keras.evaluation.cli import sampling_args


def _cmd_export(args):
    from actiongen_keras.export.saved_model import export_saved_model  # deferred: imports TensorFlow

    export_saved_model(
        args.model, args.out, tflite=args.tflite, quantize=args.quantize, label=args.label, warmup=not args.no_warmup,
        overwrite=args.overwrite, model_name=args.model_name, serving_base=args.serving_base,
        log=lambda msg: print(msg, file=sys.stderr), jit_compile=not args.no_xla,
        sampling={k: getattr(args, k) for k in COMPILED_SAMPLING},
    )
    return 0


def _model_meta(model):
    """Export metadata of a SavedModel version folder, or of a run's model.keras (via its preprocessing)."""
    from actiongen_keras.export.saved_model import read_export_meta  # deferred: imports TensorFlow

    p = Path(model)
    if p.is_dir() and (p / "saved_model.pb").exists():
        return read_export_meta(p)
    from actiongen_keras.export import graph as G  # deferred: imports TensorFlow

    run_dir = p.parent if p.suffix == ".keras" else p
    if not run_dir.exists():
        raise ActiongenError(f"{model}: no such SavedModel version folder or run folder")
    prep = load_preprocessing(run_dir)
    return {
        "raw_inputs": {k: [list(s), d] for k, (s, d) in G.raw_input_spec(prep).items()},
        "generate_inputs": {k: [list(s), d] for k, (s, d) in G.raw_input_spec(prep, generate=True).items()},
        "preprocessing": prep.to_dict(),
    }


def _cmd_serve_request(args):
    from actiongen_keras.export.requests import build_request  # deferred: imports TensorFlow

    meta = _model_meta(args.model)
    req = build_request(meta, args.window, signature=args.signature, fmt=args.format, model_name=args.model_name, label=args.label,
                        temperature=args.temperature, seed=args.seed, rest_format=args.rest_format)
    if args.format == "rest":
        text = json.dumps(req)
        if args.out:
            _write_file(args.out, (text + "\n").encode("utf-8"))
        else:
            print(text)
        return 0
    if args.out:
        _write_file(args.out, req.SerializeToString())
        print(f"wrote {args.out} (serialized tensorflow.serving.PredictRequest)", file=sys.stderr)
    else:
        print(text_format.MessageToString(req))
    return 0


def _write_file(path, data):
    """Write ``data`` to ``path`` whole (a temporary file renamed into place), or one clear error."""
    path = Path(path)
    if path.is_dir():
        raise ActiongenError(f"{path}: is a folder (--out names the file to write)")
    if not path.parent.is_dir():
        raise ActiongenError(f"{path}: the folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as e:
        raise ActiongenError(f"{path}: cannot write ({e.strerror})") from None


def add_export_parsers(subparsers):
    s = subparsers.add_parser("export", help="export a run's model.keras as a TF Serving SavedModel version (+ TFLite)")
    s.add_argument("--model", required=True, help="RUN_DIR/model.keras (preprocessing.json beside it)")
    s.add_argument("--out", required=True, help="saved_models/<name>/<version> (positive integer version)")
    s.add_argument("--tflite", help="also write the next_event_encoded signature as FILE.tflite")
    s.add_argument("--quantize", choices=["dynamic"], help="dynamic-range quantise the TFLite file")
    s.add_argument("--label", choices=["stable", "canary"], help="version label in models.config (default: stable for the first "
                   "version, canary for later ones)")
    s.add_argument("--model-name", help="model name in models.config (default: the <name> folder)")
    s.add_argument("--serving-base", default="/models", help="base_path prefix inside the serving container (default /models)")
    s.add_argument("--no-warmup", action="store_true", help="skip assets.extra/tf_serving_warmup_requests")
    s.add_argument("--overwrite", action="store_true", help="replace an existing version folder")
    s.add_argument("--no-xla", action="store_true", help="generate loop without XLA (for a model server without "
                   "--xla_cpu_compilation_enabled; several times slower)")
    sampling_args(s, COMPILED_SAMPLING)  # compiled into the generate signature; temperature and seed are request inputs
    s.set_defaults(func=_cmd_export)

    s = subparsers.add_parser("serve-request", help="the REST JSON or gRPC PredictRequest of one window for TF Serving")
    s.add_argument("--model", required=True, help="saved_models/<name>/<version> or RUN_DIR/model.keras")
    s.add_argument("--window", required=True, help="SESSION_DIR@T_MS: the window of that session at boundary T (ms)")
    s.add_argument("--format", choices=["rest", "grpc"], default="rest")
    s.add_argument("--rest-format", choices=["instances", "inputs"], default="instances", help="REST row or columnar format")
    s.add_argument("--signature", choices=["serving_default", "generate"], default="serving_default")
    s.add_argument("--temperature", type=finite_float(0.0), default=0.0, help="generate only (0 = greedy)")
    s.add_argument("--seed", type=int, default=0, help="generate only")
    s.add_argument("--model-name", default="actiongen", help="gRPC model_spec.name")
    s.add_argument("--label", help="gRPC model_spec.version_label (stable, canary)")
    s.add_argument("--out", help="write here (gRPC: the serialized PredictRequest) instead of stdout")
    s.set_defaults(func=_cmd_serve_request)
    return subparsers
