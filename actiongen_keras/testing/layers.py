"""``run_layer_test``: the checks every custom layer passes, in the spirit of keras-hub's.

1. ``build()`` creates every weight: after ``layer.build(*input_shapes)`` (tensor keyword
   inputs as ``<name>_shape``, as Keras passes them) a call adds none;
2. ``get_config`` round trip: ``from_config(get_config())`` has the same config;
3. serialization: ``serialize_keras_object`` -> ``deserialize_keras_object``, the same
   weights, identical outputs (a reloaded model can never silently change);
4. mixed precision: under ``mixed_float16`` and ``mixed_bfloat16`` the variables stay
   float32 and the outputs are finite; JAX on a CPU runs ``mixed_bfloat16`` only: XLA on a CPU cannot
   compile float16 products accumulated in float32 (Keras's own ``MultiHeadAttention``
   under ``mixed_float16``: "precision F16_F16_F32 is not supported by dot_general on
   CPU"), so a jitted JAX ``fit`` or ``predict`` of any attention model fails there under
   that policy; eager calls, compiled op by op, happen to run (the JAX contract test took
   160 s with them and 107 s without, in full-suite runs on the 2-core VM).

It runs on whichever backend Keras was started with; ``tests/layers/test_layer_contract.py``
runs the layer tests under JAX and PyTorch in subprocesses.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def mixed_policies():
    """The mixed-precision policies this backend runs (see the module docstring)."""
    if keras.backend.backend() == "jax":
        import jax  # only with the jax extra

        if jax.default_backend() == "cpu":
            return ("mixed_bfloat16",)
    return MIXED_POLICIES


def _numpy(outputs):
    return [np.asarray(ops.convert_to_numpy(o), dtype=np.float64) for o in keras.tree.flatten(outputs)]


def run_layer_test(layer_cls, init_kwargs, input_data, call_kwargs=None, expected_output_shape=None, mixed_precision=True, atol=1e-6):
    """Run the module's checks on ``layer_cls(**init_kwargs)``; returns the layer's outputs (NumPy, flattened).

    ``input_data``: one array or a tuple of the positional inputs; ``call_kwargs``: the other
    call arguments (``training=False`` is the default of every layer here);
    ``expected_output_shape``: the shape of a single output, or a list of shapes in
    ``keras.tree.flatten`` order.
    """
    args = input_data if isinstance(input_data, tuple) else (input_data,)
    call_kwargs = dict(call_kwargs or {})
    shapes = [tuple(np.shape(a)) for a in args]
    # tensor keyword inputs build by name, as Keras does: ``context=...`` -> ``build(..., context_shape=...)``
    kw_shapes = {f"{k}_shape": tuple(np.shape(v)) for k, v in call_kwargs.items() if hasattr(v, "shape")}

    layer = layer_cls(**init_kwargs)
    layer.build(*shapes, **kw_shapes)
    assert layer.built, f"{layer_cls.__name__}.build() did not mark the layer built"
    n_weights = len(layer.weights)
    outputs = layer(*args, **call_kwargs)
    assert len(layer.weights) == n_weights, (
        f"{layer_cls.__name__}: {len(layer.weights) - n_weights} weight(s) created on the first call, not in build()"
    )
    values = _numpy(outputs)
    if expected_output_shape is not None:
        want = expected_output_shape if isinstance(expected_output_shape, list) else [expected_output_shape]
        assert [v.shape for v in values] == [tuple(s) for s in want], ([v.shape for v in values], want)
    for v in values:
        assert np.isfinite(v).all(), f"{layer_cls.__name__}: non-finite outputs"

    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config, f"{layer_cls.__name__}: get_config does not round-trip"

    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is layer_cls
    if not restored.built:  # the serialized build config builds it when it has the input shapes
        restored.build(*shapes, **kw_shapes)
    restored.set_weights(layer.get_weights())
    for a, b in zip(_numpy(restored(*args, **call_kwargs)), values):
        np.testing.assert_allclose(a, b, atol=atol, err_msg=f"{layer_cls.__name__}: reloaded outputs differ")

    if mixed_precision:
        for policy in mixed_policies():
            mixed = layer_cls(**init_kwargs, dtype=policy)
            mixed.build(*shapes, **kw_shapes)
            out = _numpy(mixed(*args, **call_kwargs))
            assert all(w.dtype == "float32" for w in mixed.weights), f"{layer_cls.__name__} under {policy}: variables not float32"
            assert all(np.isfinite(v).all() for v in out), f"{layer_cls.__name__} under {policy}: non-finite outputs"
    return values
