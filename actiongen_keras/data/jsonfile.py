"""The JSON files the package writes and reads (``preprocessing.json``, ``splits.json``, ``metrics.json``, ...)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from actiongen_keras.errors import DataError, FormatError


def save_json(obj, path, file_name):
    """Write ``obj`` to ``path`` (a ``.json`` file, or a folder that gets ``file_name``); returns the file."""
    path = Path(path)
    if path.is_dir() or path.suffix != ".json":
        path = path / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + "\n")
    return path


def load_json(path, file_name):
    """``(object, file)`` from ``path`` (the file, or the folder holding ``file_name``)."""
    p = Path(path)
    if p.is_dir():
        p = p / file_name
    if not p.exists():
        raise DataError(f"{p}: no {file_name} (build the dataset first: actiongen dataset build)")
    try:
        return json.loads(p.read_text()), p
    except json.JSONDecodeError as e:
        raise FormatError(p, f"invalid JSON ({e.msg})", line=e.lineno) from None


def finite_json(o):
    """``o`` with NumPy scalars made Python ones and NaN/inf made ``None``.

    ``json.dumps`` writes ``NaN`` by default, which is not JSON: a metric that cannot be
    computed (no such events in the split) is ``null`` instead.
    """
    if isinstance(o, (float, np.floating)):
        o = float(o)
        return o if math.isfinite(o) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, dict):
        return {str(k): finite_json(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [finite_json(v) for v in o]
    return o
