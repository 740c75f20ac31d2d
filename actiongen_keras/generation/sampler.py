"""The sampling loop: the next ``target_ms`` (600 ms) of input for a batch of windows, one event per step.

This is the only sampling loop of the package. Rollouts, ``actiongen generate`` /
``evaluate`` and the SavedModel's ``generate`` signature all run :func:`sample_window`; it
is written with ``keras.ops`` (a ``while_loop`` over decoder steps), so it compiles into one
XLA function on TensorFlow and one ``jax.jit`` function on JAX; on PyTorch
(:class:`WindowSampler`) the window's encoding and the decoder step (:class:`WindowLoop`)
are each traced into one graph of ATen ops and compiled by Inductor, and a Python loop
calls the compiled step once per event.

Each step (:class:`~actiongen_keras.models.steps.ModelSteps`) embeds the previous event,
runs the causal decoder on that one position against its key/value cache, fuses the
context, and samples:

1. the **event type** from the event head (temperature, top-k, top-p), after the
   coherence masks of :mod:`~actiongen_keras.generation.rules`;
2. the step's **attributes, conditioned on that type** (one call of the generator's
   type-conditioned heads): the **interval** ``dt`` (ms since the previous event) from the
   multi-scale timing mixture (:func:`~actiongen_keras.layers.multi_scale_timing.sample_timing`,
   scale and component logits divided by the temperature); the **position** of a move from
   the xy Gaussian mixture (component logits / temperature, then ``mu + sigma * z``, clipped
   into the screen); the **button**, **key** or **scroll** class from its head.

Greedy rows (``temperature <= 0``) are deterministic: argmax of every masked categorical
head, the *median* of the timing mixture
(:func:`~actiongen_keras.layers.multi_scale_timing.timing_quantile`) and the mean of the most
probable xy component (:func:`~actiongen_keras.layers.context_aware_generator.xy_point`):
the point predictions the metrics score, so greedy decoding of a window equals the full
model's point predictions on its own prefix (tested).

**Length.** A row's window ends at the first of: EOS; an event whose time reaches
``T + target_ms`` (it is dropped: the next window is generated from its own context);
``max_actions`` events. The sequence-length head is not used for sampling.

**Coherence** (``constrain``, on by default): never PAD; ``release`` / ``key_up`` only of a
held button / key, ``press`` / ``key_down`` only of one that is up (never button 0 or
keys 0/1); a scroll moves at least one notch; the first event of a window is not earlier
than ``T`` (its interval is redrawn up to ``rules.MAX_REDRAWS`` times, then clamped); events
other than moves happen at the current cursor. The held state comes in with the window
(from the history, or from the caller when it spans more than the history) and is
updated by every generated event.

**Press durations** (``dwell``, on by default): when a press or key_down is emitted, its
hold is drawn once from the generator's ``dwell`` head (greedy: its median) and the
button / key is released at that time: the first step whose next event would come later
emits the release instead (at the scheduled time, at the cursor). A scheduled button is
never released by a sampled release; buttons held from the history (no schedule) still
are. The schedules travel with the held state from window to window.

**The recorder's clock** (``clock [B, 5]``: period, phase relative to T, resolution, ms,
and whether events other than moves tick too (1) or not (0); zeros = off; the fifth
column is the pixel grid below). Recorders
stamp events on a clock: 60 Hz frames stamped in whole ms give intervals of 16 and 17
ms, and a detector sees a continuous interval distribution at once. Every move (and
every event, where the others tick too: osu! replays store buttons per frame, a browser
stamps clicks when they happen) is moved to the nearest tick ``phase + k * period`` (not
before the previous event nor T); every time is rounded to ``resolution`` (1 ms for
whole-ms recorders); ``period`` 0 only rounds. :func:`~actiongen_keras.generation.clock.estimate_clock` reads
the clock off the context's own timestamps.

**The pixel grid** (``clock[:, 4]``, pixels; 0 = off): every generated position is rounded
to the recorder's grid (:func:`~actiongen_keras.generation.clock.pixel_grid`: 1 px where
the context's positions are whole pixels). The model was trained on whole-pixel inputs,
and the stream keeps the recorder's grid as it keeps its clock.

**Correlated position noise** (``xy_noise_corr = rho``): the standard normal pair of each
move is ``rho * z_prev + sqrt(1 - rho^2) * e``: every draw keeps the model's distribution,
but consecutive deviations drift instead of zig-zagging. A motion-frame head
(``model.xy_frame="motion"``) gets its pair along and across its direction
(:func:`~actiongen_keras.layers.context_aware_generator.draw_position`).

**Nucleus over the position mixture** (``xy_top_p = p``, 1 = off): the move's mixture
component is drawn among the most probable components whose weights reach ``p`` (the
smallest such set, as ``top_p`` does for the categorical heads), so the low-weight, broad
components a maximum-likelihood mixture keeps to cover rare steps are not drawn at every
move. Teacher-forced, a polar head's most probable component alone reverses and turns as
often as the hand's next step does, while the whole mixture reverses 2-6 times as often
(``benchmarks/xy_error_by_step.py``, README "Results on SapiMouse"). A factored polar head
(``model.xy_frame="polar_factored"``) draws its turn's component the same way, from its own
logits, with a uniform of its own (:func:`~actiongen_keras.layers.context_aware_generator.xy_turn_logits`).

**Random numbers** come from :mod:`~actiongen_keras.generation.counter_rng`: a hash of
``(seed of the row, step, slot)``, so a row's events depend on its own seed only, never on
the other rows of the batch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.generation import rules as R
from actiongen_keras.generation.counter_rng import row_keys, uniforms
from actiongen_keras.layers.context_aware_generator import draw_position, first_previous_cursor, split_xy_params, xy_components, xy_point, xy_tail
from actiongen_keras.layers.multi_scale_timing import sample_timing, timing_quantile
from actiongen_keras.models.steps import WINDOW_INPUTS, ModelSteps, bos_token

NEG = -1e9  # a logit that softmax turns into 0 (finite, so a fully masked row cannot make NaN)
NEVER = 1e30  # the release time of a button without a scheduled release
STOPS = ("max_actions", "eos", "time")  # the ``stop`` codes of sample_window

# random-number slots of one step (counter_rng.uniforms(keys, step, NUM_SLOTS))
_S_TYPE = 0
_S_DT = 1  # (1 + MAX_REDRAWS) draws x 3 uniforms
_S_XY = _S_DT + 3 * (1 + R.MAX_REDRAWS)  # component, 2 for Box-Muller
_S_BUTTON = _S_XY + 3
_S_KEY = _S_BUTTON + 1
_S_SCROLL = _S_KEY + 1  # dx, dy
_S_DWELL = _S_SCROLL + 2  # 3 uniforms
_S_XY_TURN = _S_DWELL + 3  # a factored polar head's turn component
NUM_SLOTS = _S_XY_TURN + 1


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """How to sample: ``temperature`` (0 = greedy), ``top_k`` (0 = off), ``top_p`` (1 = off)
    for the categorical heads, whether to apply the coherence masks, ``xy_noise_corr``
    (0 = off): the correlation of the position noise of consecutive moves, ``xy_top_p`` (1 = off):
    nucleus sampling of the position mixture's component, ``dwell``: press
    durations from the dwell head, ``clock``: event times on the context's recorder clock,
    and ``pixel_grid``: positions on its pixel grid (module doc; the clock and the grid are
    inputs, estimated per context)."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    constrain: bool = True
    xy_noise_corr: float = 0.0
    xy_top_p: float = 1.0
    dwell: bool = True
    clock: bool = True
    pixel_grid: bool = True

    def __post_init__(self):
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0.0 <= self.xy_noise_corr < 1.0:
            raise ValueError(f"xy_noise_corr must be in [0, 1), got {self.xy_noise_corr}")
        if not 0.0 < self.xy_top_p <= 1.0:
            raise ValueError(f"xy_top_p must be in (0, 1], got {self.xy_top_p}")

    @property
    def greedy(self):
        return self.temperature == 0

    def static(self):
        """The options compiled into the loop (temperature and seed are inputs)."""
        return {"top_k": int(self.top_k), "top_p": float(self.top_p), "constrain": bool(self.constrain),
                "xy_noise_corr": float(self.xy_noise_corr), "xy_top_p": float(self.xy_top_p), "dwell": bool(self.dwell)}


