"""The JSON files stored with a dataset (``preprocessing.json``, ``splits.json``)."""

from __future__ import annotations

import json
from pathlib import Path

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
