"""What the teacher-forced benchmarks (``xy_error_by_step.py``, ``press_by_distance.py``) share:
the command line of a trained model and a data split, the split's windows in their stored
order, and each decoder step's offset to the window's first anchor, in pixels."""

import argparse

import numpy as np

from actiongen_keras.data.pipeline import make_dataset

BATCH = 64


def arguments(description, batches):
    """An argument parser with ``model``, ``data``, ``--split`` (test) and ``--batches``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--split", default="test")
    ap.add_argument("--batches", type=int, default=batches, help=f"batches of {BATCH} windows")
    return ap


def windows(args):
    """``(inputs, targets, weights)`` batches of the split, unshuffled."""
    return make_dataset(args.data, args.split, batch_size=BATCH, shuffle=False).take(args.batches)


def to_first_anchor_px(x):
    """``(offset [B, T, 2], present [B, 1])``: from each decoder step's cursor to the window's
    first anchor, in pixels of the window's screen, and whether the window has that anchor."""
    px = np.asarray(x["screen"], np.float64)[:, None, :]
    offset = (np.asarray(x["anchor_xy"], np.float64)[:, None, 0] - np.asarray(x["dec_xy"], np.float64)) * px
    return offset, np.asarray(x["anchor_mask"])[:, :1] > 0
