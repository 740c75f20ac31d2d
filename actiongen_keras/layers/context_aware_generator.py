"""ContextAwareActionGenerator: fuses the context and predicts every head of a step."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from actiongen_keras.data import features as F
from actiongen_keras.layers.multi_scale_timing import (
    DEFAULT_BOUNDARIES_MS,
    DEFAULT_MAX_MS,
    MultiScaleTimingProcessor,
)
from actiongen_keras.layers.state_anchor_query import DIST_SCALE, TIME_SCALE_MS, StateAnchorQuery
from actiongen_keras.layers.temporal_position_encoding import TemporalPositionEncoding, encoding_settings

XY_SIGMA_FLOOR = 1e-3
"""The layer's default sigma floor (screen units, ~1.3-2 px on 1339-1920 px screens): what
models saved before ``xy_sigma_floor`` was an argument were trained with. New models take
``model.xy_sigma_floor``."""
XY_SIGMA_SHIFT = 1.5  # sigma = floor + softplus(raw - shift): starts near 0.2 screens
NUM_BEHAVIOUR_FEATURES = 14
XY_HEADS = ("velocity", "absolute")
"""How the xy head places its means (:class:`ContextAwareActionGenerator`): ``velocity``
continues the cursor's last step, ``absolute`` does not (the earlier head, for the ablation)."""
XY_FRAMES = ("screen", "motion", "polar", "polar_factored")
"""The xy head's spreads (:class:`ContextAwareActionGenerator`): Gaussian along the screen's
``x`` and ``y``, Gaussian along and across the cursor's last step (``motion``), ``polar``:
log-normal in the step's length and normal in its turn from each component's mean step, or
``polar_factored``: the same length and turn distributions, drawn from two mixtures of their
own (a length's component says nothing about the turn's)."""
POLAR_FRAMES = ("polar", "polar_factored")
POLAR_EPS = 1e-5
"""Polar frame: the length (screen units, ~0.015 px) added in quadrature to every step, so a
step of zero length has a finite log and a direction (the screen's x axis)."""


def split_xy_params(params, num_mixtures):
    """``params [..., 5M]`` -> ``logits, mu [..., M, 2], sigma [..., M, 2]``.

    Layout of the xy head output: ``[logits(M) | mu_x(M) | mu_y(M) | log_sigma_x(M) |
    log_sigma_y(M)]``. The means are absolute positions in screen units: the network
    predicts the displacement from the step's cursor (``dec_xy``), as a free offset plus a
    learned fraction of the anchor pointer (:class:`StateAnchorQuery`), and the head adds
    the cursor back, so the mixture is over the displacement, expressed in absolute terms.
    The layer applies its sigma floor before taking the log, so every reader (loss,
    sampler, metrics) sees the same sigmas without knowing the floor.
    """
    M = int(num_mixtures)
    logits = params[..., :M]
    mu = ops.stack([params[..., M : 2 * M], params[..., 2 * M : 3 * M]], axis=-1)
    sigma = ops.exp(ops.stack([params[..., 3 * M : 4 * M], params[..., 4 * M : 5 * M]], axis=-1))
    return logits, mu, sigma


def xy_width(num_mixtures, frame="screen"):
    """The xy head's last dimension: ``5M``, ``+ 2`` for the motion and polar frames'
    :func:`xy_tail`, ``+ M`` more for the factored polar frame's turn logits
    (:func:`xy_turn_logits`)."""
    M = int(num_mixtures)
    return 5 * M + (0 if frame == "screen" else 2) + (M if frame == "polar_factored" else 0)


def xy_turn_logits(params, num_mixtures):
    """The factored polar head's turn logits ``[..., M]`` (the columns after its :func:`xy_tail`),
    or None for every other frame: in ``polar_factored`` the step's length is drawn from the
    components by ``logits`` (:func:`split_xy_params`) and its turn, independently, by these;
    the turn of component ``j`` is measured from the direction of its mean step."""
    M = int(num_mixtures)
    if params.shape[-1] != xy_width(M, "polar_factored"):
        return None
    return params[..., 5 * M + 2 :]


def xy_tail(params, num_mixtures):
    """The two columns a motion or polar head appends to its ``[5M]`` layout, or None.

    ``xy_frame="motion"``: the unit vector ``u`` of the cursor's last step (``sigma[..., 0]``
    is the spread along ``u``, ``sigma[..., 1]`` across it, ``u`` turned a quarter
    counter-clockwise). ``xy_frame="polar"``: the step's cursor (screen units), from which
    each component's mean step is measured (:func:`xy_log_prob`). Known from the static last
    dimension, so every reader stays one graph; what the columns mean is the frame's."""
    M = int(num_mixtures)
    if params.shape[-1] == xy_width(M):
        return None
    return params[..., 5 * M : 5 * M + 2]


def translate_xy_params(params, d, num_mixtures, frame="screen"):
    """The xy head's mixture ``params [..., 5M (+2)]`` moved by ``d [..., 2]`` (screen units):
    every component's mean, and a polar head's cursor (its :func:`xy_tail`; a motion head's
    tail is a direction and stays). Every frame's density depends on ``y - mean`` (and the
    polar one on ``y - cursor``) only, so the log density of ``y`` under the moved params is
    that of ``y - d`` under ``params`` (:func:`xy_log_prob`): self-fed training
    (``training/self_feed.py``) moves its targets this way without touching the loss."""
    M = int(num_mixtures)
    d = ops.cast(d, params.dtype)
    parts = [params[..., :M], params[..., M : 2 * M] + d[..., :1], params[..., 2 * M : 3 * M] + d[..., 1:], params[..., 3 * M : 5 * M]]
    tail = xy_tail(params, M)
    if tail is not None:
        parts.append(tail + d if frame in POLAR_FRAMES else tail)
        parts.append(params[..., 5 * M + 2 :])  # the factored polar head's turn logits (empty otherwise)
    return ops.concatenate(parts, axis=-1)


