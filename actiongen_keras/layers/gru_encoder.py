"""MaskedGRUEncoder: GRU over a padded/masked sequence (the ablation baseline's encoder)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="actiongen")
class MaskedGRUEncoder(keras.layers.Layer):
    """``call(seq [B,L,d], mask [B,L]) -> (outputs [B,L,units], summary [B,units])``.

    Steps where ``mask == 0`` (history padding, ticks without state) are skipped: the GRU
    carries its state over them, so their contents have no effect and ``summary`` (the
    final state) is the state after the last real step (zeros if there is none).
    """

    def __init__(self, units, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        self.gru = keras.layers.GRU(self.units, return_sequences=True, return_state=True, dropout=self.dropout, name="gru", dtype=self.dtype_policy)

    def build(self, seq_shape, mask_shape=None):
        self.gru.build(tuple(seq_shape))
        self.built = True

    def call(self, seq, mask, training=None):
        valid = ops.not_equal(ops.cast(mask, "float32"), 0.0)
        outputs, state = self.gru(seq, mask=valid, training=training)
        outputs = ops.where(valid[..., None], outputs, 0.0)
        return outputs, state

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout)
        return config
