"""How far a trained model's position means are from the hand, by how far the hand moved.

    python benchmarks/xy_error_by_step.py RUN_DIR/model.keras DATA_DIR [--split test] [--batches 12]

Teacher-forced, on the split's windows in their stored order: for every target move, the
true step (target minus the decoder's input position, px), the most probable component's
mean error (px) and its predicted spread (sigma, px, mean of x and y), as medians per
step-length band. A model whose means cannot settle within a pixel or two of slow hand
motion samples steps that reverse direction in closed loop; this is the table that showed
it (README, "Results on SapiMouse": the offset scale).

The second table splits the same errors and spreads along and across the cursor's last
step (the motion frame, ``model.xy_frame``): whether the hand's deviations from the
model's mean are longer along its path than across it, and whether the model's spreads
say so (a screen-frame head's spreads are its x / y ones, for comparison).

The third table draws ``--draws`` positions per move from the head's own mixture (the sampling
loop's :func:`draw_position`, on the pixel grid as generation puts them) and counts, by the
length of the cursor's last step, how often the drawn step reverses direction (turns more
than a quarter) and its mean absolute turn, beside the hand's own next step: whether the
head's one-step distribution already reverses too often, before any closed-loop drift (it
did: README, "Results on SapiMouse": the polar frame). ``--xy-top-p P`` (repeatable) adds
columns drawn with the sampling loop's nucleus over the mixture's components (the
generation option ``xy_top_p``; a tiny P draws from the most probable component only).

A polar head's components, by the same bands of the last step (``--components``): each
component's mean weight (a factored head's length and turn weights), how often its mean step
points backwards (more than a quarter turn from the last step) and its median turn spread: a
component that is often drawn and whose draws may go anywhere (README, "Step context and a
turn of its own").

The last line (windows with an anchor: click targets, osu! circles) is steering, as
``evaluation/target_clicks.py`` measures it on whole paths (its :func:`pull_slope`): over
moves whose last step is at least 2 px and whose first anchor is at least 40 px away, the
turn towards the anchor against the last step's angle off it, for the hand's next step and
for the head's draws (their mean turn per move): the share of its heading error each
corrects per step. A head that pulls less than the hand teacher-forced cannot pull like it
in closed loop.
"""

import numpy as np
from keras import ops
from teacher_forced import arguments, to_first_anchor_px, windows

import actiongen_keras
from actiongen_keras.data import features as F
from actiongen_keras.evaluation.target_clicks import STEER_MIN_DIST_PX, STEER_MIN_STEP_PX, pull_slope
from actiongen_keras.generation.sampler import categorical
from actiongen_keras.layers.context_aware_generator import (
    POLAR_FRAMES,
    draw_position,
    motion_direction,
    previous_cursor,
    split_xy_params,
    to_frame,
    xy_components,
    xy_point,
    xy_tail,
    xy_turn_logits,
)

BANDS = ((0, 2), (2, 5), (5, 10), (10, 30), (30, np.inf))
TURN_BANDS = ((0.5, 1.5), (1.5, 2.5), (2.5, 5), (5, 10), (10, 30), (30, np.inf))
MIN_STEP_PX = 0.5  # evaluation.kinematics.MIN_STEP_PX: shorter steps have no direction


def turns(last, step):
    """Signed turn (rad) from ``last [..., 2]`` to ``step [..., 2]`` (px), NaN where
    ``step`` is shorter than :data:`MIN_STEP_PX`."""
    ang = np.arctan2(last[..., 0] * step[..., 1] - last[..., 1] * step[..., 0], np.sum(last * step, axis=-1))
    return np.where(np.hypot(step[..., 0], step[..., 1]) >= MIN_STEP_PX, ang, np.nan)


def sampled_turns(params, num_mixtures, frame, cursor_px, last_px, px, draws, rng, xy_top_p=1.0):
    """Turns ``[N, draws]`` of steps drawn from the head (``params [N, 5M (+2)]``) as the
    sampling loop draws them (its component draw, :func:`categorical`, with the nucleus
    ``xy_top_p``, 1 = all, then :func:`draw_position`), rounded to pixels; ``cursor_px``,
    ``last_px [N, 2]``, ``px [N, 2]`` the screen in pixels."""
    M, N = int(num_mixtures), len(params)
    _, mu, sigma = split_xy_params(params, M)
    rep = lambda a: None if a is None else np.repeat(np.asarray(a, np.float64)[:, None], draws, axis=1)
    # [N, draws, M, 1 or 2]: the loop's component draw (a factored polar head's turn too)
    one = np.asarray(xy_components(rep(params), M, lambda lg, _: np.asarray(categorical(
        np.asarray(lg).reshape(-1, M), np.ones(N * draws, "float32"), rng.random(N * draws).astype("float32"), top_p=xy_top_p)).reshape(N, draws)))
    tail = xy_tail(params, M)
    xy = np.asarray(draw_position(rep(mu), rep(sigma), one, rng.standard_normal((N, draws, 2)), frame, rep(tail)))
    step = np.round(xy * px[:, None]) - np.round(cursor_px)[:, None]
    return turns(last_px[:, None], step)