def _polar_parts(m):
    """A mean step ``m [..., 2]`` (from the cursor) as its unit direction ``[..., 2]`` and log
    length ``[...]`` (:data:`POLAR_EPS` added in quadrature)."""
    rho = ops.sqrt(ops.sum(ops.square(m), axis=-1) + POLAR_EPS**2)
    return motion_direction(m), ops.log(rho)


def _wrap(angle):
    """Angles in (-pi, pi]."""
    return ops.arctan2(ops.sin(angle), ops.cos(angle))


def to_frame(d, u):
    """Screen-axis vectors ``d [..., 2]`` in the frame of unit vectors ``u`` (along, across);
    ``u`` broadcasts. The inverse of :func:`from_frame`."""
    return ops.stack([d[..., 0] * u[..., 0] + d[..., 1] * u[..., 1], d[..., 1] * u[..., 0] - d[..., 0] * u[..., 1]], axis=-1)


def from_frame(d, u):
    """Frame vectors ``d [..., 2]`` (along, across ``u``) on the screen axes."""
    return ops.stack([d[..., 0] * u[..., 0] - d[..., 1] * u[..., 1], d[..., 0] * u[..., 1] + d[..., 1] * u[..., 0]], axis=-1)


def motion_direction(step, min_norm=1e-6):
    """The unit vector of ``step [..., 2]`` (screen units); ``(1, 0)``, the screen's own axes,
    where the cursor did not move (norm below ``min_norm``, 1e-6 of a screen)."""
    norm = ops.sqrt(ops.sum(ops.square(step), axis=-1, keepdims=True))
    moving = norm > min_norm
    x_axis = ops.concatenate([ops.ones_like(norm), ops.zeros_like(norm)], axis=-1)
    return ops.where(moving, step / ops.maximum(norm, min_norm), x_axis)


def xy_components(params, num_mixtures, choose):
    """The one-hot components a position is drawn from: ``[..., M, 1]``, or ``[..., M, 2]`` for
    a factored polar head (column 0 the length's, column 1 the turn's; :func:`draw_position`).
    ``choose(logits, k) -> ids [...]`` picks from ``logits [..., M]``, ``k`` 0 for the length's
    (every frame's) and 1 for the turn's (:func:`xy_turn_logits`): the sampling loop draws with
    its own uniforms, self-fed training with Keras's generator, :func:`xy_point` takes the argmax."""
    M = int(num_mixtures)
    logits = split_xy_params(params, M)[0]
    chosen = [logits] + [t for t in [xy_turn_logits(params, M)] if t is not None]
    return ops.stack([ops.one_hot(choose(lg, k), M, dtype=logits.dtype) for k, lg in enumerate(chosen)], axis=-1)


def xy_point(params, num_mixtures, frame="screen"):
    """The most probable component's central point: ``[..., 5M (+2) (+M)] -> [..., 2]`` (screen
    units); the greedy position of generation and the point prediction the metrics score.

    The draw of :func:`draw_position` with ``z = 0`` from the most probable component(s): the
    mean, except in the polar frames (``frame``, the head's ``xy_frame``), where it is the
    median step: the mean step ``m`` shortened by ``exp(-sigma_0^2 / 2)`` (a log-normal
    length's median lies below its mean; the median is the point with the smaller absolute
    error), along ``m`` (factored: along the most probable turn component's mean step)."""
    _, mu, sigma = split_xy_params(params, num_mixtures)
    one = xy_components(params, num_mixtures, lambda logits, _: ops.argmax(logits, axis=-1))
    return draw_position(mu, sigma, one, ops.zeros_like(mu[..., 0, :]), frame, xy_tail(params, num_mixtures))


def draw_position(mu, sigma, one, z, frame="screen", tail=None):
    """A position ``[..., 2]`` from the component chosen by ``one [..., M, 1]`` (one-hot) and
    the standard normal pair ``z [..., 2]``; ``mu``, ``sigma [..., M, 2]``
    (:func:`split_xy_params`), ``tail`` (:func:`xy_tail`) for the motion and polar frames.
    ``polar_factored``: ``one [..., M, 2]``, the length's component (column 0, drawn by the
    logits) and the turn's (column 1, drawn by :func:`xy_turn_logits`).

    ``screen``: the mean plus ``sigma * z`` on x and y. ``motion``: the same along and
    across the last step. ``polar``: a step from the cursor ``tail`` of length
    ``|m| exp(sigma_0 z_0 - sigma_0^2 / 2)`` (log-normal with the mean length of the
    component's mean step ``m = mu - tail``)
    turned by ``sigma_1 z_1`` (wrapped into (-pi, pi]) from ``m``'s direction. The sampling
    loop (``generation/sampler.py``) and self-fed training (``training/self_feed.py``) both
    draw with it, so the positions a model is trained to recover from are the ones it
    generates; :func:`xy_log_prob` is the density of these draws."""
    s = ops.sum(sigma * one, axis=-2)  # factored: the length's spread (column 0) and the turn's (column 1)
    m = ops.sum(mu * one[..., :1], axis=-2)
    if frame in POLAR_FRAMES:
        u, log_rho = _polar_parts(m - tail)  # the chosen component's mean step only
        if frame == "polar_factored":
            u = motion_direction(ops.sum(mu * one[..., 1:], axis=-2) - tail)
        r = ops.exp(log_rho + s[..., 0] * z[..., 0] - 0.5 * ops.square(s[..., 0]))
        phi = _wrap(s[..., 1] * z[..., 1])
        return tail + from_frame(ops.stack([r * ops.cos(phi), r * ops.sin(phi)], axis=-1), u)
    noise = s * z
    if frame == "motion":
        noise = from_frame(noise, tail)
    return m + noise