# --------------------------------------------------------------------------- categorical


def filtered_logits(logits, temperature, top_k=0, top_p=1.0, allowed=None):
    """Logits ``[B, C]`` to draw from: disallowed classes (``allowed [B, C]`` bool) set to
    :data:`NEG` (a row with no allowed class keeps all), divided by ``temperature [B]``
    (> 0), then only the ``top_k`` largest (0 = all) and the smallest set of classes whose
    probability reaches ``top_p`` (1 = all) kept."""
    z = ops.cast(logits, "float32")
    if allowed is not None:
        allowed = ops.logical_or(allowed, ops.logical_not(ops.any(allowed, axis=-1, keepdims=True)))
        z = ops.where(allowed, z, NEG)
    z = z / ops.maximum(ops.cast(temperature, "float32"), 1e-6)[:, None]
    C = z.shape[-1]
    if top_k and top_k < C:
        kth = ops.top_k(z, int(top_k), sorted=True)[0][:, -1:]
        z = ops.where(z >= kth, z, NEG)
    if top_p < 1.0:
        p = ops.softmax(z, axis=-1)
        srt = ops.flip(ops.sort(p, axis=-1), axis=-1)  # descending
        before = ops.cumsum(srt, axis=-1) - srt  # probability of the classes ranked above
        p_min = ops.min(ops.where(before < top_p, srt, 2.0), axis=-1, keepdims=True)
        z = ops.where(p >= p_min, z, NEG)
    return z


def categorical(logits, temperature, u, top_k=0, top_p=1.0, allowed=None):
    """Class ids ``[B]`` int32: argmax of the allowed logits where ``temperature <= 0``, else
    an inverse-CDF draw with uniforms ``u [B]`` from ``softmax(filtered_logits)``."""
    z = filtered_logits(logits, temperature, top_k, top_p, allowed)
    greedy = ops.cast(ops.argmax(z, axis=-1), "int32")
    cum = ops.cumsum(ops.softmax(z, axis=-1), axis=-1)
    drawn = ops.sum(ops.cast(cum <= ops.cast(u, "float32")[:, None] * cum[:, -1:], "int32"), axis=-1)
    drawn = ops.minimum(drawn, z.shape[-1] - 1)
    return ops.where(ops.cast(temperature, "float32") <= 0.0, greedy, drawn)


