"""What every importer shares: the run summary and the per-recording loop.

An importer module exposes ``import_folder(in_dir, out_dir, repair=False, progress=True)``
returning an :class:`ImportSummary`. It imports every recording it can; a corrupt or
incomplete file is listed in ``failed`` (exit status 1) and the others are still written;
a recording of a kind the importer does not support is listed in ``skipped`` (no failure).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from pathlib import Path

from tqdm.auto import tqdm

from actiongen_keras.errors import ActiongenError
from actiongen_keras.recordings.session import RepairReport, write_session


class UnsupportedRecording(ActiongenError):
    """A recording of a kind the importer does not handle (skipped, not failed)."""


@dataclasses.dataclass
class ImportSummary:
    source: str
    written: list = dataclasses.field(default_factory=list)  # session folders
    failed: list = dataclasses.field(default_factory=list)  # (file, reason)
    skipped: list = dataclasses.field(default_factory=list)  # (file, reason)
    notes: list = dataclasses.field(default_factory=list)  # (file, note), e.g. "input-only: no beatmap"
    repairs: RepairReport = dataclasses.field(default_factory=RepairReport)
    events: int = 0
    seconds: float = 0.0

    @property
    def exit_code(self):
        return 1 if self.failed else 0

    def text(self):
        lines = [
            f"{self.source}: {len(self.written)} session(s) written, {self.events} events, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped, in {self.seconds:.1f} s"
            + (f" ({self.events / self.seconds:,.0f} events/s)" if self.seconds > 0 else "")
        ]
        lines += [f"  FAILED  {f}: {why}" for f, why in self.failed]
        lines += [f"  SKIPPED {f}: {why}" for f, why in self.skipped]
        lines += [f"  NOTE    {f}: {why}" for f, why in self.notes]
        if self.repairs:
            lines.append(f"  repairs ({self.repairs.total} changes):")
            lines += [f"    {line}" for line in self.repairs.lines()]
        return "\n".join(lines)


def list_broken_links(summary, in_dir):
    """Add every symlink under ``in_dir`` whose target is missing (or loops) to ``summary.failed``.

    ``rglob`` and ``is_file()`` pass over such links without a word; a recording that
    cannot be read is a failure to list, whatever the importer.
    """
    in_dir = Path(in_dir)
    for p in sorted(in_dir.rglob("*")):
        if p.is_symlink() and not p.exists():
            try:
                target = p.readlink()
            except OSError:
                target = "?"
            summary.failed.append((str(p.relative_to(in_dir)), f"broken symlink (target {target} does not exist or loops)"))
    return summary


def session_seed(session_id):
    """A 32-bit seed from a session id: what a recording's own noise is drawn with (pseudo osu!
    objects, click targets), so every reader of the session draws the same."""
    return int(hashlib.md5(str(session_id).encode()).hexdigest()[:8], 16)


def safe_id(text):
    """A session_id (``[A-Za-z0-9._-]+``) made from any file name."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_")
    return out or "session"


def run_import(source, items, convert, out_dir, progress=True):
    """Convert each item and write its sessions.

    Args:
        source: source name for the summary.
        items: list of ``(label, item)``; ``label`` names the file in messages.
        convert: ``convert(item, summary) -> iterable of (session, RepairReport | None)``.
            It raises ``ActiongenError`` for a corrupt file, ``UnsupportedRecording`` to skip.
        out_dir: sessions go to ``out_dir/<session_id>/``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ImportSummary(source=source)
    seen = {}
    start = time.perf_counter()
    for label, item in tqdm(items, desc=f"import {source}", unit="file", disable=not progress):
        try:
            for session, report in convert(item, summary):
                if session.session_id in seen:
                    raise ActiongenError(
                        f"duplicate session_id '{session.session_id}' (also made from {seen[session.session_id]})"
                    )
                seen[session.session_id] = label
                write_session(session, out_dir / session.session_id)
                summary.written.append(str(out_dir / session.session_id))
                summary.events += len(session.events)
                if report:
                    for (file, what), count in report.changes.items():
                        where = file if Path(label).name in file else f"{label}: {file}"
                        summary.repairs.add(where, what, count, report.examples.get((file, what), ()))
        except UnsupportedRecording as e:
            summary.skipped.append((label, str(e)))
        except ActiongenError as e:
            summary.failed.append((label, str(e)))
    summary.seconds = time.perf_counter() - start
    return summary


def import_files(source, in_dir, pattern, read, out_dir, repair=False, progress=True, on_notes=None):
    """Import every file matching ``pattern`` (rglob) under ``in_dir``, one session per file.

    ``read(path, repair=...)`` returns ``(session, report, notes)``. Notes go into the
    summary under the file's relative path, or to ``on_notes(label, notes)`` when given.
    """
    in_dir = Path(in_dir)
    files = sorted(p for p in in_dir.rglob(pattern) if p.is_file())
    items = [(str(p.relative_to(in_dir)), p) for p in files]

    def convert(path, summary):
        session, report, notes = read(path, repair=repair)
        label = str(path.relative_to(in_dir))
        if on_notes is not None:
            on_notes(label, notes)
        else:
            summary.notes.extend((label, n) for n in notes)
        yield session, report

    return run_import(source, items, convert, out_dir, progress)