def xy_log_prob(y, params, num_mixtures, frame="screen"):
    """Log density ``[...]`` of positions ``y [..., 2]`` (screen units) under the xy head's
    mixture ``params`` (:func:`split_xy_params` layout, :func:`xy_tail` for the frame), per
    unit area of the screen whatever the frame, so every frame's NLL is comparable.

    ``screen`` / ``motion``: diagonal Gaussians (the motion frame turns the residuals into
    its frame first; the turn keeps lengths, so no Jacobian). ``polar``: with ``d = y -
    cursor`` and each component's mean step ``m``, ``log |d| ~ N(log |m| - sigma_0^2 / 2,
    sigma_0)`` (so that the mean length is ``|m|``: a median at ``|m|`` made every sampled
    step faster than the last on average, and closed-loop paths sped up to the screen's
    edges) and
    the turn from ``m`` to ``d`` a wrapped normal ``(0, sigma_1)`` (five windings), times
    the Jacobian ``1 / |d|^2`` of ``(log r, angle) -> (x, y)``. The density of
    :func:`draw_position`'s draws. ``polar_factored``: the length's mixture (``logits``) times
    the turn's (:func:`xy_turn_logits`), each over the same components' length and turn
    densities, times the same Jacobian."""
    M = int(num_mixtures)
    logits, mu, sigma = split_xy_params(params, M)
    y = ops.expand_dims(ops.cast(y, mu.dtype), -2)  # [..., 1, 2]
    tail = xy_tail(params, M)
    half_log_2pi = 0.5 * np.log(2 * np.pi)
    log_w = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    if frame in POLAR_FRAMES:
        u, log_rho = _polar_parts(mu - ops.expand_dims(tail, -2))
        d = y - ops.expand_dims(tail, -2)
        log_r = 0.5 * ops.log(ops.sum(ops.square(d), axis=-1) + POLAR_EPS**2)
        fd = to_frame(d, u)
        phi = ops.arctan2(fd[..., 1], fd[..., 0])
        s_r, s_phi = sigma[..., 0], sigma[..., 1]
        windings = ops.convert_to_tensor(np.arange(-2, 3) * 2 * np.pi, dtype=mu.dtype)
        log_turn = ops.logsumexp(-0.5 * ops.square((ops.expand_dims(phi, -1) + windings) / ops.expand_dims(s_phi, -1)), axis=-1)
        log_len = -0.5 * ops.square((log_r - log_rho + 0.5 * ops.square(s_r)) / s_r) - ops.log(s_r) - half_log_2pi
        log_turn = log_turn - ops.log(s_phi) - half_log_2pi
        turn_logits = xy_turn_logits(params, M)
        if turn_logits is not None:
            log_b = turn_logits - ops.logsumexp(turn_logits, axis=-1, keepdims=True)
            return ops.logsumexp(log_w + log_len, axis=-1) + ops.logsumexp(log_b + log_turn, axis=-1) - 2.0 * log_r[..., 0]
        log_n = log_len + log_turn - 2.0 * log_r
    else:
        d = y - mu  # [..., M, 2]
        if frame == "motion":
            d = to_frame(d, ops.expand_dims(tail, -2))
        z = d / sigma
        log_n = ops.sum(-0.5 * ops.square(z) - ops.log(sigma) - half_log_2pi, axis=-1)
    return ops.logsumexp(log_w + log_n, axis=-1)


