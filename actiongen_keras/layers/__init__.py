"""Keras 3 layers of the action model (keras.ops only: TensorFlow, JAX and PyTorch).

One layer per module; every layer is registered under the ``actiongen`` package for
``.keras`` saving.
"""

from actiongen_keras.layers.attention_decoder import AdvancedAttentionDecoder
from actiongen_keras.layers.chunked_attention import ChunkedAttention
from actiongen_keras.layers.context_aware_generator import (
    ContextAwareActionGenerator,
    behaviour_features,
    split_xy_params,
    xy_log_prob,
    xy_tail,
)
from actiongen_keras.layers.efficient_attention import EfficientAttention
from actiongen_keras.layers.event_embedding import EventEmbedding
from actiongen_keras.layers.gru_decoder import GRUDecoder
from actiongen_keras.layers.gru_encoder import MaskedGRUEncoder
from actiongen_keras.layers.keystroke_timing import KeystrokeNLL, KeystrokeTimingMixture, keystroke_log_prob
from actiongen_keras.layers.multi_scale_timing import MultiScaleTimingProcessor
from actiongen_keras.layers.pixel_dequantization import PixelDequantization
from actiongen_keras.layers.state_anchor_query import StateAnchorQuery
from actiongen_keras.layers.state_embedding import StateEmbedding
from actiongen_keras.layers.temporal_position_encoding import TemporalPositionEncoding
from actiongen_keras.layers.transformer_block import TransformerBlock

__all__ = [
    "AdvancedAttentionDecoder",
    "ChunkedAttention",
    "ContextAwareActionGenerator",
    "EfficientAttention",
    "EventEmbedding",
    "GRUDecoder",
    "KeystrokeNLL",
    "KeystrokeTimingMixture",
    "MaskedGRUEncoder",
    "MultiScaleTimingProcessor",
    "PixelDequantization",
    "StateAnchorQuery",
    "StateEmbedding",
    "TemporalPositionEncoding",
    "TransformerBlock",
    "behaviour_features",
    "keystroke_log_prob",
    "split_xy_params",
    "xy_log_prob",
    "xy_tail",
]
