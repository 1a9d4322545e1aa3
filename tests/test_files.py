"""Files and folders the toolchain writes: atomic, and with the permissions the user's umask
gives (a server running as another user must be able to read an export or an engine)."""

from __future__ import annotations

import os
import stat

import pytest

from rapsam_deploy.artifacts import files


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    files.umask.cache_clear()
    yield
    os.umask(old)
    files.umask.cache_clear()


def test_written_files_and_staged_folders_follow_the_umask(tmp_path, umask_027):
    files.write_atomic(tmp_path / "engine.plan", b"x" * 10)
    files.write_atomic(tmp_path / "frame.png", b"y", durable=False)
    with files.staged_directory(tmp_path / "export", force=False) as staging:
        (staging / "manifest.json").write_text("{}")
    # mkstemp and mkdtemp alone would give 0600 and 0700.
    assert stat.S_IMODE((tmp_path / "engine.plan").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "frame.png").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "export").stat().st_mode) == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["engine.plan", "export", "frame.png"]


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        files.write_atomic(tmp_path / "half.bin", b"start", object())  # the second chunk cannot be written
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), files.staged_directory(tmp_path / "export", force=False):
        raise RuntimeError("export failed")
    assert list(tmp_path.iterdir()) == []
