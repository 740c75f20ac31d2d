"""Sample the next ``target_ms`` (600 ms) of input from a trained model, one event at a time.

:func:`generate_window` runs the :class:`~actiongen_keras.generation.incremental.IncrementalDecoder`
step by step from the BOS step of one window and samples every head of each step:

1. **event type** from the event head (temperature, top-k, top-p; see
   :func:`sample_categorical`), after the constraint masks below;
2. the step's **attributes conditioned on that type** (the generator's type-conditioned
   heads): the **interval** ``dt`` (ms since the previous event) from the multi-scale
   timing mixture (:func:`~actiongen_keras.layers.multi_scale_timing.sample_timing_ms`,
   its scale/component logits divided by the temperature); the **position** of a move
   from the xy Gaussian mixture (component logits / temperature, then ``N(mu, sigma)``,
   clipped into the screen); the **button**, **key** or **scroll** class from its head.

Greedy mode (``temperature == 0``) is deterministic: argmax of every (masked) categorical
head, the *median* of the timing mixture and the mean of the most probable xy component
(the point predictions ``decode_outputs`` scores). ``top_k == 1`` is greedy for the
categorical heads at any temperature.

**Length.** A window ends at the first of: EOS sampled; an event whose time passes
``T + target_ms`` (it is dropped: it belongs to the next window, which is generated from
its own context); ``max_actions`` events (the training data truncates there and never
teaches EOS at ``max_actions``, so the window just stops). The sequence-length head is not
used for sampling.

**Constraints** (``SamplingConfig.constrain``, on by default), applied as masks before
sampling, so the output is a consistent input stream:

* PAD is never sampled (it is never a target);
* ``release`` only while some button is held, and then only a held button; ``press`` only
  of a button that is not held (never button id 0 "none");
* ``key_up`` only while some (known) key is down, and then only a key that is down;
  ``key_down`` only of a known key (vocabulary id >= 2) that is not down: the unknown
  key (id 1) has no name to write, and key auto-repeat (a second ``key_down`` without
  ``key_up``) is not generated;
* a scroll has at least one non-zero notch (``dy`` is drawn without the 0 class when ``dx``
  came out 0);
* the first event of a window is not earlier than ``T``: its interval is redrawn (up to
  :data:`MAX_REDRAWS` times, then clamped to ``T``) when ``last event + dt < T``;
* events other than moves keep the current cursor position (the cursor moves only by
  moves), so a press happens where the cursor is.

The held buttons/keys come in with the window (:class:`Held`, from the history) and are
updated by the generated events; the rollout carries them from window to window.

The numbers and tables of these rules (the masks, the redraw count, the greedy median grid)
are defined once in :mod:`actiongen_keras.generation.rules`, which the SavedModel's in-graph
``generate`` loop reads too (it follows the same rules; tested equal in greedy mode).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from actiongen_keras.data import features as F
from actiongen_keras.generation import rules as R
from actiongen_keras.generation.rules import (
    MAX_REDRAWS,
    timing_cdf_np,
    timing_median_ms,
)
from actiongen_keras.layers.multi_scale_timing import sample_timing_ms


@dataclasses.dataclass
class SamplingConfig:
    """How to sample: ``temperature`` (0 = greedy), ``top_k`` (0 = off), ``top_p`` (1 = off)
    for the categorical heads, whether to apply the constraint masks (module doc), and
    ``xy_noise_corr`` (0 = off): the correlation of the Gaussian position draws of
    consecutive moves in a window.

    With independent draws (the default) every move jitters around the predicted mean, and
    the closed loop turns that into a zig-zag path: a third of the steps reverse direction
    where people's paths almost never do. With ``xy_noise_corr = rho`` the standard normal
    of each move is ``rho * z_prev + sqrt(1 - rho^2) * e``: every single draw still has the
    model's distribution, but the deviations drift smoothly."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    constrain: bool = True
    xy_noise_corr: float = 0.0

    def __post_init__(self):
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0.0 <= self.xy_noise_corr < 1.0:
            raise ValueError(f"xy_noise_corr must be in [0, 1), got {self.xy_noise_corr}")

    @property
    def greedy(self):
        return self.temperature == 0


