"""Files the toolchain writes appear complete or not at all, with the user's permissions, in
folders checked before any work (as are the files it reads).

One atomic write for every file (graphs, manifests, engines, reports, result PNGs): a temporary
file beside the target, renamed over it. The temporary file is made by ``mkstemp`` (mode 0600),
so it gets the mode an ordinary ``open`` would give it (0666 less the umask) before the rename:
a server running as another user (Triton) must be able to read what we write. Directories are
staged the same way.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import RapSamError


@functools.cache
def umask() -> int:
    """This process's umask (read once: setting it is the only portable way to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: str | Path, *chunks: bytes | memoryview, durable: bool = True) -> None:
    """Write ``chunks`` to ``path`` so that it appears complete or not at all, with the mode a
    plain ``open`` gives. ``durable`` flushes the data to disk before the rename (artefacts);
    leave it off for files that are cheap to make again (per-frame overlays)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~umask())
        with os.fdopen(handle, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_input_file(path: Path, what: str, head: int = 16) -> bytes:
    """The first ``head`` bytes of an input file, after checking that it exists, is a file, can be
    read and is not empty: one clear error before any work, naming ``what`` (e.g. "--checkpoint")."""
    if not os.path.exists(path):
        raise RapSamError(f"{what} {path} does not exist", "check the path")
    if not os.path.isfile(path):
        raise RapSamError(f"{what} {path} is not a file", "pass a file")
    try:
        with open(path, "rb") as f:
            first = f.read(head)
    except OSError as err:
        raise RapSamError(f"{what} {path} cannot be read ({err.strerror})", "check its permissions") from err
    if not first:
        raise RapSamError(f"{what} {path} is empty", "copy or download it again")
    return first


def check_writable(folder: Path, what: str = "--output", output: Path | None = None) -> None:
    """Fail before any work on a folder that cannot be created or written into (to write
    ``output``, named in the error; by default the folder): the nearest of it and its parents
    that exists must be a directory where a file can be made. That is tried, not read from
    permission bits, which say nothing for root, read-only mounts or ``/proc``."""
    folder, absolute = Path(folder), Path(folder).absolute()
    # os.path.exists, not Path.exists: it is False, not PermissionError, below an unreadable folder.
    existing = next(p for p in (absolute, *absolute.parents) if os.path.exists(p))
    if not existing.is_dir():
        reason = "it is a file"
    else:
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".rapsam-write-check.", dir=existing))
            return
        except OSError as err:
            reason = err.strerror
    raise RapSamError(
        f"cannot write {output or folder}: {existing} is not a writable directory ({reason})", f"choose another {what}"
    )


def check_output(output: Path, force: bool, what: str = "--output") -> None:
    """Fail early, before any work, on an output directory that cannot or may not be replaced."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise RapSamError(f"{output} exists and is not a directory", f"choose another {what}")
    if os.path.exists(output) and not force:
        raise RapSamError(f"{output} already exists", f"pass --force to replace it, or choose another {what}")
    # The output is staged and renamed in its parent folder.
    check_writable(Path(output).absolute().parent, what, output)


def private_directory(prefix: str, parent: str | Path | None = None) -> Path:
    """A new folder only this user may read (mode 0700), in ``parent`` or the system's temporary
    folder: scratch that is nobody else's business (files a page serves to its visitor, a
    browser profile), never an output, which gets the umask's mode (:func:`staged_directory`).
    The caller removes it."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


@contextlib.contextmanager
def staged_directory(output: Path, force: bool) -> Iterator[Path]:
    """Yield an empty staging directory beside ``output`` (mode 0777 less the umask); when the
    block succeeds it becomes ``output`` by rename (replacing an old one if ``force``), otherwise
    it is removed."""
    check_output(output, force)
    output.absolute().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.absolute().parent))
    try:
        staging.chmod(0o777 & ~umask())
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if output.exists():
        old = staging.with_suffix(".old")
        os.rename(output, old)
        os.rename(staging, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, output)
