"""Outputs appear whole or not at all: the one rule every writer follows.

Every command that writes a folder (``import``, ``dataset build``, ``train``,
``generate``, ``evaluate``, ``export``) writes into a temporary folder beside the target
and renames it into place only once it is complete. A failure (an error, Ctrl-C, a full
disk) removes the temporary folder and leaves the previous output exactly as it was;
a rename within one folder is atomic, so no reader ever sees half an output.

The same place decides what may be replaced (:func:`check_output`): an existing,
non-empty output is refused unless ``overwrite`` is given, and an output may never be,
or contain, one of the command's inputs (replacing it would destroy the input).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from actiongen_keras.errors import ActiongenError


def _inside(path, folder):
    return path == folder or folder in path.parents


def check_output(out, overwrite=False, inputs=(), nested_ok=True):
    """Refuse an output folder that must not be written.

    Args:
        out: the output folder.
        overwrite: allow replacing an existing non-empty folder.
        inputs: the files or folders the command reads. ``out`` may not be one of them
            nor contain one.
        nested_ok: with ``False``, ``out`` may not lie inside an input either (a session
            written inside another session's folder would be read as part of it).

    Raises:
        ActiongenError: naming the folder and the reason.
    """
    out = Path(out)
    target = out.resolve()
    for inp in inputs:
        if inp is None:
            continue
        src = Path(inp).resolve()
        if _inside(src, target):
            raise ActiongenError(f"{out}: is (or contains) the input {inp}; write the output somewhere else")
        if not nested_ok and _inside(target, src):
            raise ActiongenError(f"{out}: lies inside the input {inp}; write the output somewhere else")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ActiongenError(f"{out}: exists and is not a folder")
        if not overwrite and any(out.iterdir()):
            raise ActiongenError(f"{out}: already exists and is not empty (give --overwrite to replace it)")


def _prepare_parent(out):
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ActiongenError(f"{parent}: is a file, not a folder") from None
    except OSError as e:
        raise ActiongenError(f"{parent}: cannot create the folder ({e.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ActiongenError(f"{parent}: not writable")
    return parent


def partial_path(out):
    """The fixed temporary folder of a resumable writer (``train``): ``.<name>.partial`` beside ``out``."""
    out = Path(out)
    return out.with_name(f".{out.name}.partial")


def commit(tmp, out):
    """Move the finished folder ``tmp`` to ``out``, replacing what was there."""
    tmp, out = Path(tmp), Path(out)
    if out.exists() or out.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.rename(out, old / "x")
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out)


@contextlib.contextmanager
def staged_output(out, overwrite=False, inputs=(), nested_ok=True, resumable=False):
    """Yield a temporary folder beside ``out``; move it to ``out`` when the block ends without error.

    ``resumable``: the temporary folder is :func:`partial_path` (a fixed name), kept on
    failure so that running the same command again continues from it (``train``'s
    BackupAndRestore); otherwise it is a fresh folder, removed on failure.

    Raises:
        ActiongenError: the output is refused (:func:`check_output`) or its parent folder
            cannot be written.
    """
    out = Path(out)
    check_output(out, overwrite, inputs, nested_ok)
    parent = _prepare_parent(out)
    try:
        if resumable:
            tmp = partial_path(out)
            tmp.mkdir(exist_ok=True)
        else:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise ActiongenError(f"{parent}: cannot write here ({e.strerror})") from None
    try:
        yield tmp
    except BaseException:
        if not resumable:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    commit(tmp, out)