@dataclasses.dataclass
class Held:
    """Buttons (ids of ``features.BUTTONS``) and keys (vocabulary ids) currently down."""

    buttons: set = dataclasses.field(default_factory=set)
    keys: set = dataclasses.field(default_factory=set)

    def copy(self):
        return Held(set(self.buttons), set(self.keys))

    def update(self, typ, button=0, key=0):
        typ = int(typ)
        if not 0 <= typ < F.NUM_EVENT_CLASSES or R.HELD_AFTER[typ] < 0:
            return
        held, x = (self.buttons, int(button)) if R.NAMES_BUTTON[typ] else (self.keys, int(key))
        if R.HELD_AFTER[typ]:
            held.add(x)
        else:
            held.discard(x)

    def button_vector(self):
        """``[NUM_BUTTONS]`` bool: the held buttons (the :mod:`~actiongen_keras.generation.rules` layout)."""
        v = np.zeros(F.NUM_BUTTONS, dtype=bool)
        v[[b for b in self.buttons if 0 <= b < F.NUM_BUTTONS]] = True
        return v

    def key_vector(self, num_keys):
        """``[num_keys]`` bool: the held keys."""
        v = np.zeros(int(num_keys), dtype=bool)
        v[[k for k in self.keys if 0 <= k < num_keys]] = True
        return v

    @classmethod
    def from_tokens(cls, types, buttons, keys):
        """Replay event tokens (in time order) into the set of held buttons/keys."""
        h = cls()
        for t, b, k in zip(np.asarray(types).tolist(), np.asarray(buttons).tolist(), np.asarray(keys).tolist()):
            h.update(t, b, k)
        return h


# --------------------------------------------------------------------------- categorical


def filtered_probs(logits, temperature=1.0, top_k=0, top_p=1.0, allowed=None):
    """Sampling probabilities (float64) of one logit vector after masking, temperature,
    top-k and top-p. ``temperature == 0`` gives a one-hot at the (allowed) argmax.

    ``allowed``: boolean mask of classes that may be drawn (``None``: all). When no class is
    allowed the mask is ignored (callers avoid this).
    """
    z = np.asarray(logits, dtype=np.float64).reshape(-1).copy()
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.any():
            z[~allowed] = -np.inf
    if temperature == 0 or top_k == 1:
        p = np.zeros_like(z)
        p[int(np.argmax(z))] = 1.0
        return p
    z = z / float(temperature)
    z -= z[np.isfinite(z)].max()
    p = np.exp(z)
    if top_k and top_k < len(p):
        kth = np.sort(p)[-top_k]
        p = np.where(p >= kth, p, 0.0)
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = np.zeros_like(p, dtype=bool)
        keep[order[: int(np.searchsorted(cum, top_p, side="left")) + 1]] = True
        p = np.where(keep, p, 0.0)
        p /= p.sum()
    return p


