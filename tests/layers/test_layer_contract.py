"""Every layer converted to ``actiongen_keras.testing.layers.run_layer_test``: weights built in
``build()``, config round trip, reloaded to identical outputs, mixed precision; on this
backend, and on JAX and PyTorch in subprocesses.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers import (
    AdvancedAttentionDecoder,
    ChunkedAttention,
    ContextAwareActionGenerator,
    EfficientAttention,
    EventEmbedding,
    GRUDecoder,
    MaskedGRUEncoder,
    MultiScaleTimingProcessor,
    PixelDequantization,
    StateAnchorQuery,
    StateEmbedding,
    TemporalPositionEncoding,
    TransformerBlock,
)
from actiongen_keras.testing.layers import run_layer_test
from actiongen_keras.testing.paths import REPO_ROOT

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 6, 8)).astype("float32")
MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], "float32")
CONTEXT = RNG.normal(size=(2, 3, 8)).astype("float32")
# ContextAwareActionGenerator's 15 inputs: decoder output, summaries, 4 decoder steps, 6 history events, 3 anchors
GENERATOR_INPUTS = (
    RNG.normal(size=(2, 4, 8)).astype("float32"), RNG.normal(size=(2, 8)).astype("float32"), RNG.normal(size=(2, 8)).astype("float32"),
    np.array([[F.BOS, F.MOVE, F.PRESS, F.MOVE], [F.BOS, F.KEY_DOWN, F.EOS, F.PAD]], "int32"),
    RNG.exponential(100, (2, 4)).astype("float32"), RNG.exponential(30, (2, 4)).astype("float32"), RNG.random((2, 4, 2)).astype("float32"),
    np.array([[0, F.MOVE, F.PRESS, F.MOVE, F.RELEASE, F.MOVE], [0, 0, 0, 0, 0, 0]], "int32"), RNG.exponential(30, (2, 6)).astype("float32"),
    RNG.exponential(300, (2, 6)).astype("float32"), RNG.random((2, 6, 2)).astype("float32"), np.array([[1920, 1080], [1280, 720]], "float32"),
    RNG.random((2, 3, 2)).astype("float32"), RNG.normal(200, 300, (2, 3)).astype("float32"), np.array([[1, 1, 0], [0, 0, 0]], "float32"),
)

CASES = {
    "temporal_position_encoding": (TemporalPositionEncoding, {"output_dim": 6, "num_frequencies": 3, "scales_ms": (50.0, 500.0)},
                                   np.array([[1.0, 10.0, 600.0]], "float32"), {}, (1, 3, 6)),
    "chunked_attention": (ChunkedAttention, {"num_heads": 2, "key_dim": 4}, (X, X), {}, (2, 6, 8)),
    "efficient_attention": (EfficientAttention, {"d_model": 8, "num_heads": 2}, (X, X, MASK), {}, (2, 6, 8)),
    "transformer_block": (TransformerBlock, {"d_model": 8, "num_heads": 2, "ff_dim": 16}, X, {"key_mask": MASK}, (2, 6, 8)),
    "transformer_block_causal_cross": (TransformerBlock, {"d_model": 8, "num_heads": 2, "ff_dim": 16, "causal": True, "cross_attention": True},
                                       X, {"key_mask": MASK, "context": CONTEXT, "context_mask": np.array([[1, 0, 1], [1, 1, 1]], "float32")},
                                       (2, 6, 8)),
    "transformer_block_efficient": (TransformerBlock, {"d_model": 8, "num_heads": 2, "ff_dim": 16, "efficient": True}, X, {"key_mask": MASK},
                                    (2, 6, 8)),
    "state_anchor_query": (StateAnchorQuery, {"d_model": 8, "num_anchors": 3},
                           (RNG.random((2, 3, 2)).astype("float32"), RNG.normal(0, 300, (2, 3)).astype("float32"),
                            np.array([[1, 1, 0], [0, 0, 0]], "float32"), RNG.random((2, 5, 2)).astype("float32"),
                            np.sort(RNG.uniform(0, 600, (2, 5)), axis=1).astype("float32")), {}, [(2, 5, 8), (2, 5, 2)]),
    "state_anchor_query_event_bias": (StateAnchorQuery, {"d_model": 8, "num_anchors": 3, "num_event_classes": F.NUM_EVENT_CLASSES},
                                      (RNG.random((2, 3, 2)).astype("float32"), RNG.normal(0, 300, (2, 3)).astype("float32"),
                                       np.array([[1, 1, 0], [0, 0, 0]], "float32"), RNG.random((2, 5, 2)).astype("float32"),
                                       np.sort(RNG.uniform(0, 600, (2, 5)), axis=1).astype("float32")), {},
                                      [(2, 5, 8), (2, 5, 2), (2, 5, F.NUM_EVENT_CLASSES)]),
    "attention_decoder": (AdvancedAttentionDecoder, {"d_model": 8, "num_heads": 2, "num_layers": 1, "ff_dim": 16, "max_actions": 4},
                          (RNG.normal(size=(2, 3, 8)).astype("float32"), np.array([[1, 0, 1], [0, 0, 0]], "float32"), X, MASK,
                           RNG.normal(size=(2, 5, 8)).astype("float32")), {}, [(2, 5, 8), (2, 8), (2, 8), (2, 5)]),
    "state_embedding": (StateEmbedding, {"d_model": 8, "num_numeric": 3, "categorical_vocab_sizes": (4, 5), "history_ticks": 3},
                        (RNG.normal(size=(2, 3, 3)).astype("float32"), RNG.integers(0, 4, (2, 3, 2)).astype("int32")), {}, (2, 3, 8)),
    "state_embedding_without_state": (StateEmbedding, {"d_model": 8, "num_numeric": 0, "history_ticks": 3},
                                      (np.zeros((2, 3, 0), "float32"), np.zeros((2, 3, 0), "int32")), {}, (2, 3, 8)),
    "event_embedding": (EventEmbedding, {"d_model": 8, "num_keys": 6, "key_embedding_dim": 4},
                        (RNG.integers(0, 8, (2, 5)).astype("int32"), RNG.integers(0, 3, (2, 5)).astype("int32"),
                         RNG.integers(0, 6, (2, 5)).astype("int32"), RNG.integers(0, 3, (2, 5, 2)).astype("int32"),
                         RNG.exponential(50, (2, 5)).astype("float32"), RNG.uniform(-6000, 600, (2, 5)).astype("float32"),
                         RNG.random((2, 5, 2)).astype("float32")), {}, (2, 5, 8)),
    "masked_gru_encoder": (MaskedGRUEncoder, {"units": 5}, (X, MASK), {}, [(2, 6, 5), (2, 5)]),
    "multi_scale_timing": (MultiScaleTimingProcessor, {"num_components": 2, "hidden_dim": 8}, X, {}, (2, 6, 3 + 9 * 2)),
    "context_aware_generator": (ContextAwareActionGenerator, {"d_model": 8, "num_keys": 5, "num_xy_mixtures": 3, "num_timing_components": 2,
                                                              "num_anchors": 3}, GENERATOR_INPUTS, {},
                                [(2, 4, F.NUM_EVENT_CLASSES), (2, 4, 3 + 9 * 2), (2, 4, 7 * 3 - 6), (2, 4, F.NUM_BUTTONS), (2, 4, 5),
                                 (2, 4, 2, F.NUM_SCROLL_CLASSES), (2, 4, 3 + 9 * 2)]),
    "context_aware_generator_anchor_event_bias": (ContextAwareActionGenerator, {"d_model": 8, "num_keys": 5, "num_xy_mixtures": 3,
                                                                                 "num_timing_components": 2, "num_anchors": 3,
                                                                                 "anchor_event_bias": True}, GENERATOR_INPUTS, {},
                                                  [(2, 4, F.NUM_EVENT_CLASSES), (2, 4, 3 + 9 * 2), (2, 4, 7 * 3 - 6), (2, 4, F.NUM_BUTTONS),
                                                   (2, 4, 5), (2, 4, 2, F.NUM_SCROLL_CLASSES), (2, 4, 3 + 9 * 2)]),
    "pixel_dequantization": (PixelDequantization, {"num_mixtures": 3, "pixels": 1.0, "seed": 1},
                             (RNG.normal(size=(2, 4, 15)).astype("float32"), np.array([[1920, 1080], [1280, 720]], "float32")), {}, (2, 4, 15)),
    "gru_decoder": (GRUDecoder, {"units": 5}, (X, RNG.normal(size=(2, 4)).astype("float32")), {}, (2, 6, 5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name):
    cls, kwargs, inputs, call_kwargs, shape = CASES[name]
    run_layer_test(cls, kwargs, inputs, call_kwargs, expected_output_shape=shape)


class _WeightInCall(keras.layers.Layer):
    """A faulty layer: creates its kernel on the first call instead of in build()."""

    def build(self, input_shape):
        self.built = True

    def call(self, x):
        if not hasattr(self, "kernel"):
            self.kernel = self.add_weight(shape=(x.shape[-1], 3), initializer="ones")
        return ops.matmul(x, self.kernel)


@keras.saving.register_keras_serializable(package="test_layer_contract")
class _ForgetsConfig(keras.layers.Layer):
    """A faulty layer: its scale changes the outputs but is not in get_config."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        return x * self.scale

    def get_config(self):
        return {k: v for k, v in super().get_config().items() if k != "scale"}


class _UnlockedWeightInCall(_WeightInCall):
    """The same fault past Keras's lock (a layer that unlocks its state tracker)."""

    def call(self, x):
        self._tracker.unlock()
        return super().call(x)


def test_layer_contract_harness_catches_a_weight_made_in_call():
    """Keras itself refuses state added to a built layer; the harness's own weight count
    catches a layer that gets past that lock."""
    with pytest.raises(ValueError, match="cannot add new elements of state"):
        run_layer_test(_WeightInCall, {}, X)
    with pytest.raises(AssertionError, match="1 weight\\(s\\) created on the first call, not in build"):
        run_layer_test(_UnlockedWeightInCall, {}, X)


def test_layer_contract_harness_catches_a_config_that_forgets_an_argument():
    with pytest.raises(AssertionError, match="reloaded outputs differ"):
        run_layer_test(_ForgetsConfig, {"scale": 2.0}, X)


N_CONTRACT_TESTS = len(CASES) + 2  # the cases and the two harness checks


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_layer_contract_on_backend(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "test_layer_contract and not on_backend"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900, check=False)
    assert p.returncode == 0 and f"{N_CONTRACT_TESTS} passed" in p.stdout, (p.stdout[-3000:], p.stderr[-3000:])
