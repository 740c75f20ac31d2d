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
"""

import argparse

import numpy as np

import actiongen_keras
from actiongen_keras.data import features as F
from actiongen_keras.data.pipeline import make_dataset
from actiongen_keras.layers.context_aware_generator import motion_direction, previous_cursor, split_xy_params, to_frame, xy_point

BANDS = ((0, 2), (2, 5), (5, 10), (10, 30), (30, np.inf))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--split", default="test")
    ap.add_argument("--batches", type=int, default=12, help="batches of 64 windows")
    args = ap.parse_args(argv)
    model = actiongen_keras.load_model(args.model)
    M = model.get_layer("generator").num_xy_mixtures
    step, err, sigma, err_frame, sig_axes = [], [], [], [], []
    for x, y, _ in make_dataset(args.data, args.split, batch_size=64, shuffle=False).take(args.batches):
        params = model(x, training=False)["xy"]
        logits, _, sig = (np.asarray(t) for t in split_xy_params(params, M))
        best = logits.argmax(-1)[..., None, None]  # xy_point's component
        px = np.asarray(x["screen"], np.float64)[:, None, :]  # [B, 1, 2] screen units -> px
        move = np.asarray(y["event_type"]) == F.MOVE
        target, cursor = np.asarray(y["xy"]), np.asarray(x["dec_xy"])
        step.append(np.hypot(*((target - cursor) * px).transpose(2, 0, 1))[move])
        err.append(np.hypot(*((np.asarray(xy_point(params, M)) - target) * px).transpose(2, 0, 1))[move])
        sigma.append((np.take_along_axis(sig, best, axis=2)[..., 0, :] * px).mean(-1)[move])
        # along / across the last step, in px (the screen's mean px per unit: the frame is in screen units)
        u = np.asarray(motion_direction(np.asarray(x["dec_xy"], np.float32) - np.asarray(previous_cursor(x["dec_xy"], x["hist_xy"], x["hist_type"]))))
        scale = px.mean(-1, keepdims=True)
        err_frame.append(np.abs(np.asarray(to_frame(np.asarray(target - xy_point(params, M)), u)) * scale)[move])
        sig_axes.append((np.take_along_axis(sig, best, axis=2)[..., 0, :] * scale)[move])
    step, err, sigma, err_frame, sig_axes = (np.concatenate(a) for a in (step, err, sigma, err_frame, sig_axes))
    print(f"{len(step)} target moves, {args.split} split of {args.data}")
    print("| true step px | share | median error px | median sigma px |\n|---|---:|---:|---:|")
    for lo, hi in BANDS:
        k = (step >= lo) & (step < hi)
        print(f"| {lo}-{hi} | {k.mean():.3f} | {np.median(err[k]):.2f} | {np.median(sigma[k]):.2f} |")
    axes = "along / across" if model.get_layer("generator").xy_frame == "motion" else "x / y"
    print(f"\n| true step px | median abs error along / across the last step, px | median sigma {axes}, px |\n|---|---:|---:|")
    for lo, hi in BANDS:
        k = (step >= lo) & (step < hi)
        e, s = np.median(err_frame[k], axis=0), np.median(sig_axes[k], axis=0)
        print(f"| {lo}-{hi} | {e[0]:.2f} / {e[1]:.2f} | {s[0]:.2f} / {s[1]:.2f} |")


if __name__ == "__main__":
    main()