def ar1(z_prev, e, rho):
    """The next standard normal pair of an AR(1) chain: ``rho * z_prev + sqrt(1 - rho^2) * e``.
    With a standard normal ``z_prev`` the result is standard normal again, correlated by ``rho``."""
    return rho * z_prev + math.sqrt(1.0 - rho * rho) * e


def on_clock(t, t_prev, clock, is_move=None):
    """Event times ``t [B]`` (ms from T) on the recorder's clock ``[B, 5]`` (period, phase,
    resolution, others tick; module doc): the nearest tick that is not before ``t_prev`` nor
    T (moves, or every event where the others tick), rounded to the resolution. Rows whose
    period and resolution are 0 keep ``t``. ``is_move [B]`` bool (default: all moves)."""
    period, phase, res = clock[:, 0], clock[:, 1], clock[:, 2]
    if is_move is not None:
        period = ops.where(ops.logical_or(is_move, clock[:, 3] > 0.5), period, 0.0)
    p = ops.maximum(period, 1e-6)
    k = ops.round((t - phase) / p)
    lo = ops.maximum(t_prev, 0.0)
    k = ops.where(phase + k * p < lo - 1e-6, ops.ceil((lo - phase) / p - 1e-6), k)
    ticked = ops.where(period > 0.0, phase + k * p, t)
    r = ops.maximum(res, 1e-6)
    rounded = ops.where(res > 0.0, ops.round(ticked / r) * r, ticked)
    return ops.maximum(rounded, lo)


def box_muller(u1, u2):
    """Standard normal pairs ``[B, 2]`` from two uniforms ``[B]`` each."""
    r = ops.sqrt(-2.0 * ops.log(u1))
    a = 2.0 * math.pi * u2
    return ops.stack([r * ops.cos(a), r * ops.sin(a)], axis=-1)


# --------------------------------------------------------------------------- the loop


def sample_window(steps, window, temperature, seed, held_buttons=None, held_keys=None, last_t_rel=None, release_buttons=None,
                  release_keys=None, clock=None, *, target_ms=600.0, max_actions=None, top_k=0, top_p=1.0, constrain=True,
                  xy_noise_corr=0.0, xy_top_p=1.0, dwell=True):
    """Sample one window ``[T, T + target_ms)`` for every row of a batch (module doc).

    Args:
        steps: :class:`~actiongen_keras.models.steps.ModelSteps` of the model.
        window: the encoded window (``steps.WINDOW_INPUTS``: ``make_windows`` inputs without
            the decoder, plus ``bos_xy``), batch ``B``.
        temperature: ``[B]`` float (<= 0: greedy row).
        seed: ``[B]`` int (low 32 bits used): the row's random numbers.
        held_buttons, held_keys: ``[B, NUM_BUTTONS]`` / ``[B, num_keys]`` bool held at T
            (default: replayed from the window's history).
        last_t_rel: ``[B]`` time of the previous event relative to T (<= 0; default: the last
            history event, 0 without one).
        release_buttons, release_keys: ``[B, NUM_BUTTONS]`` / ``[B, num_keys]`` scheduled
            release times relative to T (:data:`NEVER` = none; default: none).
        clock: ``[B, 5]`` the recorder's clock (period, phase relative to T, resolution; ms;
            others tick 0/1) and pixel grid (px); default zeros = off.
        target_ms, max_actions: the window's length and event limit (default: the model's).
        top_k, top_p, constrain, xy_noise_corr, xy_top_p, dwell: :class:`SamplingConfig` (compiled in).

    Returns:
        dict of ``count [B]``, ``event_type_id``, ``button_id``, ``key_id`` ``[B, A]`` int32,
        ``t_ms`` (relative to T), ``dt_ms`` ``[B, A]``, ``xy [B, A, 2]`` (screen units),
        ``scroll [B, A, 2]`` (scroll classes), ``stop [B]`` (index into :data:`STOPS`),
        ``held_buttons``, ``held_keys``, ``release_buttons``, ``release_keys`` (after the
        window, times relative to the next window's T) and ``last_t_rel`` (the last event's
        time relative to the next window's T).
    """
    loop = WindowLoop(steps, target_ms=target_ms, max_actions=max_actions, top_k=top_k, top_p=top_p, constrain=constrain,
                      xy_noise_corr=xy_noise_corr, xy_top_p=xy_top_p, dwell=dwell)
    return loop.run(window, temperature, seed, held_buttons, held_keys, last_t_rel, release_buttons, release_keys, clock)


