"""What every command shares: error reporting and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..errors import RapSamError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main``; a :class:`RapSamError` prints one clear message (no traceback) and exits 1."""
    try:
        return main(argv) or 0
    except RapSamError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