def main(argv=None):
    ap = arguments(__doc__.splitlines()[0], batches=12)
    ap.add_argument("--draws", type=int, default=20, help="draws per move for the turn table")
    ap.add_argument("--components", action="store_true", help="a polar head's components by the last step's length (weights, backwards, turn spread)")
    ap.add_argument("--xy-top-p", type=float, action="append", default=[],
                    help="also draw with this nucleus over the components (repeatable; e.g. 0.8, and 0.01 for the top one only)")
    args = ap.parse_args(argv)
    model = actiongen_keras.load_model(args.model)
    generator = model.get_layer("generator")
    M, frame = generator.num_xy_mixtures, generator.xy_frame
    rng = np.random.default_rng(0)
    step, err, sigma, err_frame, sig_axes = [], [], [], [], []
    last_len, true_turn, drawn_turn, off_course, comps = [], [], [], [], []
    nuclei = [1.0] + list(args.xy_top_p)
    for x, y, _ in windows(args):
        params = model(x, training=False)["xy"]
        logits, _, sig = (np.asarray(t) for t in split_xy_params(params, M))
        best = logits.argmax(-1)[..., None, None]  # xy_point's component
        px = np.asarray(x["screen"], np.float64)[:, None, :]  # [B, 1, 2] screen units -> px
        move = np.asarray(y["event_type"]) == F.MOVE
        target, cursor = np.asarray(y["xy"]), np.asarray(x["dec_xy"])
        step.append(np.hypot(*((target - cursor) * px).transpose(2, 0, 1))[move])
        err.append(np.hypot(*((np.asarray(xy_point(params, M, frame)) - target) * px).transpose(2, 0, 1))[move])
        # a polar head's spreads are of the log length and the turn (rad): no pixels
        unit = 1.0 if frame in POLAR_FRAMES else px
        sigma.append((np.take_along_axis(sig, best, axis=2)[..., 0, :] * unit).mean(-1)[move])
        # along / across the last step, in px (the screen's mean px per unit: the frame is in screen units)
        u = np.asarray(motion_direction(np.asarray(x["dec_xy"], np.float32) - np.asarray(previous_cursor(x["dec_xy"], x["hist_xy"], x["hist_type"]))))
        scale = px.mean(-1, keepdims=True)
        err_frame.append(np.abs(np.asarray(to_frame(np.asarray(target - xy_point(params, M, frame)), u)) * scale)[move])
        sig_axes.append((np.take_along_axis(sig, best, axis=2)[..., 0, :] * (1.0 if frame in POLAR_FRAMES else scale))[move])
        # turns: the hand's next step and the head's draws, after a last step of >= 0.5 px
        cur_px = np.asarray(x["dec_xy"], np.float64) * px
        last = cur_px - np.asarray(previous_cursor(x["dec_xy"], x["hist_xy"], x["hist_type"]), np.float64) * px
        keep = move & (np.hypot(last[..., 0], last[..., 1]) >= MIN_STEP_PX)
        last_len.append(np.hypot(last[..., 0], last[..., 1])[keep])
        # the heading's angle off the window's first anchor (NaN without one, or nearer than STEER_MIN_DIST_PX)
        to_anchor, present = to_first_anchor_px(x)
        near = (np.hypot(to_anchor[..., 0], to_anchor[..., 1]) < STEER_MIN_DIST_PX) | ~present
        off_course.append(np.where(near, np.nan, turns(last, to_anchor))[keep])
        true_turn.append(turns(last, target * px - cur_px)[keep])
        if args.components and frame in POLAR_FRAMES:  # weights, turn weights, mean step backwards, turn spread
            p_keep = np.asarray(params)[keep]
            weights = [np.asarray(ops.softmax(lg, axis=-1)) for lg in (split_xy_params(p_keep, M)[0], xy_turn_logits(p_keep, M)) if lg is not None]
            mean_step = (np.asarray(split_xy_params(p_keep, M)[1]) - np.asarray(xy_tail(p_keep, M))[:, None]) * np.broadcast_to(px, cur_px.shape)[keep][:, None]
            backwards = np.abs(np.nan_to_num(turns(last[keep][:, None], mean_step))) > np.pi / 2
            comps.append((weights[0], weights[-1], backwards, sig[keep][..., 1]))
        flat_px = np.broadcast_to(px, cur_px.shape)[keep]
        drawn_turn.append([sampled_turns(np.asarray(params)[keep], M, frame, cur_px[keep], last[keep], flat_px, args.draws, rng, p)
                           for p in nuclei])
    step, err, sigma, err_frame, sig_axes = (np.concatenate(a) for a in (step, err, sigma, err_frame, sig_axes))
    print(f"{len(step)} target moves, {args.split} split of {args.data}")
    sigma_unit = "mean of log-length and turn spreads" if frame in POLAR_FRAMES else "px"
    print(f"| true step px | share | median error px | median sigma, {sigma_unit} |\n|---|---:|---:|---:|")
    for lo, hi in BANDS:
        k = (step >= lo) & (step < hi)
        print(f"| {lo}-{hi} | {k.mean():.3f} | {np.median(err[k]):.2f} | {np.median(sigma[k]):.2f} |")
    axes = "log length / turn (rad)" if frame in POLAR_FRAMES else {"motion": "along / across, px"}.get(frame, "x / y, px")
    print(f"\n| true step px | median abs error along / across the last step, px | median sigma {axes} |\n|---|---:|---:|")
    for lo, hi in BANDS:
        k = (step >= lo) & (step < hi)
        e, s = np.median(err_frame[k], axis=0), np.median(sig_axes[k], axis=0)
        print(f"| {lo}-{hi} | {e[0]:.2f} / {e[1]:.2f} | {s[0]:.2f} / {s[1]:.2f} |")
    last_len, true_turn, off_course = (np.concatenate(a) for a in (last_len, true_turn, off_course))
    drawn_turn = [np.concatenate([b[j] for b in drawn_turn]) for j in range(len(nuclei))]
    names = " / ".join(["drawn"] + [f"xy_top_p {p:g}" for p in nuclei[1:]])
    print(f"\n{frame} frame, {args.draws} draws per move: | last step px | share | reversing: hand / {names} | mean abs turn rad: hand / {names} |"
          "\n|---|---:|---:|---:|")
    for lo, hi in TURN_BANDS:
        k = (last_len >= lo) & (last_len < hi)
        h = np.abs(true_turn[k][np.isfinite(true_turn[k])])  # steps with a direction
        d = [np.abs(a[k][np.isfinite(a[k])]) for a in drawn_turn]
        rev = " / ".join(f"{np.mean(a > np.pi / 2):.4f}" for a in [h] + d)
        turn = " / ".join(f"{a.mean():.3f}" for a in [h] + d)
        print(f"| {lo}-{hi} | {k.mean():.3f} | {rev} | {turn} |")
    if comps:
        w, wt, back, s_turn = (np.concatenate([c[i] for c in comps]) for i in range(4))
        print("\n| last step px | component | weight (length / turn) | mean step backwards | median turn spread, rad |\n|---|---:|---:|---:|---:|")
        for lo, hi in ((0.5, 1.5), (1.5, 5), (5, 30), (30, np.inf)):
            k = (last_len >= lo) & (last_len < hi)
            for j in range(M):
                print(f"| {lo}-{hi} | {j} | {w[k, j].mean():.3f} / {wt[k, j].mean():.3f} | {back[k, j].mean():.3f} | {np.median(s_turn[k, j]):.2f} |")
    steer = np.isfinite(off_course) & (last_len >= STEER_MIN_STEP_PX)
    if steer.any():
        off = off_course[steer]
        turns_of = [true_turn[steer]] + [np.nanmean(a[steer], axis=-1) for a in drawn_turn]
        slopes = " / ".join(f"{pull_slope(np.abs(off), t * np.sign(off)):.3f}" for t in turns_of)
        print(f"\nsteering towards the first anchor, {int(steer.sum())} moves (median angle off it {np.median(np.abs(off)):.3f} rad):"
              f" pull per step: hand / {names} {slopes}")


if __name__ == "__main__":
    main()