class WindowLoop:
    """:func:`sample_window` in three parts, so a backend can compile each part on its own:
    :meth:`start` (encode the window, the loop's first state and its loop-invariant inputs),
    :meth:`step` (one decoder step: a pure function of ``(i, state, invariant)``) and
    :meth:`finish`; :meth:`run` strings them together with ``ops.while_loop``. Written once
    with ``keras.ops``: TensorFlow and JAX compile :meth:`run` whole (XLA / ``jax.jit``);
    PyTorch (:class:`WindowSampler`) compiles :meth:`start` and :meth:`step` separately and
    runs the ``while_loop`` in Python around them."""

    def __init__(self, steps, *, target_ms=600.0, max_actions=None, top_k=0, top_p=1.0, constrain=True, xy_noise_corr=0.0, xy_top_p=1.0,
                 dwell=True):
        self.steps = steps
        self.target_ms = float(target_ms)
        self.A = int(max_actions or steps.max_actions)
        self.top_k, self.top_p, self.constrain, self.dwell = top_k, top_p, constrain, dwell
        self.rho, self.xy_top_p = float(xy_noise_corr), float(xy_top_p)

    def run(self, window, temperature, seed, held_buttons=None, held_keys=None, last_t_rel=None, release_buttons=None, release_keys=None,
            clock=None, start=None, step=None):
        """:func:`sample_window`; ``start`` / ``step``: compiled versions of :meth:`start` /
        :meth:`step` (default: these methods)."""
        state, inv = (start or self.start)(window, temperature, seed, held_buttons, held_keys, last_t_rel, release_buttons, release_keys,
                                           clock)
        step = step or self.step
        _, s = ops.while_loop(self.cond, lambda i, s: step(i, s, inv), (ops.convert_to_tensor(0, "int32"), state), maximum_iterations=self.A)
        return self.finish(s)

    def start(self, window, temperature, seed, held_buttons=None, held_keys=None, last_t_rel=None, release_buttons=None, release_keys=None,
              clock=None):
        """The loop's first state and ``invariant`` (what every step reads and none changes:
        the encoded window, the row keys, temperatures and the clock)."""
        steps = self.steps
        g = steps.generator
        A, NK = self.A, int(g.num_keys)
        hist_type = ops.cast(window["hist_type"], "int32")
        B = ops.shape(hist_type)[0]
        temperature = ops.cast(temperature, "float32")
        greedy = temperature <= 0.0
        keys = row_keys(seed)
        if held_buttons is None:
            held_buttons = R.held_from_history(hist_type, window["hist_button"], F.NUM_BUTTONS, R.NAMES_BUTTON)
        if held_keys is None:
            held_keys = R.held_from_history(hist_type, window["hist_key"], NK, R.NAMES_KEY)
        if last_t_rel is None:
            valid = ops.not_equal(hist_type, F.PAD)
            last = ops.min(ops.where(valid, ops.cast(window["hist_t_before"], "float32"), 1e30), axis=-1)
            last_t_rel = ops.where(ops.any(valid, axis=-1), -last, 0.0)
        if release_buttons is None:
            release_buttons = ops.full((B, F.NUM_BUTTONS), NEVER, "float32")
        if release_keys is None:
            release_keys = ops.full((B, NK), NEVER, "float32")
        clock = ops.zeros((B, 5), "float32") if clock is None else ops.cast(clock, "float32")
        token = bos_token(window)
        zi, zf = ops.zeros((B, A), "int32"), ops.zeros((B, A), "float32")
        u0 = uniforms(keys, A, 2)
        state = {
            "cache": steps.empty_cache(B),
            "token": token,
            "out": {"event_type_id": zi, "button_id": zi, "key_id": zi, "t_ms": zf, "dt_ms": zf, "xy": ops.zeros((B, A, 2), "float32"),
                    "scroll": ops.zeros((B, A, 2), "int32")},
            "count": ops.zeros((B,), "int32"),
            "done": ops.zeros((B,), "bool"),
            "stop": ops.zeros((B,), "int32"),
            "t_prev": ops.cast(last_t_rel, "float32"),
            "held_b": ops.cast(held_buttons, "bool"),
            "held_k": ops.cast(held_keys, "bool"),
            "rel_b": ops.cast(release_buttons, "float32"),
            "rel_k": ops.cast(release_keys, "float32"),
            "prev_xy": first_previous_cursor(token["dec_xy"], window["hist_xy"], hist_type),
            # the chain starts stationary: a standard normal pair of its own (random-number step A,
            # which no decoder step uses)
            "z": box_muller(u0[:, 0], u0[:, 1]) if self.rho > 0.0 else ops.zeros((B, 2), "float32"),
        }
        inv = {
            "ctx": steps.encode(window),
            "keys": keys,
            "temperature": temperature,
            "greedy": greedy,
            "any_greedy": ops.any(greedy),
            "all_greedy": ops.all(greedy),
            "clock": clock,
            # the pixel grid as a cell in screen units, and which rows have one
            "on_grid": clock[:, 4:5] > 0.0,
            "cell": ops.maximum(clock[:, 4:5], 1e-6) / ops.maximum(ops.cast(window["screen"], "float32"), 1.0),
        }
        return state, inv

    def cond(self, i, s):
        return ops.logical_not(ops.all(s["done"]))

    def step(self, i, s, inv):
        """One decoder step: the state after step ``i`` (``inv``: :meth:`start`'s invariant;
        its ``any_greedy`` / ``all_greedy`` may be Python bools, for a tracer that
        specialises on them)."""
        steps, g = self.steps, self.steps.generator
        A, M = self.A, int(g.num_xy_mixtures)
        top_k, top_p, constrain, dwell, rho, target_ms = self.top_k, self.top_p, self.constrain, self.dwell, self.rho, self.target_ms
        tb = (g.timing_boundaries_ms, g.num_timing_components, g.max_timing_ms)
        tbd = (g.dwell_boundaries_ms, g.num_timing_components, g.max_timing_ms)
        nr = 1 + R.MAX_REDRAWS
        B = ops.shape(s["count"])[0]
        ctx, keys, temperature, greedy, clock = inv["ctx"], inv["keys"], inv["temperature"], inv["greedy"], inv["clock"]
        any_greedy, all_greedy = inv["any_greedy"], inv["all_greedy"]
        moves_cursor = ops.convert_to_tensor(R.MOVES_CURSOR)
        names_button, names_key = ops.convert_to_tensor(R.NAMES_BUTTON), ops.convert_to_tensor(R.NAMES_KEY)
        tok = s["token"]
        cursor = ops.cast(tok["dec_xy"], "float32")
        _, h, pointer, event_logits, cache = steps.step(ctx, tok, i, s["cache"])
        u = uniforms(keys, i, NUM_SLOTS)
        sched_b = s["rel_b"] < NEVER / 2 if dwell else None
        sched_k = s["rel_k"] < NEVER / 2 if dwell else None
        ev = categorical(event_logits, temperature, u[:, _S_TYPE], top_k, top_p,
                         R.type_mask(s["held_b"], s["held_k"], constrain, sched_b, sched_k))
        timing, xyp, button_l, key_l, scroll_l, dwell_p = (a[:, 0] for a in g.attributes(h, ev[:, None], cursor[:, None, :], pointer,
                                                                                          s["prev_xy"][:, None, :]))
        # interval: the median (greedy) or a draw; the first event not before T (redraws, then clamp)
        t_prev = s["t_prev"]
        need = -t_prev
        dt_med, cand = _median_or_draws(timing, ops.reshape(u[:, _S_DT:_S_XY], (B, nr, 3)), tb, temperature, any_greedy, all_greedy)
        redraw_ok = cand[:, 1:] >= need[:, None]
        first_ok = ops.take_along_axis(cand[:, 1:], ops.argmax(ops.cast(redraw_ok, "int32"), axis=-1)[:, None], axis=1)[:, 0]
        redrawn = ops.where(ops.any(redraw_ok, axis=-1), first_ok, need)
        dt = ops.where(greedy, ops.where(t_prev + dt_med < 0.0, need, dt_med), ops.where(t_prev + cand[:, 0] < 0.0, redrawn, cand[:, 0]))
        t_after = t_prev + dt
        # a scheduled release that is due before that event comes first, in its place
        if dwell:
            due_b, due_k = ops.min(s["rel_b"], axis=-1), ops.min(s["rel_k"], axis=-1)
            # (an EOS ends the window: a release due inside it still comes first)
            forced = ops.minimum(due_b, due_k) <= ops.where(ops.equal(ev, F.EOS), float(target_ms), t_after)
            forced_key = ops.logical_and(forced, due_k < due_b)
            ev = ops.where(forced, ops.where(forced_key, F.KEY_UP, F.RELEASE), ev)
            t_after = ops.where(forced, ops.maximum(ops.minimum(due_b, due_k), t_prev), t_after)
        t_after = on_clock(t_after, t_prev, clock, ops.equal(ev, F.MOVE))
        dt = t_after - t_prev
        # position: moves only (greedy: xy_point); other events at the cursor
        logits, mu, sigma = split_xy_params(xyp, M)
        one = xy_components(xyp, M, lambda lg, k: categorical(lg, temperature, u[:, (_S_XY, _S_XY_TURN)[k]], top_p=self.xy_top_p))
        z = box_muller(u[:, _S_XY + 1], u[:, _S_XY + 2])
        is_move = ops.take(moves_cursor, ev, axis=0)
        if rho > 0.0:
            z = ar1(s["z"], z, rho)
        drawn = draw_position(mu, sigma, one, z, g.xy_frame, xy_tail(xyp, M))
        xy = ops.clip(ops.where(greedy[:, None], xy_point(xyp, M, g.xy_frame), drawn), 0.0, 1.0)
        xy = ops.where(inv["on_grid"], ops.clip(ops.round(xy / inv["cell"]) * inv["cell"], 0.0, 1.0), xy)
        xy = ops.where(is_move[:, None], xy, cursor)
        # button / key / scroll, only for the types that name them, within the held-state masks
        is_btn, is_key, is_scroll = ops.take(names_button, ev, axis=0), ops.take(names_key, ev, axis=0), ops.equal(ev, F.SCROLL)
        button = categorical(button_l, temperature, u[:, _S_BUTTON], top_k, top_p,
                             R.id_mask(s["held_b"], ev, R.BUTTON_NEED, R.BUTTON_MIN, constrain, sched_b))
        key = categorical(key_l, temperature, u[:, _S_KEY], top_k, top_p, R.id_mask(s["held_k"], ev, R.KEY_NEED, R.KEY_MIN, constrain, sched_k))
        if dwell:
            button = ops.where(ops.logical_and(forced, ops.logical_not(forced_key)), ops.cast(ops.argmin(s["rel_b"], axis=-1), "int32"), button)
            key = ops.where(forced_key, ops.cast(ops.argmin(s["rel_k"], axis=-1), "int32"), key)
        button = ops.where(is_btn, button, 0)
        key = ops.where(is_key, key, 0)
        dx = categorical(scroll_l[:, 0], temperature, u[:, _S_SCROLL], top_k, top_p)
        dy = categorical(scroll_l[:, 1], temperature, u[:, _S_SCROLL + 1], top_k, top_p, R.scroll_dy_mask(dx))
        scroll = ops.where(is_scroll[:, None], ops.stack([dx, dy], axis=-1), R.SCROLL_STILL)
        # emit, record, feed back
        done = s["done"]
        emit = ops.logical_and(ops.logical_not(done), ops.logical_and(ops.not_equal(ev, F.EOS), t_after < target_ms))
        col = ops.logical_and(ops.equal(ops.arange(A, dtype="int32"), i)[None, :], emit[:, None])  # [B, A]
        put = lambda old, new: ops.where(col if len(old.shape) == 2 else col[..., None], new[:, None] if len(old.shape) == 2 else new[:, None, :], old)
        o = s["out"]
        out = {"event_type_id": put(o["event_type_id"], ev), "button_id": put(o["button_id"], button), "key_id": put(o["key_id"], key),
               "t_ms": put(o["t_ms"], t_after), "dt_ms": put(o["dt_ms"], dt), "xy": put(o["xy"], xy), "scroll": put(o["scroll"], scroll)}
        stop = ops.where(ops.logical_and(ops.logical_not(done), ops.logical_not(emit)), ops.where(ops.equal(ev, F.EOS), 1, 2), s["stop"])
        moved = ops.logical_and(emit, is_move)
        rel_b, rel_k = s["rel_b"], s["rel_k"]
        if dwell:
            # a press schedules its release (dwell head: median or a draw); any release clears it
            hold_med, hold_draw = _median_or_draws(dwell_p, u[:, None, _S_DWELL:_S_DWELL + 3], tbd, temperature, any_greedy, all_greedy)
            hold = ops.where(greedy, hold_med, hold_draw[:, 0])
            rel_b = _schedule(rel_b, ev, button, emit, t_after + hold, F.PRESS, F.RELEASE)
            rel_k = _schedule(rel_k, ev, key, emit, t_after + hold, F.KEY_DOWN, F.KEY_UP)
        return i + 1, {
            "cache": cache,
            "token": {"dec_type": ev, "dec_button": button, "dec_key": key, "dec_scroll": scroll, "dec_dt": dt, "dec_t_after": t_after,
                      "dec_xy": xy},
            "out": out,
            "count": s["count"] + ops.cast(emit, "int32"),
            "done": ops.logical_or(done, ops.logical_not(emit)),
            "stop": stop,
            "t_prev": ops.where(emit, t_after, t_prev),
            "held_b": R.update_held(s["held_b"], ev, button, emit, R.NAMES_BUTTON),
            "held_k": R.update_held(s["held_k"], ev, key, emit, R.NAMES_KEY),
            "rel_b": rel_b,
            "rel_k": rel_k,
            "prev_xy": ops.where(emit[:, None], cursor, s["prev_xy"]),
            "z": ops.where(moved[:, None], z, s["z"]),
        }

    def finish(self, s):
        """:func:`sample_window`'s outputs from the last state."""
        target_ms = self.target_ms
        res = dict(s["out"])
        shift = lambda r: ops.where(r < NEVER / 2, r - target_ms, r)
        res.update(count=s["count"], stop=s["stop"], held_buttons=s["held_b"], held_keys=s["held_k"], last_t_rel=s["t_prev"] - target_ms,
                   release_buttons=shift(s["rel_b"]), release_keys=shift(s["rel_k"]))
        return res


