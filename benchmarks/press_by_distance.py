"""Teacher-forced: how often a trained model says "press" by how far the cursor is from the target.

    python benchmarks/press_by_distance.py RUN_DIR/model.keras DATA_DIR [--split test] [--batches 30]

On the split's windows that have an anchor (click targets, osu! circles), for every decoder
step: the event head's probability that the next event is a press, and whether it is one,
by the step cursor's distance to the window's first anchor (px). A person presses on the
target; a model whose press probability hears the distance only faintly says "press" far
from it, and in closed loop it presses on nothing (``stray_press_share`` in every click-target
report, ``evaluation/target_clicks.py``). This is the table that showed it (README, "Click
targets on SapiMouse": anchor proximity).
"""

import keras
import numpy as np
from teacher_forced import arguments, to_first_anchor_px, windows

import actiongen_keras
from actiongen_keras.data import features as F

BANDS_PX = ((0, 10), (10, 20), (20, 40), (40, np.inf))


def main(argv=None):
    args = arguments(__doc__.splitlines()[0], batches=30).parse_args(argv)
    model = actiongen_keras.load_model(args.model)
    said, was, dist = [], [], []
    for x, y, w in windows(args):
        p = keras.ops.convert_to_numpy(keras.ops.softmax(model(x, training=False)["event_type"], axis=-1))[..., F.PRESS]
        offset, present = to_first_anchor_px(x)
        d = np.hypot(offset[..., 0], offset[..., 1])
        keep = (np.asarray(w["event_type"]) > 0) & present
        said.append(p[keep])
        was.append((np.asarray(y["event_type"]) == F.PRESS)[keep])
        dist.append(d[keep])
    said, was, dist = (np.concatenate(a) for a in (said, was, dist))
    if not len(said):
        raise SystemExit(f"{args.data}: no {args.split} window has an anchor")
    print(f"{len(said)} decoder steps with an anchor, {args.split} split of {args.data}")
    print("| cursor from the target, px | steps | P(press) said, mean | pressed |\n|---|---:|---:|---:|")
    for lo, hi in BANDS_PX:
        k = (dist >= lo) & (dist < hi)
        print(f"| {lo}-{hi} | {int(k.sum())} | {said[k].mean():.4f} | {was[k].mean():.4f} |")


if __name__ == "__main__":
    main()
