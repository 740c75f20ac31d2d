"""PixelDequantization: in training, spreads the position targets over their pixel."""

from __future__ import annotations

import keras
from keras import ops

from actiongen_keras.layers.context_aware_generator import POLAR_FRAMES


@keras.saving.register_keras_serializable(package="actiongen")
class PixelDequantization(keras.layers.Layer):
    """Shifts each event's xy mixture means by ``u * pixels / screen`` in training.

    Recorders store whole pixels (SapiMouse, Balabit, OSRS, a browser), and a continuous
    density fitted to integers can spend its mass on the grid: sigmas shrink towards zero
    at every target that repeats a position exactly. Training on targets spread uniformly
    over their pixel (``y + u``, ``u ~ U(-pixels/2, pixels/2)`` per axis, in screen pixels)
    is the standard cure (dequantization); the NLL of ``y + u`` under ``N(mu, sigma)``
    equals that of ``y`` under ``N(mu - u, sigma)``, so the layer moves the means instead
    of the targets (the loss and the data stay as they are). One draw per event, shared by
    all components. Outside training it returns its input unchanged, so generation,
    evaluation and exports never see it.

    Inputs: ``params [B, T, 5M (+2)]`` (:func:`~actiongen_keras.layers.split_xy_params`
    layout; :func:`~actiongen_keras.layers.xy_tail`) and ``screen [B, 2]`` (pixels).
    ``pixels`` 0 turns it off. ``frame`` is the head's ``xy_frame``: a polar head's density
    is measured from the cursor it appends, so the cursor moves with the means (the step
    ``y + u - cursor`` equals ``y - (cursor - u)``); a motion head's appended direction is
    not a position and stays, nor do a factored polar head's turn logits.
    """

    def __init__(self, num_mixtures, pixels=1.0, seed=None, frame="screen", **kwargs):
        super().__init__(**kwargs)
        self.num_mixtures = int(num_mixtures)
        self.pixels = float(pixels)
        if self.pixels < 0:
            raise ValueError(f"pixels must be >= 0, got {pixels}")
        self.seed = seed
        self.frame = frame
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, params_shape, screen_shape):
        self.built = True  # no weights (the seed generator's state is made in __init__)

    def call(self, params, screen, training=None):
        if not training or self.pixels == 0.0:
            return params
        M = self.num_mixtures
        shape = ops.shape(params)
        u = keras.random.uniform((shape[0], shape[1], 2), minval=-0.5, maxval=0.5, seed=self.seed_generator, dtype=params.dtype)
        shift = u * ops.cast(self.pixels / ops.maximum(screen, 1.0), params.dtype)[:, None, :]
        return ops.concatenate(
            [params[..., :M], params[..., M : 2 * M] - shift[..., :1], params[..., 2 * M : 3 * M] - shift[..., 1:], params[..., 3 * M : 5 * M]]
            + ([params[..., 5 * M : 5 * M + 2] - shift, params[..., 5 * M + 2 :]] if self.frame in POLAR_FRAMES else [params[..., 5 * M :]]),
            axis=-1,
        )

    def compute_output_shape(self, params_shape, screen_shape):
        return params_shape

    def get_config(self):
        config = super().get_config()
        config.update(num_mixtures=self.num_mixtures, pixels=self.pixels, seed=self.seed, frame=self.frame)
        return config
