"""GRUDecoder: autoregressive GRU over the decoder inputs (the ablation baseline's decoder)."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="actiongen")
class GRUDecoder(keras.layers.Layer):
    """``call(dec_seq [B,T,d], context [B,c]) -> dec_hidden [B,T,units]``.

    The initial state is ``tanh(Dense(context))`` (the encoders' summaries); the GRU is
    causal by construction (step t sees decoder inputs 0..t), so a prefix decodes to the
    same outputs as the full sequence.
    """

    def __init__(self, units, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.dropout = float(dropout)
        p = self.dtype_policy
        self.init_state = keras.layers.Dense(self.units, activation="tanh", name="init_state", dtype=p)
        self.gru = keras.layers.GRU(self.units, return_sequences=True, dropout=self.dropout, name="gru", dtype=p)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm", dtype=p)

    def build(self, dec_seq_shape, context_shape):
        self.init_state.build(tuple(context_shape))
        self.gru.build(tuple(dec_seq_shape))
        self.norm.build(tuple(dec_seq_shape)[:-1] + (self.units,))
        self.built = True

    def call(self, dec_seq, context, training=None):
        h0 = self.init_state(context)
        return self.norm(self.gru(dec_seq, initial_state=[h0], training=training))

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, dropout=self.dropout)
        return config