def _median_or_draws(params, u, spec, temperature, any_greedy, all_greedy):
    """A multi-scale timing mixture's median ``[B]`` (greedy rows) and draws ``[B, n]`` with the
    uniforms ``u [B, n, 3]`` (sampled rows); each computed only when some row needs it."""
    B, n = ops.shape(u)[0], ops.shape(u)[1]
    med = ops.cond(any_greedy, lambda: ops.cast(timing_quantile(params, 0.5, *spec), "float32"), lambda: ops.zeros((B,), "float32"))
    draws = ops.cond(all_greedy, lambda: ops.zeros((B, n), "float32"),
                     lambda: ops.cast(sample_timing(ops.repeat(params[:, None, :], n, axis=1), u, *spec, temperature=temperature[:, None]),
                                      "float32"))
    return med, draws


def _schedule(release_at, ev, ident, emit, when, press, release):
    """Scheduled release times after an emitted event: a ``press`` of ``ident`` sets its time to
    ``when``, a ``release`` of it clears it (:data:`NEVER`)."""
    n = ops.shape(release_at)[-1]
    this = ops.logical_and(ops.equal(ops.cast(ident, "int32")[:, None], ops.arange(n, dtype="int32")[None, :]), emit[:, None])
    release_at = ops.where(ops.logical_and(this, ops.equal(ev, press)[:, None]), when[:, None], release_at)
    return ops.where(ops.logical_and(this, ops.equal(ev, release)[:, None]), NEVER, release_at)