def behaviour_features(hist_type, hist_dt, hist_t_before, hist_xy, screen):
    """This person's recent rhythm and speed, from the history: ``[B, NUM_BEHAVIOUR_FEATURES]``.

    Over the real (``hist_type != 0``) events: log1p(count); mean, std and median of
    ``log1p(dt)``; log1p(time since the last event); mean log1p(speed) in screens/s over
    consecutive real events; fractions of moves, presses (click rate), key downs, scrolls;
    presses per second over the span of the history; a has-history flag; log(screen / 1000 px)
    (width, height: normalised distances depend on the screen). Padding values
    never matter (selected out with ``where``).
    """
    valid = ops.not_equal(ops.cast(hist_type, "int32"), F.PAD)
    vf = ops.cast(valid, "float32")
    n = ops.sum(vf, axis=-1)
    n1 = ops.maximum(n, 1.0)
    ld = ops.log1p(ops.maximum(ops.where(valid, ops.cast(hist_dt, "float32"), 0.0), 0.0))
    mean_ld = ops.sum(ld * vf, -1) / n1
    std_ld = ops.sqrt(ops.maximum(ops.sum(ops.square(ld - mean_ld[:, None]) * vf, -1) / n1, 0.0) + 1e-6)
    big = 1e9
    srt = ops.sort(ops.where(valid, ld, big), axis=-1)
    mid = ops.cast(ops.maximum(ops.floor((n - 1.0) / 2.0), 0.0), "int32")
    med = ops.take_along_axis(srt, mid[:, None], axis=-1)[:, 0]
    med = ops.where(n > 0, med, 0.0)
    tb = ops.where(valid, ops.cast(hist_t_before, "float32"), big)
    last = ops.where(n > 0, ops.log1p(ops.maximum(ops.min(tb, axis=-1), 0.0)), 0.0)
    span_s = ops.where(n > 0, ops.max(ops.where(valid, ops.cast(hist_t_before, "float32"), 0.0), axis=-1), 0.0) / 1000.0
    xy = ops.where(valid[..., None], ops.cast(hist_xy, "float32"), 0.0)
    pair = vf[:, 1:] * vf[:, :-1]
    dist = ops.sqrt(ops.sum(ops.square(xy[:, 1:] - xy[:, :-1]), -1) + 1e-12)
    dt_pair = ops.maximum(ops.where(valid[:, 1:], ops.cast(hist_dt, "float32")[:, 1:], 1.0), 1.0)
    speed = ops.log1p(dist * 1000.0 / dt_pair)
    mean_speed = ops.sum(speed * pair, -1) / ops.maximum(ops.sum(pair, -1), 1.0)
    t = ops.cast(hist_type, "int32")

    def frac(cls):
        return ops.sum(ops.cast(ops.equal(t, cls), "float32"), -1) / n1

    presses = ops.sum(ops.cast(ops.equal(t, F.PRESS), "float32"), -1)
    click_rate = presses / ops.maximum(span_s, 1.0)
    feats = [ops.log1p(n), mean_ld, std_ld, med, last, mean_speed, frac(F.MOVE), frac(F.PRESS), frac(F.KEY_DOWN), frac(F.SCROLL), click_rate, ops.cast(n > 0, "float32")]
    scr = ops.log(ops.maximum(ops.cast(screen, "float32"), 1.0) / 1000.0)
    feats += [scr[:, 0], scr[:, 1]]
    return ops.stack(feats, axis=-1)


NUM_STEP_FEATURES = 4
STILL_STEP = 1e-6  # screens: a shorter last step stood still (step_features; motion_direction's default)
STEP_SEED = 1789  # the step processor's own kernel seed (ContextAwareActionGenerator: it must not draw from the global one)


def step_features(dec_xy, prev_xy):
    """What the heads know of the cursor's last step (``dec_xy - prev_xy``, screen units):
    ``[..., NUM_STEP_FEATURES]``: its log length, scaled to about unit range (a pixel of a
    1920-px screen -0.35, 30 px 0.78, a cursor that stood still -1.67), whether it stood
    still, and its unit direction (the screen's x axis at rest). A step under 1e-6 screens
    counts as none, exactly: a position carried through the loop's pixel grid and back is
    a float32 step from the model's, and the log would tell the two apart. The event embedding encodes
    positions with periods of a quarter screen and more, so the decoder's states cannot tell
    a one-pixel creep from a 20-pixel stride nor from a cursor at rest; without this the xy
    head's weights and spreads hedge over every speed at once (module doc of
    :class:`ContextAwareActionGenerator`, step context)."""
    step = ops.cast(dec_xy, "float32") - ops.cast(prev_xy, "float32")
    norm = ops.sqrt(ops.sum(ops.square(step), axis=-1, keepdims=True))
    still = norm <= STILL_STEP  # float32 noise of a position that did not move (the sampling loop's pixel grid)
    log_len = (ops.log(ops.where(still, 0.0, norm) + 1e-5) + 6.5) / 3.0
    still = ops.cast(still, "float32")
    return ops.concatenate([log_len, still, motion_direction(step, STILL_STEP)], axis=-1)


def previous_cursor(dec_xy, hist_xy, hist_type):
    """The cursor one event before each decoder step's cursor: ``[B, T, 2]``.

    Step ``i > 0``'s cursor is target ``i - 1``'s position, so its predecessor is step
    ``i - 1``'s cursor. Step 0's cursor (BOS) is the last history event's position, so its
    predecessor is the second-last history event's (history is right-aligned); with fewer
    than two history events it is BOS itself (no known motion)."""
    return ops.concatenate([first_previous_cursor(dec_xy[:, 0], hist_xy, hist_type)[:, None], dec_xy[:, :-1]], axis=1)


def first_previous_cursor(bos_xy, hist_xy, hist_type):
    """:func:`previous_cursor` of step 0 only: ``[B, 2]`` (the sampling loop's start)."""
    two = ops.not_equal(ops.cast(hist_type[:, -2], "int32"), F.PAD)
    return ops.where(two[:, None], ops.cast(hist_xy[:, -2], "float32"), ops.cast(bos_xy, "float32"))


def next_step_types(dec_type):
    """The event type of each step's own target: ``dec_type`` shifted left, EOS at the end."""
    last = ops.full_like(dec_type[:, :1], F.EOS)
    return ops.concatenate([dec_type[:, 1:], last], axis=1)


