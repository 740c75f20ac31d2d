"""Parallel scheduled sampling on the decoder's positions (``train.self_feed``).

Trained only teacher-forced, the model reads real positions at every decoder step, but in
closed loop it reads its own sampled ones: a deviation it never saw in training persists
as motion (the velocity head continues it) and the cursor drifts (exposure bias). After
Duckworth et al. (2019), "Parallel Scheduled Sampling", :class:`SelfFeed` trains on
decoder inputs that hold the model's own draws:

1. pass 1 runs the model on the batch (``training=False``, no gradient: its outputs go
   through ``stop_gradient``) and draws a position for every step from its ``xy`` mixture
   with the sampling loop's own draw (:func:`~actiongen_keras.layers.context_aware_generator.draw_position`,
   in the head's frame, clipped into the screen as the loop clips);
2. every decoder step ``i + 1`` whose input event is a move takes, with probability
   ``self_feed`` (independently per step), the position drawn for target ``i`` in place of
   the real one (:func:`self_fed_positions`);
3. pass 2 runs on those inputs; the losses stay on the real targets.

**Recovery** (``train.self_feed_recovery``, ``r``): with ``r = 1`` (the default) the step
after a draw is scored against the real next position, so the model learns to take the
whole deviation back in one step; in closed loop that return is a reversal, and self-fed
models zig-zagged (README, "Results on SapiMouse"). With ``r < 1`` a draw's deviation
``delta`` stays in the trajectory and fades: every later decoder input and every later
target is moved by the deviations so far, each multiplied by ``(1 - r)`` per step since
it was drawn (the inputs also carry the deviation drawn at their own step, the targets
only what is left of the earlier ones). The model then learns to steer back by a share
``r`` of its deviation per step, as a hand drifts back to its line, instead of in one
jump. The targets are moved by moving pass 2's predicted mixture the other way
(:func:`~actiongen_keras.layers.context_aware_generator.translate_xy_params`): the same
log density, and the loss and the data stay as they are.

Only the decoder inputs decide what is replaced (moves are the events that take a position
of their own, ``generation/rules.py``); no target or target mask enters either pass.
:class:`SelfFeed` wraps the Functional model for ``fit`` only: its weights are the wrapped
model's, and ``train()`` saves the wrapped model, so generation, evaluation and export read
the same artefact as without it.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.context_aware_generator import draw_position, split_xy_params, translate_xy_params, xy_components, xy_tail


def self_fed_positions(dec_type, dec_xy, xy_params, num_mixtures, rate, seed, frame="screen", recovery=1.0):
    """``dec_xy [B, A1, 2]`` with each move step's position replaced, with probability
    ``rate``, by a draw from the previous step's mixture ``xy_params [B, A1, 5M]``.

    Step ``i + 1``'s input is target ``i``, which output step ``i`` predicts, so the draw for
    step ``i + 1`` comes from ``xy_params[:, i]``. Step 0 (BOS, the last real cursor) is
    never replaced. ``seed``: the ``keras.random.SeedGenerator`` of the Bernoulli choices, the
    components and the normals (each draw advances it; a plain integer seed would give the
    three draws one stream). ``frame``: the head's ``xy_frame``. ``recovery`` (module doc):
    below 1, each drawn deviation also moves the later steps' positions (every event but
    padding), fading by ``1 - recovery`` per step.

    Returns ``(dec_xy, replaced [B, A1] bool, target_shift [B, A1, 2])``: ``target_shift[:, i]``
    is how far target ``i`` moves (zero when ``recovery`` is 1).
    """
    xy_params = ops.stop_gradient(ops.cast(xy_params[:, :-1], "float32"))  # the draws for steps 1 .. A1-1
    shape = ops.shape(dec_type[:, 1:])
    M = int(num_mixtures)
    _, mu, sigma = split_xy_params(xy_params, M)
    one = xy_components(xy_params, M, lambda lg, _: ops.reshape(keras.random.categorical(ops.reshape(lg, (-1, M)), 1, seed=seed), shape))
    z = keras.random.normal(tuple(shape) + (2,), seed=seed)
    drawn = ops.clip(draw_position(mu, sigma, one, z, frame, xy_tail(xy_params, M)), 0.0, 1.0)
    pick = ops.logical_and(ops.equal(ops.cast(dec_type[:, 1:], "int32"), F.MOVE), keras.random.uniform(shape, seed=seed) < rate)
    dec_xy = ops.cast(dec_xy, "float32")
    real = dec_xy[:, 1:]
    replaced = ops.concatenate([ops.zeros_like(pick[:, :1]), pick], axis=1)
    deviation = ops.where(pick[..., None], drawn - real, 0.0)
    offset, shift = deviation, ops.zeros_like(dec_xy)  # recovery 1: the draw's step alone, targets kept
    if recovery < 1.0:
        keep = 1.0 - float(recovery)
        n = int(real.shape[1])
        age = np.arange(n)[:, None] - np.arange(n)[None, :]
        fade = ops.convert_to_tensor(np.where(age >= 0, keep ** np.maximum(age, 0), 0.0).astype("float32"))  # [step j, drawn at k]
        offset = ops.einsum("jk,bkc->bjc", fade, deviation)  # each input's deviations so far
        # target i is the position of step i + 1 before its own draw: what is left of step i's deviations
        shift = ops.concatenate([ops.zeros_like(dec_xy[:, :1]), keep * offset], axis=1)
    event = ops.not_equal(ops.cast(dec_type[:, 1:], "int32"), F.PAD)[..., None]
    mixed = ops.where(event, ops.clip(real + offset, 0.0, 1.0), real)
    return ops.stop_gradient(ops.concatenate([dec_xy[:, :1], mixed], axis=1)), replaced, ops.stop_gradient(shift)


@keras.saving.register_keras_serializable(package="actiongen")
class SelfFeed(keras.Model):
    """A Functional actiongen model, trained on decoder positions that are partly its own
    draws (module docstring). Outside training (``training`` false) it is the wrapped model.

    Args:
        model: the Functional model (``build_model`` / ``build_gru_baseline``); its weights
            are this model's weights.
        rate: the probability ``self_feed`` that a move step's position is the model's draw.
        num_xy_mixtures: components of the ``xy`` head (``model.num_xy_mixtures``).
        seed: seed of the draws' generator (its state is a random state that
            ``train()``'s backup keeps, as the dropout layers' are).
        xy_frame: the ``xy`` head's frame (``model.xy_frame``), for its draws.
        recovery: ``train.self_feed_recovery`` (module doc), in [0, 1].
    """

    def __init__(self, model, rate, num_xy_mixtures, seed=None, xy_frame="screen", recovery=1.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"self-feed rate must be in [0, 1), got {rate}")
        if not 0.0 <= float(recovery) <= 1.0:
            raise ValueError(f"self-feed recovery must be in [0, 1], got {recovery}")
        self.inner = model
        self.rate = float(rate)
        self.num_xy_mixtures = int(num_xy_mixtures)
        self.seed = seed
        self.xy_frame = xy_frame
        self.recovery = float(recovery)
        self.seed_generator = keras.random.SeedGenerator(seed, name="self_feed_seed")
        self.output_names = list(model.output_names)
        self.built = model.built

    @property
    def input(self):
        """The wrapped model's symbolic inputs (Keras builds the optimizer and metrics ahead
        from them, ``training.train.build_training_state``)."""
        return self.inner.input

    def call(self, inputs, training=False):
        if not (training and self.rate > 0.0):
            return self.inner(inputs, training=training)
        inputs, shift = self.self_fed(inputs)
        outputs = self.inner(inputs, training=training)
        if self.recovery < 1.0:  # targets moved by shift == the predicted mixture moved by -shift
            outputs = {**outputs, "xy": translate_xy_params(outputs["xy"], -shift, self.num_xy_mixtures, self.xy_frame)}
        return outputs

    def self_fed(self, inputs):
        """``(inputs, target_shift)``: ``inputs`` with pass 1's draws in ``dec_xy``
        (:func:`self_fed_positions`) and how far each ``xy`` target moves."""
        first = self.inner(inputs, training=False)
        dec_xy, _, shift = self_fed_positions(inputs["dec_type"], inputs["dec_xy"], first["xy"], self.num_xy_mixtures, self.rate,
                                              self.seed_generator, self.xy_frame, self.recovery)
        # every input a tensor: a Functional model refuses a mix (JAX's fit hands it NumPy arrays)
        return {**{k: ops.convert_to_tensor(v) for k, v in inputs.items()}, "dec_xy": dec_xy}, shift

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.inner), "rate": self.rate,
                "num_xy_mixtures": self.num_xy_mixtures, "seed": self.seed, "xy_frame": self.xy_frame, "recovery": self.recovery}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


def self_feeding(model, config):
    """The model ``fit`` trains: ``model`` itself when ``config.train.self_feed`` is 0 (today's
    teacher forcing, unchanged), else :class:`SelfFeed` around it."""
    rate = float(config.train.self_feed)
    if rate == 0.0:
        return model
    return SelfFeed(model, rate, config.model.num_xy_mixtures, seed=config.train.seed, xy_frame=config.model.xy_frame,
                    recovery=config.train.self_feed_recovery, name=f"{model.name}_self_feed")
