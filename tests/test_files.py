"""Files and folders the toolchain writes: atomic, and with the permissions the user's umask
gives (a server running as another user must be able to read an export or an engine)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from rapsam_deploy.artifacts import files
from rapsam_deploy.errors import RapSamError


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


def test_output_folders_are_checked_before_any_work_and_the_check_leaves_nothing(tmp_path):
    files.check_writable(tmp_path / "runs" / "infer")  # made later, by the first write
    files.check_output(tmp_path / "export", force=False)
    (tmp_path / "done").mkdir()
    files.check_output(tmp_path / "done", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"]
    (tmp_path / "file.txt").write_text("a file")
    with pytest.raises(RapSamError, match=r"file.txt is not a writable directory \(it is a file\)"):
        files.check_writable(tmp_path / "file.txt" / "out")
    with pytest.raises(RapSamError, match=r"already exists(.|\n)*--force"):
        files.check_output(tmp_path / "done", force=False)
    with pytest.raises(RapSamError, match=r"file.txt exists and is not a directory(.|\n)*--out"):
        files.check_output(tmp_path / "file.txt", force=True, what="--out")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_folder_nobody_can_write_in_is_refused_even_for_root():
    # Permission bits would say yes to root; only trying tells.
    with pytest.raises(RapSamError, match="cannot write /proc/out: /proc is not a writable directory"):
        files.check_writable(Path("/proc/out"))


def test_input_files_are_checked_before_any_work(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"PK\x03\x04rest")
    (tmp_path / "empty.pth").write_bytes(b"")
    assert files.check_input_file(tmp_path / "model.pth", "--checkpoint", head=4) == b"PK\x03\x04"
    for name, message in {"missing.pth": "does not exist", "empty.pth": "is empty", ".": "is not a file"}.items():
        with pytest.raises(RapSamError, match=f"--checkpoint .*{message}"):
            files.check_input_file(tmp_path / name, "--checkpoint")


def test_only_this_module_makes_temporary_files_or_sets_modes():
    # mkstemp and mkdtemp make owner-only files and folders; files.py gives them the umask's mode.
    package = Path(files.__file__).parents[1]
    pattern = re.compile(r"mkstemp|mkdtemp|chmod\(")
    offenders = [p for p in package.rglob("*.py") if p != Path(files.__file__) and pattern.search(p.read_text())]
    assert offenders == []
