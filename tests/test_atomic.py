"""Outputs appear whole or not at all, and the one --overwrite rule (actiongen_keras/atomic.py)."""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actiongen_keras.atomic import check_output, partial_path, staged_output
from actiongen_keras.errors import ActiongenError

STATES = ("missing", "empty", "full", "file", "broken_link")


def _make(out, state):
    if state == "empty":
        out.mkdir()
    elif state == "full":
        out.mkdir()
        (out / "old.txt").write_text("old")
    elif state == "file":
        out.write_text("a file")
    elif state == "broken_link":
        out.symlink_to(out.parent / "nowhere")


def _snapshot(folder):
    return sorted((p.name, p.read_text() if p.is_file() else None) for p in folder.iterdir())


@given(state=st.sampled_from(STATES), overwrite=st.booleans(), fail=st.booleans())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_staged_output_replaces_only_when_complete_and_allowed(tmp_path_factory, state, overwrite, fail):
    root = tmp_path_factory.mktemp("atomic")
    out = root / "out"
    _make(out, state)
    before = _snapshot(root)
    refused = state in ("file", "broken_link") or (state == "full" and not overwrite)
    try:
        with staged_output(out, overwrite=overwrite) as work:
            assert work.parent == root and work != out
            (work / "new.txt").write_text("new")
            if fail:
                raise RuntimeError("disk full")
    except ActiongenError:
        assert refused
        assert _snapshot(root) == before  # nothing touched
        return
    except RuntimeError:
        assert fail and not refused
        assert _snapshot(root) == before  # the old output as it was, no temporary folder left
        return
    assert not refused and not fail
    assert [p.name for p in root.iterdir()] == ["out"]
    assert _snapshot(out) == [("new.txt", "new")]


def test_output_may_not_be_or_contain_an_input(tmp_path):
    sessions = tmp_path / "sessions"
    (sessions / "s1").mkdir(parents=True)
    with pytest.raises(ActiongenError, match="is \\(or contains\\) the input"):
        check_output(sessions, overwrite=True, inputs=[sessions])
    with pytest.raises(ActiongenError, match="is \\(or contains\\) the input"):
        check_output(tmp_path, overwrite=True, inputs=[sessions / "s1"])
    with pytest.raises(ActiongenError, match="lies inside the input"):
        check_output(sessions / "s1" / "gen", inputs=[sessions / "s1"], nested_ok=False)
    check_output(sessions / "s1" / "gen", inputs=[sessions / "s1"])  # allowed where nesting is harmless
    (tmp_path / "link").symlink_to(sessions)
    with pytest.raises(ActiongenError, match="input"):  # the same folder under another name
        check_output(tmp_path / "link", overwrite=True, inputs=[sessions])


def test_parent_that_is_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ActiongenError, match="is a file, not a folder"), staged_output(tmp_path / "f" / "out"):
        pass


def test_unwritable_parent_is_one_clear_error(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    # root may write anywhere: the kernel's answer for a non-root user is given to everyone
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and not (Path(p) == ro and mode & os.W_OK))
    try:
        with pytest.raises(ActiongenError, match="not writable"), staged_output(ro / "out"):
            pass
        assert not any(ro.iterdir())
    finally:
        ro.chmod(0o700)


def test_resumable_partial_folder_is_kept_on_failure_and_reused(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), staged_output(out, resumable=True) as work:
        (work / "backup").mkdir()
        raise KeyboardInterrupt
    assert not out.exists() and (partial_path(out) / "backup").is_dir()
    with staged_output(out, resumable=True) as work:
        assert (work / "backup").is_dir()  # the same folder: the run resumes from it
    assert (out / "backup").is_dir() and not partial_path(out).exists()
