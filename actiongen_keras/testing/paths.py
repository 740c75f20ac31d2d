"""Where the real recordings of a source checkout lie: ``../shared/data`` beside the repository.

Tests find them relative to the repository root, never at an absolute path, so any clone
with ``shared/`` beside it runs every real-data test.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(*parts):
    """``../shared/data/<parts>`` of the checkout; skips the calling test, naming the path, when it is missing.

    Only for tests (it calls ``pytest.skip``): ``make test`` prints the skip count, which is 0
    on a clone with ``../shared`` beside it.
    """
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        import pytest  # the dev extra; only tests call this

        pytest.skip(f"real data not present: {path} (the shared data lie beside the repository)")
    return path
