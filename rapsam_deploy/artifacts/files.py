"""Writing an output directory so that it appears complete or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import RapSamError


def check_output(output: Path, force: bool) -> None:
    """Fail early, before any work, on an output that cannot or may not be written."""
    if output.exists() and not force:
        raise RapSamError(f"{output} already exists", "pass --force to replace it, or choose another --output")
    if output.exists() and not output.is_dir():
        raise RapSamError(f"{output} exists and is not a directory", "choose another --output")
    parent = output.absolute().parent
    existing = next(p for p in (parent, *parent.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise RapSamError(f"cannot write {output}: {existing} is not a writable directory", "choose another --output")


@contextlib.contextmanager
def staged_directory(output: Path, force: bool) -> Iterator[Path]:
    """Yield an empty staging directory beside ``output``; when the block succeeds it becomes
    ``output`` by rename (replacing an old one if ``force``), otherwise it is removed."""
    check_output(output, force)
    output.absolute().parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.absolute().parent))
    try:
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
