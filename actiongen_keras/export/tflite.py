"""TFLite: the ``next_event_encoded`` signature, float32 or dynamic-range quantised, builtin ops only.

The raw signatures (``serving_default``, ``generate``) take strings and look them up in
``tf.lookup.StaticHashTable``s, and ``generate`` runs a ``tf.while_loop`` with asserts: those
would need ``SELECT_TF_OPS`` (the Flex delegate). The TFLite file therefore holds the
encoded-input signature: the client encodes ids / standardises state with the vocabularies
and statistics in ``assets.extra/actiongen_export.json`` (or ``preprocessing.json``) and
runs the ``next_event_encoded`` signature runner.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from actiongen_keras.errors import ActiongenError

TFLITE_SIGNATURE = "next_event_encoded"


def convert_tflite(saved_model_dir, out_file, quantize=None, select_tf_ops=False, signature=TFLITE_SIGNATURE):
    """Convert one signature of an exported SavedModel to ``out_file``; returns the path."""
    out_file = Path(out_file)
    if out_file.suffix != ".tflite":
        raise ActiongenError(f"{out_file}: the TFLite file name must end in .tflite")
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[signature])
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    conv.target_spec.supported_ops = ops
    if quantize == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize is not None:
        raise ActiongenError(f"quantize must be None or 'dynamic', got {quantize!r}")
    try:
        blob = conv.convert()
    except Exception as e:  # noqa: BLE001  (the converter raises ConverterError, RuntimeError, ValueError ...)
        first = str(e).strip().splitlines()
        raise ActiongenError(f"TFLite conversion of '{signature}' failed: {first[0] if first else e.__class__.__name__}") from None
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(blob)
    return out_file


class TFLiteRunner:
    """The ``next_event_encoded`` signature runner of a TFLite file; ``runner(encoded) -> dict``."""

    def __init__(self, path, num_threads=1):
        path = Path(path)
        if not path.exists():
            raise ActiongenError(f"{path}: no such TFLite file")
        self.interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=num_threads)
        sigs = self.interpreter.get_signature_list()
        if TFLITE_SIGNATURE not in sigs:
            raise ActiongenError(f"{path}: no '{TFLITE_SIGNATURE}' signature (has {sorted(sigs)})")
        self.runner = self.interpreter.get_signature_runner(TFLITE_SIGNATURE)
        self.input_details = self.runner.get_input_details()

    def __call__(self, encoded):
        names = set(self.input_details)
        missing = names - set(encoded)
        unknown = set(encoded) - names
        if missing or unknown:
            raise ActiongenError(f"{TFLITE_SIGNATURE}: missing input(s) {sorted(missing)}, unknown input(s) {sorted(unknown)}")
        feed = {}
        for k, d in self.input_details.items():
            a = np.asarray(encoded[k])
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ActiongenError(f"{TFLITE_SIGNATURE}: input '{k}' contains NaN or Inf")
            want = tuple(int(s) for s in d["shape_signature"][1:])
            if tuple(a.shape[1:]) != tuple(w if w > 0 else a.shape[1 + i] for i, w in enumerate(want)):
                raise ActiongenError(f"{TFLITE_SIGNATURE}: input '{k}' must have shape (B, {', '.join(map(str, want))}), got {a.shape}")
            feed[k] = a.astype(d["dtype"])
        return self.runner(**feed)
