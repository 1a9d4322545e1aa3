"""Progress lines of long steps (export, build, bench, eval): to stderr, so that stdout keeps
only a command's results."""

from __future__ import annotations

import sys
from collections.abc import Callable

Log = Callable[[str], None]


def log_stderr(line: str) -> None:
    """Print one progress line to stderr, at once."""
    print(line, file=sys.stderr, flush=True)
