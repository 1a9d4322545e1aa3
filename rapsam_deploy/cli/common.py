"""What every command shares: its parser's frame, error reporting and exit codes."""

from __future__ import annotations

import argparse
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


def command_parser(prog: str, doc: str, epilog: str) -> argparse.ArgumentParser:
    """The parser of command ``prog``: its description from the module's docstring (after
    "``prog``: "), its examples as the epilog, kept as written."""
    return argparse.ArgumentParser(
        prog=prog,
        description=doc.split(": ", 1)[1],
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def entry_point(main: Callable[[list[str] | None], int | None]) -> Callable[[], None]:
    """The console-script function of a command: run ``main`` on ``sys.argv`` and exit."""

    def entry() -> None:
        sys.exit(run(main))

    return entry


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