def sample_categorical(logits, rng, temperature=1.0, top_k=0, top_p=1.0, allowed=None):
    """One class id from ``logits`` (see :func:`filtered_probs`); greedy draws no random number."""
    p = filtered_probs(logits, temperature, top_k, top_p, allowed)
    if temperature == 0 or top_k == 1:
        return int(np.argmax(p))
    return int(min(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"), len(p) - 1))


def entropy(p):
    p = np.asarray(p, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


# --------------------------------------------------------------------------- continuous


def correlated_normal(prev, rho, rng):
    """The next standard normal pair of an AR(1) chain: ``rho * prev + sqrt(1 - rho^2) * e``
    (a fresh pair when ``prev`` is None). Each pair is N(0, I); consecutive pairs correlate
    by ``rho``."""
    e = rng.standard_normal(2)
    return e if prev is None else rho * np.asarray(prev, dtype=np.float64) + np.sqrt(1.0 - rho * rho) * e


def sample_xy(params, num_mixtures, rng, temperature=1.0, z=None):
    """One position (screen units) from the xy mixture ``params [5M]`` (split_xy_params
    layout); greedy: the mean of the most probable component. Clipped into [0, 1].
    ``z``: the standard normal pair to use (default: a fresh draw)."""
    from actiongen_keras.layers.context_aware_generator import (
        XY_SIGMA_FLOOR,
        XY_SIGMA_SHIFT,
    )

    p = np.asarray(params, dtype=np.float64).reshape(-1)
    M = int(num_mixtures)
    logits = p[:M]
    mu = np.stack([p[M : 2 * M], p[2 * M : 3 * M]], -1)
    if temperature == 0:
        return np.clip(mu[int(np.argmax(logits))], 0.0, 1.0)
    sigma = XY_SIGMA_FLOOR + np.logaddexp(0.0, np.stack([p[3 * M : 4 * M], p[4 * M : 5 * M]], -1) - XY_SIGMA_SHIFT)
    c = sample_categorical(logits, rng, temperature)
    z = rng.standard_normal(2) if z is None else np.asarray(z, dtype=np.float64)
    return np.clip(mu[c] + sigma[c] * z, 0.0, 1.0)


# --------------------------------------------------------------------------- one window


@dataclasses.dataclass
class WindowEvents:
    """Generated events of one window: times relative to ``T`` (ms), token ids, positions
    in screen units; ``stop``: "eos", "time" (the next event passed ``T + target_ms``) or
    "max_actions"."""

    t_rel: np.ndarray
    dt: np.ndarray
    type: np.ndarray
    button: np.ndarray
    key: np.ndarray
    scroll: np.ndarray  # [n, 2] class ids
    xy: np.ndarray  # [n, 2]
    stop: str

    def __len__(self):
        return len(self.type)


def _type_mask(held, num_keys, constrain):
    return R.type_mask(held.button_vector(), held.key_vector(num_keys), constrain)


def _sample_step_attrs(out, typ, held, cursor, rng, sc, timing, num_xy, num_keys, z=None):
    """(dt, xy, button, key, scroll) of an event of type ``typ`` from the step outputs
    (``z``: the position's standard normal pair, see ``SamplingConfig.xy_noise_corr``)."""
    T, k, p = sc.temperature, sc.top_k, sc.top_p
    row = lambda name: out[name][0, typ]
    b_ms, M_t, max_ms = timing["boundaries_ms"], timing["num_components"], timing["max_ms"]
    tparams = row("timing")
    if sc.greedy:
        dt = timing_median_ms(tparams, b_ms, M_t, max_ms)
    else:
        dt = float(sample_timing_ms(tparams, b_ms, M_t, max_ms, rng=rng, temperature=T))
    xy = sample_xy(row("xy"), num_xy, rng, T, z) if R.MOVES_CURSOR[typ] else np.asarray(cursor, dtype=np.float64)
    button = key = 0
    scroll = (R.SCROLL_STILL, R.SCROLL_STILL)
    if R.NAMES_BUTTON[typ]:
        allowed = R.button_mask(typ, held.button_vector(), sc.constrain)
        button = sample_categorical(row("button"), rng, T, k, p, allowed)
    elif R.NAMES_KEY[typ]:
        allowed = R.key_mask(typ, held.key_vector(num_keys), sc.constrain)
        key = sample_categorical(row("key"), rng, T, k, p, allowed)
    elif typ == F.SCROLL:
        logits = row("scroll")
        dx = sample_categorical(logits[0], rng, T, k, p)
        dy = sample_categorical(logits[1], rng, T, k, p, R.scroll_dy_mask(dx))  # a scroll moves at least one notch
        scroll = (dx, dy)
    return dt, tparams, xy, button, key, scroll


def generate_window(decoder, inputs, rng, sampling=None, timing=None, num_xy_mixtures=4, held=None, last_t_rel=None,
                    target_ms=600.0, max_actions=None):
    """Sample the events of one window ``[T, T + target_ms)``.

    Args:
        decoder: an :class:`~actiongen_keras.generation.incremental.IncrementalDecoder`.
        inputs: one window's model inputs (``make_windows`` layout, batch axis of 1); the
            decoder inputs after BOS are overwritten as events are generated.
        rng: ``numpy.random.Generator`` (unused in greedy mode).
        sampling: :class:`SamplingConfig`.
        timing: ``timing_spec(config, meta)`` (boundaries, components, max_ms).
        held: :class:`Held` at ``T`` (updated in place); default: from the history.
        last_t_rel: time of the previous event relative to ``T`` (<= 0 ms); default: the
            last history event (or ``T`` without history).
        max_actions: at most this many events (default: the model's ``A``).

    Returns:
        :class:`WindowEvents`.
    """
    sc = sampling or SamplingConfig()
    A1 = decoder.A1
    max_actions = min(int(max_actions or A1 - 1), A1 - 1)
    num_keys = int(decoder.generator.num_keys)
    if held is None:
        ht = np.asarray(inputs["hist_type"])[0]
        held = Held.from_tokens(ht, np.asarray(inputs["hist_button"])[0], np.asarray(inputs["hist_key"])[0])
    if last_t_rel is None:
        ht, tb = np.asarray(inputs["hist_type"])[0], np.asarray(inputs["hist_t_before"])[0]
        last_t_rel = -float(tb[ht != F.PAD].min()) if (ht != F.PAD).any() else 0.0
    ints, floats = decoder.pack(inputs)  # copies; steps after BOS are filled as we go
    ints[:, 1:] = 0
    floats[:, 1:] = 0.0
    cursor = floats[0, 0, 2:4].astype(np.float64)
    ctx = decoder.encode(inputs)
    rows = []
    t_prev = float(last_t_rel)
    stop = "max_actions"
    rho = float(sc.xy_noise_corr)
    z = None  # the previous move's standard normal pair (xy_noise_corr)
    for i in range(max_actions):
        out = decoder.step(ctx, (ints, floats), i)
        allowed = _type_mask(held, num_keys, sc.constrain)
        typ = sample_categorical(out["event_type"][0], rng, sc.temperature, sc.top_k, sc.top_p, allowed)
        if typ == F.EOS:
            stop = "eos"
            break
        z_move = None
        if rho > 0.0 and not sc.greedy and R.MOVES_CURSOR[typ]:
            z = z_move = correlated_normal(z, rho, rng)
        dt, tparams, xy, button, key, scroll = _sample_step_attrs(out, typ, held, cursor, rng, sc, timing, num_xy_mixtures, num_keys, z_move)
        if t_prev + dt < 0.0:  # the first event of a window starts at T at the earliest
            need = -t_prev
            if not sc.greedy:
                cand = sample_timing_ms(np.repeat(tparams[None], MAX_REDRAWS, 0), timing["boundaries_ms"], timing["num_components"],
                                        timing["max_ms"], rng=rng, temperature=sc.temperature)
                ok = np.flatnonzero(cand >= need)
                dt = float(cand[ok[0]]) if len(ok) else need
            else:
                dt = need
        t_rel = t_prev + dt
        if t_rel >= target_ms:
            stop = "time"
            break
        rows.append((t_rel, dt, typ, button, key, scroll[0], scroll[1], float(xy[0]), float(xy[1])))
        held.update(typ, button, key)
        cursor = np.asarray(xy, dtype=np.float64)
        t_prev = t_rel
        ints[0, i + 1] = (typ, button, key, scroll[0], scroll[1])
        floats[0, i + 1] = (dt, t_rel, cursor[0], cursor[1])
    a = np.array(rows, dtype=np.float64).reshape(-1, 9)
    return WindowEvents(
        t_rel=a[:, 0], dt=a[:, 1], type=a[:, 2].astype(np.int32), button=a[:, 3].astype(np.int32), key=a[:, 4].astype(np.int32),
        scroll=a[:, 5:7].astype(np.int32), xy=a[:, 7:9], stop=stop,
    )


__all__ = [
    "MAX_REDRAWS",
    "Held",
    "SamplingConfig",
    "WindowEvents",
    "correlated_normal",
    "entropy",
    "filtered_probs",
    "generate_window",
    "sample_categorical",
    "sample_xy",
    "timing_cdf_np",
    "timing_median_ms",
]