CARRY = ("held_buttons", "held_keys", "last_t_rel", "release_buttons", "release_keys")
"""What one window hands the next (:func:`sample_window`'s outputs of these names)."""


class WindowSampler:
    """:func:`sample_window` for one model, compiled for its backend, called with NumPy arrays.

    ``WindowSampler(model, sampling)``; ``sampler(window, temperature, seed, carry=None,
    clock=None)`` -> dict of NumPy arrays. ``carry``: the :data:`CARRY` arrays of the previous
    window's output (all of them), or None: then the held state and the previous event's
    time come from the window's history and nothing is scheduled. ``clock``: ``[B, 5]``
    (clock and pixel grid, module doc; None = off). TensorFlow: one XLA-compiled ``tf.function`` (compiled
    per batch size; the weights are constants of it, :func:`frozen_weights`: inference only);
    JAX: ``jax.jit`` (the weights become constants of the compiled function: inference only); PyTorch: :meth:`WindowLoop.start` and :meth:`WindowLoop.step`
    traced (``make_fx``) and compiled by Inductor per batch size (the step also per greedy /
    sampled mix of the batch; weights are constants, inference only), the loop in Python
    under ``torch.no_grad`` (``ACTIONGEN_TORCH_INDUCTOR=0``: the traced graphs without
    Inductor). ``jit=False`` runs eagerly on every backend.
    """

    def __init__(self, model, sampling=None, target_ms=600.0, jit=True):
        import keras

        self.steps = ModelSteps(model)
        self.sampling = sampling or SamplingConfig()
        self.target_ms = float(target_ms)
        self.backend = keras.backend.backend()
        self.jit = bool(jit)
        self._loop = WindowLoop(self.steps, target_ms=self.target_ms, **self.sampling.static())
        if self.jit and self.backend == "torch":
            self._start = _TorchCompiled(lambda static, *a: self._loop.start(*a))
            self._step = _TorchCompiled(lambda flags, i, s, inv: self._loop.step(i, s, dict(inv, any_greedy=flags[0], all_greedy=flags[1])))
        self._carried = self._compile(self._raw)
        self._from_history = self._compile(lambda window, temperature, seed, clock: self._raw(window, temperature, seed, None, None, None,
                                                                                              None, None, clock))

    def _raw(self, window, temperature, seed, held_buttons, held_keys, last_t_rel, release_buttons, release_keys, clock):
        if self.jit and self.backend == "torch":
            return self._torch_raw(window, temperature, seed, held_buttons, held_keys, last_t_rel, release_buttons, release_keys, clock)
        return self._loop.run(window, temperature, seed, held_buttons, held_keys, last_t_rel, release_buttons, release_keys, clock)

    def _torch_raw(self, *args):
        """PyTorch: the loop's Python ``while_loop`` around the compiled :meth:`WindowLoop.start`
        and :meth:`WindowLoop.step` (one compiled call per decoder step; the step is compiled for
        the batch's greedy / sampled mix, read off the temperatures once per window)."""

        def start(*a):
            return self._start(None, *a)

        from torch.utils import _pytree as pytree

        state, inv = start(*args)
        flags = (bool(ops.convert_to_numpy(inv["any_greedy"])), bool(ops.convert_to_numpy(inv["all_greedy"])))
        inv = {k: v for k, v in inv.items() if k not in ("any_greedy", "all_greedy")}
        i = ops.convert_to_tensor(0, "int32")
        step = self._step.graph(flags, i, state, inv)
        leaves, spec = pytree.tree_flatten((i, state))
        flat = getattr(step, "flat", None)
        if flat is None or spec != step.out_tree or any(x is None for x in leaves + pytree.tree_leaves(inv)):
            # a step that runs eagerly (tracing failed) or holds None: the loop over the nested state
            _, s = ops.while_loop(self._loop.cond, lambda i, s: step(i, s, inv), (i, state), maximum_iterations=self._loop.A)
            return self._loop.finish(s)
        # the loop over the graph's flat inputs: the step's outputs are its next inputs in the
        # same order (spec == out_tree), so no state is flattened or rebuilt between steps
        # (that bookkeeping cost a fifth of a step, as much as the kernels of the step itself)
        done = next(k for k, x in enumerate(leaves) if x is state["done"])
        inv_leaves = pytree.tree_leaves(inv)
        for _ in range(self._loop.A):
            if bool(leaves[done].all()):
                break
            leaves = list(flat(*leaves, *inv_leaves))
        return self._loop.finish(pytree.tree_unflatten(leaves, spec)[1])

    def _compile(self, fn):
        if not self.jit:
            return fn
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.function(frozen_weights(fn, self.steps.model), jit_compile=True, reduce_retracing=False)
        if self.backend == "jax":
            import jax

            return jax.jit(fn)
        if self.backend == "torch":
            import torch

            def no_grad(*a):
                with torch.no_grad():
                    return fn(*a)

            return no_grad
        return fn

    def __call__(self, window, temperature, seed, carry=None, clock=None):
        B = int(np.asarray(window["hist_type"]).shape[0])
        t = self._tensor
        clock = np.zeros((B, 5), np.float32) if clock is None else np.asarray(clock, np.float32).reshape(B, 5)
        args = [{k: t(np.asarray(window[k])) for k in WINDOW_INPUTS},
                t(np.broadcast_to(np.asarray(temperature, np.float32), (B,))),
                t(np.broadcast_to(np.asarray(seed, np.int64) & 0xFFFFFFFF, (B,)).astype(np.uint32).view(np.int32))]
        if carry is None:
            out = self._from_history(*args, t(clock))
        else:
            missing = [k for k in CARRY if carry.get(k) is None]
            if missing:
                raise ValueError(f"WindowSampler: carry lacks {missing} (give all of {list(CARRY)}, or none)")
            out = self._carried(*args, t(np.asarray(carry["held_buttons"], bool)), t(np.asarray(carry["held_keys"], bool)),
                                t(np.asarray(carry["last_t_rel"], np.float32).reshape(B)),
                                t(np.asarray(carry["release_buttons"], np.float32)), t(np.asarray(carry["release_keys"], np.float32)),
                                t(clock))
        return {k: np.asarray(ops.convert_to_numpy(v)) for k, v in out.items()}

    def _tensor(self, a):
        a = np.ascontiguousarray(a)
        if self.backend == "jax" and self.jit:
            return a  # jax.jit takes NumPy arrays directly
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.constant(a)  # the dtype kept; a quarter of ops.convert_to_tensor's time (~1 ms per call in all)
        return ops.convert_to_tensor(a)


