"""Command-line argument types shared by every ``actiongen`` sub-command.

A number given on the command line is checked where it is parsed: ``--epochs 0`` is
refused (argparse's one-line usage error, exit status 2), never silently replaced by the
config's default, and ``--seconds inf`` or ``--temperature nan`` never reach a loop.
"""

from __future__ import annotations

import argparse
import math

from actiongen_keras.config import check_fractions
from actiongen_keras.errors import ConfigError


def int_at_least(low):
    """An argparse type: an integer >= ``low``."""

    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {v}")
        return v

    return parse


def finite_float(low=None, high=None, low_open=False, high_open=False):
    """An argparse type: a finite float in the range (``*_open``: the bound itself excluded)."""

    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if low is not None and (v < low or (low_open and v == low)):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low:g}, got {v:g}")
        if high is not None and (v > high or (high_open and v == high)):
            raise argparse.ArgumentTypeError(f"must be {'<' if high_open else '<='} {high:g}, got {v:g}")
        return v

    return parse


def seed_list(text):
    """An argparse type: ``0,1,2`` (those seeds, distinct integers) or ``3`` (seeds 0, 1, 2)."""
    parts = [t.strip() for t in text.split(",")]
    try:
        values = [int(t) for t in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a count (3) or comma-separated integers (0,1,2), got {text!r}") from None
    if len(values) == 1:
        if values[0] < 1:
            raise argparse.ArgumentTypeError(f"a count of seeds must be >= 1, got {values[0]}")
        return list(range(values[0]))
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"seeds must be distinct, got {text!r}")
    return values


def split_fractions(text):
    """An argparse type: ``TRAIN,VAL,TEST`` shares (the config's rule, ``config.check_fractions``)."""
    try:
        return check_fractions(text.split(","), name="split fractions")
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_overwrite(parser, what="OUT"):
    """The one ``--overwrite`` rule (see :mod:`actiongen_keras.atomic`)."""
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace an existing, non-empty {what} (refused otherwise); it is replaced only once the new one is complete")