@keras.saving.register_keras_serializable(package="actiongen")
class ContextAwareActionGenerator(keras.layers.Layer):
    """``call(dec_hidden, state_summary, hist_summary, dec_type, dec_t_after, dec_dt, dec_xy,
    hist_type, hist_dt, hist_t_before, hist_xy, screen, anchor_xy, anchor_dt, anchor_mask)``
    -> tuple of head outputs::

        event_type [B,T,NUM_EVENT_CLASSES]  logits (incl. EOS)
        timing     [B,T,3 + 9*M_t]          MultiScaleTimingProcessor layout
        xy         [B,T,5*M_xy (+2) (+M_xy)] split_xy_params layout (absolute means; + the
                                            motion frame's direction or the polar
                                            frame's cursor, :func:`xy_tail`; + the
                                            factored polar frame's turn logits)
        button     [B,T,NUM_BUTTONS]        logits
        key        [B,T,num_keys]           logits
        scroll     [B,T,2,NUM_SCROLL_CLASSES] logits for (dx, dy)
        dwell      [B,T,3 + 9*M_t]          MultiScaleTimingProcessor layout: how long a
                                            press / key_down is held (ms)

    Four context processors (Dense + gelu, each to ``d_model``): game state
    (``state_summary``, plus the state's anchors seen from the step's cursor and time,
    :class:`StateAnchorQuery`), action history (``hist_summary``), temporal (the step's
    ``t_after`` and ``dt``, via :class:`TemporalPositionEncoding`) and behavioural
    (:func:`behaviour_features` of the history). They are concatenated with the decoder
    output, fused (Dense, LayerNorm, Dropout) and fed to the heads. The xy head may also
    move the cursor a learned fraction of the way to the attended anchor
    (:func:`split_xy_params`).

    **Type-conditioned attributes.** The event-type head reads the fused step ``h``
    alone. The other heads (timing, xy, button, key, scroll) read ``h`` plus an
    embedding of the step's *own* event type, which is the next decoder input
    (``dec_type[:, i + 1]``; EOS after the last step): teacher forcing in ``fit``, the
    sampled type in generation (:meth:`event_logits` first, then :meth:`attributes`).
    Without it one interval distribution must cover a move 16 ms after the last one
    and a key pressed in the same frame, and neither gets its time.

    **Velocity xy head** (``xy_head="velocity"``, the default). Each component's mean is
    the cursor plus a free offset, plus a learned fraction of the anchor pointer, plus a
    learned gain (starting at 1) times the cursor's last step (``dec_xy - prev_xy``, see
    :func:`previous_cursor`). A sampled deviation therefore carries into the next step's
    mean as motion: the path continues and bends instead of snapping back to a mean that
    ignores where the cursor went, which made sampled paths zig-zag. ``"absolute"``
    drops the velocity term (the earlier head; kept for the ablation).

    **Offset scale** (``xy_offset_scale``): the free offsets are the head's raw outputs times
    this factor (screen units per unit). A hand's step differs from its last step by a pixel
    or two, about 1e-3 of a screen; Adam moves a raw output by about the learning rate per
    update, so at scale 1 the means cannot settle closer than several pixels (the model
    trained so erred by 4-5 px even where the cursor moved less than 2 px, and its sampled
    steps reversed direction 10-30 times as often as people's). At 0.01 a raw unit is about
    13-19 px on 1339-1920 px screens. The default 1.0 keeps models saved without the key as they were trained; new
    models take ``model.xy_offset_scale`` (0.01).

    **Sigma floor** (``xy_sigma_floor``, screen units): the smallest spread of a component.
    The earlier fixed 1e-3 (1.3-2 px on SapiMouse's screens) was binding where the cursor
    creeps a pixel or two per step: every sampled step then carried ~1.5 px of noise per
    axis and reversed direction about ten times as often as people's. A floor far below a
    pixel lets the spread follow the hand; training blurs the targets over their pixel
    (``model.xy_dequantize_px``, :class:`PixelDequantization`) so that a spread narrower
    than the recorder's grid earns nothing. The default 1e-3 keeps models saved without the
    key as they were trained.

    **Motion frame** (``xy_frame="motion"``): each component's two spreads lie along and
    across the cursor's last step (:func:`motion_direction` of ``dec_xy - prev_xy``) instead
    of along the screen's x and y, and the head appends that direction to its output
    (:func:`xy_tail`; the loss and the sampler turn residuals and draws with it). A hand
    varies its speed far more than its heading: with its own along and across spreads the
    model can say so, and a sampled deviation falls mostly along the path (faster, slower)
    instead of sideways, which is what made sampled paths turn and reverse where a
    person's run straight. The frame is taken in screen units, so on a non-square screen
    the across axis is perpendicular in screen units, not in pixels (the along axis is the
    motion's own direction either way; the Gaussian is a valid one whatever the skew).
    ``"screen"``, the default, keeps x and y: measured on SapiMouse, the motion frame fits
    the hand better teacher-forced but its wide along-path spread at slow steps puts sampled
    points behind the cursor, so closed-loop paths reverse more (README, "Results on
    SapiMouse"); it stays for the ablation.

    **Polar frame** (``xy_frame="polar"``): the means are built as above, but each
    component's spread is about its own mean step ``m`` (from the cursor): the step's length
    is log-normal with mean ``|m|`` and its direction a wrapped normal around ``m``'s
    (:func:`xy_log_prob`, :func:`draw_position`); the head appends the cursor
    (:func:`xy_tail`). A Gaussian in x and y that covers a hand's variation in speed puts as
    much mass behind the cursor as beside it: teacher-forced on SapiMouse the screen head
    gave a step of 10-30 px a 2.5% chance of reversing where people reverse 0.3% of them
    (``benchmarks/xy_error_by_step.py``). In the polar frame a step reverses only by
    turning more than a quarter, which the turn spread says how often; a faster or slower
    step stays on its heading, and a slow creep keeps its direction.

    **Factored polar frame** (``xy_frame="polar_factored"``): the polar frame's length and
    turn densities, each drawn from a mixture of its own over the same components: the
    length's component by the usual logits, the turn's, independently, by M more
    (:func:`xy_turn_logits`, the head's last units). In the joint polar mixture the
    component that covers the hand's sudden stops and starts (a broad length; 8-18% of the
    weight on the SapiMouse test people) must also cover whatever directions those steps
    take, so it carries a turn spread of 1.2-1.6 rad, and each time it is drawn the step may
    go anywhere. Factored, the turn's weights say only how often the hand turns.

    **Step context** (``step_context``): the cursor's last step (:func:`step_features`: its
    length, whether it stood still, its direction) through a Dense into every attribute
    head's input (``model.step_context``, off by default; it starts as a no-op: random features
    through a zero-kernel ``step_gate``). The event embedding sees positions at a quarter-screen resolution, so
    without it the heads cannot tell a one-pixel creep from a 20-pixel stride: the means
    continue the step (the velocity head), but the weights and spreads hedge over every
    speed, and the draws turn as if any step might be a creep's. Measured (README, "Step
    context and a turn of its own"): with the factored polar frame the draws turn and
    reverse as the hand's steps do at every step length (either alone leaves the polar
    head's closed loop as it was); the screen head reverses less and, on osu!'s unseen
    maps, hits more.

    **Dwell** (``dwell`` head): for a press or key_down, the time until its release, a
    :class:`MultiScaleTimingProcessor` mixture of its own. The sampling loop draws it once
    at the press and releases the button then (``generation/sampler.py``), instead of
    letting the hold end whenever a release happens to be sampled among the moves.
    """

    def __init__(
        self,
        d_model,
        num_keys,
        num_xy_mixtures=4,
        num_timing_components=3,
        timing_boundaries_ms=DEFAULT_BOUNDARIES_MS,
        max_timing_ms=DEFAULT_MAX_MS,
        dropout=0.0,
        num_anchors=1,
        xy_head="velocity",
        dwell_boundaries_ms=DEFAULT_BOUNDARIES_MS,
        xy_offset_scale=1.0,
        xy_sigma_floor=XY_SIGMA_FLOOR,
        xy_frame="screen",
        xy_sigma_shift=XY_SIGMA_SHIFT,
        anchor_dist_scale=DIST_SCALE,
        anchor_time_scale_ms=TIME_SCALE_MS,
        time_encoding=None,
        anchor_event_bias=False,
        step_context=False,
        step_gate=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # what changes outputs is an argument saved in the config (the sublayers are made here,
        # so a reloaded model would otherwise take whatever the module defaults are then)
        self.xy_sigma_shift = float(xy_sigma_shift)
        self.anchor_dist_scale = float(anchor_dist_scale)
        self.anchor_time_scale_ms = float(anchor_time_scale_ms)
        self.time_encoding = encoding_settings(time_encoding)
        self.d_model = int(d_model)
        self.num_keys = int(num_keys)
        self.num_xy_mixtures = int(num_xy_mixtures)
        self.num_timing_components = int(num_timing_components)
        self.timing_boundaries_ms = tuple(float(b) for b in timing_boundaries_ms)
        self.max_timing_ms = float(max_timing_ms)
        self.dropout = float(dropout)
        self.num_anchors = int(num_anchors)
        if xy_head not in XY_HEADS:
            raise ValueError(f"xy_head must be one of {XY_HEADS}, got {xy_head!r}")
        self.xy_head_kind = xy_head
        self.dwell_boundaries_ms = tuple(float(b) for b in dwell_boundaries_ms)
        self.xy_offset_scale = float(xy_offset_scale)
        if not xy_sigma_floor > 0:
            raise ValueError(f"xy_sigma_floor must be > 0, got {xy_sigma_floor}")
        self.xy_sigma_floor = float(xy_sigma_floor)
        if xy_frame not in XY_FRAMES:
            raise ValueError(f"xy_frame must be one of {XY_FRAMES}, got {xy_frame!r}")
        self.xy_frame = xy_frame
        self.anchor_event_bias = bool(anchor_event_bias)
        self.step_context = bool(step_context)
        self.gated = bool(step_gate)
        p = self.dtype_policy
        d = self.d_model

        def dense(units, name, activation=None):
            return keras.layers.Dense(units, activation=activation, name=name, dtype=p)

        self.state_processor = dense(d, "state_processor", "gelu")
        self.anchor_query = StateAnchorQuery(d, self.num_anchors, dist_scale=self.anchor_dist_scale, time_scale_ms=self.anchor_time_scale_ms,
                                             num_event_classes=F.NUM_EVENT_CLASSES if self.anchor_event_bias else 0, name="anchor_query",
                                             dtype=p)
        self.anchor_processor = dense(d, "anchor_processor", "gelu")
        self.history_processor = dense(d, "history_processor", "gelu")
        self.t_after_encoding = TemporalPositionEncoding(d, name="t_after_encoding", dtype=p, **self.time_encoding)
        self.dt_encoding = TemporalPositionEncoding(d, name="dt_encoding", dtype=p, **self.time_encoding)
        self.temporal_processor = dense(d, "temporal_processor", "gelu")
        self.behaviour_processor = dense(d, "behaviour_processor", "gelu")
        self.fusion = dense(d, "fusion", "gelu")
        self.fusion_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="fusion_norm", dtype=p)
        # The step context starts as a no-op: random features of the last step (step_processor)
        # through a zero-kernel projection (step_gate), so an untrained model's outputs are those of
        # the model without it, and a model trained without it warm-starts (--init-from) unchanged;
        # the random features let it open at once (a zero kernel under the gelu itself learned
        # slower: README, "The step context as a default"). Its kernel's seed is fixed and the
        # gate's zeros take none: Keras seeds each unseeded random initializer from Python's
        # generator when it is made, so a draw here would move every layer made after it.
        # step_gate=False: the layout of models saved before the gate (from_config), no gate.
        self.step_processor = self.step_gate = None
        if self.step_context:
            self.step_processor = keras.layers.Dense(d, activation="gelu", kernel_initializer=keras.initializers.GlorotUniform(seed=STEP_SEED),
                                                     name="step_processor", dtype=p)
            if self.gated:
                self.step_gate = keras.layers.Dense(d, use_bias=False, kernel_initializer="zeros", name="step_gate", dtype=p)
        self.fusion_dropout = keras.layers.Dropout(self.dropout, dtype=p)
        self.event_head = dense(F.NUM_EVENT_CLASSES, "event_type_head")
        self.type_condition = keras.layers.Embedding(F.NUM_EVENT_TYPES, d, name="type_condition", dtype=p)
        self.timing = MultiScaleTimingProcessor(
            self.num_timing_components, self.timing_boundaries_ms, self.max_timing_ms, hidden_dim=d, name="timing", dtype=p
        )
        # Small initial weights: means start at the cursor (plus its last step), sigmas near
        # 0.2 screens. Outputs 5M..6M are each component's fraction of the anchor pointer,
        # 6M..7M (velocity head) each component's gain on the last step, minus 1.
        per = (7 if self.xy_head_kind == "velocity" else 6) + (1 if self.xy_frame == "polar_factored" else 0)
        self.xy_head = keras.layers.Dense(
            per * self.num_xy_mixtures, kernel_initializer=keras.initializers.VarianceScaling(0.01), name="xy_head", dtype=p
        )
        self.button_head = dense(F.NUM_BUTTONS, "button_head")
        self.key_head = dense(self.num_keys, "key_head")
        self.scroll_head = dense(2 * F.NUM_SCROLL_CLASSES, "scroll_head")
        self.dwell = MultiScaleTimingProcessor(
            self.num_timing_components, self.dwell_boundaries_ms, self.max_timing_ms, hidden_dim=d, name="dwell", dtype=p
        )

    def build(self, dec_hidden_shape, state_summary_shape, hist_summary_shape, dec_type_shape, dec_t_after_shape, dec_dt_shape,
              dec_xy_shape, hist_type_shape, hist_dt_shape, hist_t_before_shape, hist_xy_shape, screen_shape, anchor_xy_shape,
              anchor_dt_shape, anchor_mask_shape):
        d = self.d_model
        steps = tuple(dec_hidden_shape[:2])  # (B, T)
        self.state_processor.build(state_summary_shape)
        self.history_processor.build(hist_summary_shape)
        self.behaviour_processor.build((state_summary_shape[0], NUM_BEHAVIOUR_FEATURES))
        self.t_after_encoding.build(dec_t_after_shape)
        self.dt_encoding.build(dec_dt_shape)
        self.temporal_processor.build(steps + (d,))
        self.anchor_query.build(anchor_xy_shape, anchor_dt_shape, anchor_mask_shape, dec_xy_shape, dec_t_after_shape)
        self.anchor_processor.build(steps + (d,))
        self.fusion.build(steps + (dec_hidden_shape[-1] + 4 * d,))
        self.fusion_norm.build(steps + (d,))
        self.type_condition.build(dec_type_shape)
        if self.step_processor is not None:
            self.step_processor.build(steps + (NUM_STEP_FEATURES,))
        if self.step_gate is not None:
            self.step_gate.build(steps + (d,))
        for head in (self.event_head, self.timing, self.xy_head, self.button_head, self.key_head, self.scroll_head, self.dwell):
            head.build(steps + (d,))
        self.built = True

    def call(self, dec_hidden, state_summary, hist_summary, dec_type, dec_t_after, dec_dt, dec_xy, hist_type, hist_dt, hist_t_before,
             hist_xy, screen, anchor_xy, anchor_dt, anchor_mask, training=None):
        h, pointer, event_bias = self.fuse(dec_hidden, state_summary, hist_summary, dec_t_after, dec_dt, dec_xy, hist_type, hist_dt,
                                           hist_t_before, hist_xy, screen, anchor_xy, anchor_dt, anchor_mask, training)
        prev_xy = previous_cursor(dec_xy, hist_xy, hist_type)
        return (self.event_logits(h, event_bias),) + self.attributes(h, next_step_types(dec_type), dec_xy, pointer, prev_xy)

    def fuse(self, dec_hidden, state_summary, hist_summary, dec_t_after, dec_dt, dec_xy, hist_type, hist_dt, hist_t_before, hist_xy,
             screen, anchor_xy, anchor_dt, anchor_mask, training=None):
        """The fused per-step features ``h [B, T, d_model]`` that every head reads, the anchor
        ``pointer [B, T, 2]`` (:class:`StateAnchorQuery`) the xy head may follow, and the
        anchors' ``event_bias [B, T, NUM_EVENT_CLASSES]`` of :meth:`event_logits` (None
        without ``anchor_event_bias``)."""
        window = self.window_context(state_summary, hist_summary, hist_type, hist_dt, hist_t_before, hist_xy, screen)
        return self.fuse_steps(window, dec_hidden, dec_t_after, dec_dt, dec_xy, anchor_xy, anchor_dt, anchor_mask, training)

    def window_context(self, state_summary, hist_summary, hist_type, hist_dt, hist_t_before, hist_xy, screen):
        """The context processors' outputs that are the same at every step of a window:
        ``(state [B, d], history [B, d], behaviour [B, d])`` (generation computes them once)."""
        beh = behaviour_features(hist_type, hist_dt, hist_t_before, hist_xy, screen)
        return (self.state_processor(state_summary), self.history_processor(hist_summary),
                self.behaviour_processor(ops.cast(beh, self.compute_dtype)))

    def fuse_steps(self, window, dec_hidden, dec_t_after, dec_dt, dec_xy, anchor_xy, anchor_dt, anchor_mask, training=None):
        """:meth:`fuse` from the :meth:`window_context` of the window."""
        state, history, behaviour = window
        T = ops.shape(dec_hidden)[1]

        def per_step(v):
            return ops.repeat(v[:, None, :], T, axis=1)

        temporal = self.temporal_processor(self.t_after_encoding(dec_t_after) + self.dt_encoding(dec_dt))
        queried = self.anchor_query(anchor_xy, anchor_dt, anchor_mask, dec_xy, dec_t_after)
        anchors, pointer = queried[:2]
        event_bias = queried[2] if self.anchor_event_bias else None
        fused = ops.concatenate(
            [dec_hidden, per_step(state) + self.anchor_processor(anchors), per_step(history), temporal, per_step(behaviour)],
            axis=-1,
        )
        return self.fusion_dropout(self.fusion_norm(self.fusion(fused)), training=training), pointer, event_bias

    def event_logits(self, h, event_bias=None):
        """The event-type logits of the fused steps ``h``, plus the anchors' ``event_bias``
        (:meth:`fuse_steps`) where the generator has one."""
        logits = self.event_head(h)
        return logits if event_bias is None else logits + ops.cast(event_bias, logits.dtype)

    def attributes(self, h, step_type, dec_xy, pointer, prev_xy):
        """``(timing, xy, button, key, scroll, dwell)`` of events of type ``step_type [B, T]``
        at each step, from the cursor ``dec_xy``, the cursor before it ``prev_xy``
        (:func:`previous_cursor`) and the anchor ``pointer`` of :meth:`fuse`."""
        ha = h + self.type_condition(step_type)
        if self.step_processor is not None:
            steps = self.step_processor(ops.cast(step_features(dec_xy, prev_xy), self.compute_dtype))
            ha = ha + (steps if self.step_gate is None else self.step_gate(steps))
        M = self.num_xy_mixtures
        xy_raw = self.xy_head(ha)
        cursor = ops.cast(dec_xy, self.compute_dtype)
        pointer = ops.cast(pointer, self.compute_dtype)
        gain = xy_raw[..., 5 * M : 6 * M]
        shift = cursor[..., None, :] + gain[..., None] * pointer[..., None, :]  # [B, T, M, 2]
        step = cursor - ops.cast(prev_xy, self.compute_dtype)
        if self.xy_head_kind == "velocity":
            shift = shift + (1.0 + xy_raw[..., 6 * M : 7 * M])[..., None] * step[..., None, :]
        offset = self.xy_offset_scale
        parts = [
            xy_raw[..., :M],
            offset * xy_raw[..., M : 2 * M] + shift[..., 0],
            offset * xy_raw[..., 2 * M : 3 * M] + shift[..., 1],
            ops.log(self.xy_sigma_floor + ops.softplus(xy_raw[..., 3 * M : 5 * M] - self.xy_sigma_shift)),
        ]
        if self.xy_frame == "motion":
            parts.append(motion_direction(step))
        elif self.xy_frame in POLAR_FRAMES:
            parts.append(cursor)
        if self.xy_frame == "polar_factored":
            parts.append(xy_raw[..., -M:])  # the turn's own component logits (xy_turn_logits)
        xy = ops.concatenate(parts, axis=-1)
        scroll = self.scroll_head(ha)
        s = ops.shape(scroll)
        scroll = ops.reshape(scroll, (-1, s[1], 2, F.NUM_SCROLL_CLASSES))
        return self.timing(ha), xy, self.button_head(ha), self.key_head(ha), scroll, self.dwell(ha)

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model,
            num_keys=self.num_keys,
            num_xy_mixtures=self.num_xy_mixtures,
            num_timing_components=self.num_timing_components,
            timing_boundaries_ms=list(self.timing_boundaries_ms),
            max_timing_ms=self.max_timing_ms,
            dropout=self.dropout,
            num_anchors=self.num_anchors,
            xy_head=self.xy_head_kind,
            dwell_boundaries_ms=list(self.dwell_boundaries_ms),
            xy_offset_scale=self.xy_offset_scale,
            xy_sigma_floor=self.xy_sigma_floor,
            xy_frame=self.xy_frame,
            xy_sigma_shift=self.xy_sigma_shift,
            anchor_dist_scale=self.anchor_dist_scale,
            anchor_time_scale_ms=self.anchor_time_scale_ms,
            time_encoding=self.time_encoding,
            anchor_event_bias=self.anchor_event_bias,
            step_context=self.step_context,
            step_gate=self.gated,
        )
        return config

    @classmethod
    def from_config(cls, config):
        # a step context saved before its gate (no "step_gate" key) keeps its ungated layout
        if config.get("step_context") and "step_gate" not in config:
            config = {**config, "step_gate": False}
        return super().from_config(config)