def frozen_weights(fn, model):
    """TensorFlow: ``fn`` with the model's weights read as constants of the traced graph (their
    values when the sampler was built), as ``jax.jit`` and the PyTorch graphs take them. In a
    ``tf.function`` a variable is an argument of every call, which XLA must treat as unknown;
    as constants XLA lays them out for their dots once, at compile time (with the inputs made
    by ``tf.constant``, a batch-1 window took 2.4-2.7 ms instead of 3.7-5.3 on one core in
    alternating runs; batch 64, compute-bound, did not change). Inference only: later changes
    to the weights are not seen by this sampler (tested)."""
    import keras
    import tensorflow as tf

    values = [(v, v.numpy()) for v in model.weights]

    def frozen(*args):
        with keras.StatelessScope([(v, tf.constant(x)) for v, x in values]):
            return fn(*args)

    return frozen


def _one_hot_by_comparison():
    """A torch function mode (PyTorch, while tracing): ``torch.nn.functional.one_hot`` as
    ``ids[..., None] == arange(n)``. Torch's own one_hot reads its ids on the host to check
    their range, which a traced graph cannot do; for ids in ``[0, n)`` (the loop's) both give
    the same, and a negative id gives zeros, as Keras' one_hot does."""
    import torch
    from torch.overrides import TorchFunctionMode

    class OneHotByComparison(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.nn.functional.one_hot:
                ids = args[0]
                n = args[1] if len(args) > 1 else kwargs.get("num_classes", -1)
                if n > 0:
                    return (ids[..., None] == torch.arange(n, device=ids.device, dtype=ids.dtype)).to(torch.int64)
            return func(*args, **kwargs)

    return OneHotByComparison()


class _TorchCompiled:
    """PyTorch: ``fn(static, *tensors)`` (``keras.ops`` on torch tensors) traced once per
    ``static`` value and input signature into one graph of ATen ops (``make_fx``: the Python of
    Keras' layers and ops runs once, at trace time, not at every call), then compiled by
    Inductor into fused C++ kernels (``compile_fx``, what ``torch.compile`` runs on a graph;
    ``torch.compile`` of ``fn`` itself breaks the graph dozens of times inside Keras). Where
    Inductor fails (e.g. without a C++ compiler) the traced graph runs as it is, and where
    tracing fails ``fn`` runs eagerly, each with a warning. The model's weights become
    constants of the graph: inference only, as with ``jax.jit``. Python control flow in ``fn``
    may depend on ``static`` and on shapes, not on tensor values (tracing fixes it)."""

    def __init__(self, fn):
        self.fn = fn
        self.graphs = {}

    def __call__(self, static, *args):
        return self.graph(static, *args)(*args)

    def graph(self, static, *args):
        """The compiled function for ``static`` and the signature of ``args`` (built on first use)."""
        from torch.utils import _pytree as pytree

        leaves, spec = pytree.tree_flatten(args)
        key = (static, spec, tuple(None if x is None else (tuple(x.shape), x.dtype) for x in leaves))
        graph = self.graphs.get(key)
        if graph is None:
            graph = self.graphs[key] = self._build(static, leaves, spec)
        return graph

    def _build(self, static, leaves, spec):
        import torch  # deferred: only the PyTorch backend has it
        from torch.fx.experimental.proxy_tensor import make_fx
        from torch.utils import _pytree as pytree

        present = [x is not None for x in leaves]
        out_spec = []

        def flat(*tensors):
            it = iter(tensors)
            args = pytree.tree_unflatten([next(it) if p else None for p in present], spec)
            with _one_hot_by_comparison():
                out, tree = pytree.tree_flatten(self.fn(static, *args))
            out_spec.append(tree)
            return tuple(out)

        tensors = [x for x in leaves if x is not None]
        # distinct tensors: make_fx tells a graph's inputs apart by identity, and the first state
        # shares some (zeros) that later steps do not
        try:
            graph = make_fx(flat, tracing_mode="real")(*[torch.clone(x) for x in tensors])
        except Exception as e:  # noqa: BLE001 - an operation a traced graph cannot hold: stay eager

            warnings.warn(f"WindowSampler: tracing failed ({type(e).__name__}: {e}); running eagerly", stacklevel=3)
            return lambda *args: self.fn(static, *args)
        run = graph
        if os.environ.get("ACTIONGEN_TORCH_INDUCTOR", "1") != "0":
            try:
                from torch._inductor import config as inductor_config
                from torch._inductor.compile_fx import compile_fx

                # (no shape asserts at every call: the inputs' shapes are this graph's key)
                with inductor_config.patch(size_asserts=False):
                    run = compile_fx(graph, tensors)
                run(*tensors)
            except Exception as e:  # noqa: BLE001 - Inductor needs a C++ toolchain; the traced graph does not

                warnings.warn(f"WindowSampler: Inductor failed ({type(e).__name__}: {e}); running the traced graph uncompiled", stacklevel=3)
                run = graph
        tree = out_spec[0]

        def call(*args):
            return pytree.tree_unflatten(list(run(*[x for x in pytree.tree_leaves(args) if x is not None])), tree)

        call.flat, call.out_tree = run, tree  # the graph on flat tensors, and its outputs' structure
        return call


__all__ = ["CARRY", "NEVER", "NUM_SLOTS", "STOPS", "SamplingConfig", "WindowLoop", "WindowSampler", "ar1", "box_muller", "categorical", "filtered_logits", "frozen_weights",
           "on_clock", "sample_window"]
