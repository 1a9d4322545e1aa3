"""What every command shares: its parser's frame, error reporting and exit codes.

Every error is one message on stderr, ``error: what`` and ``fix: what to do``, without a
traceback unless ``--debug`` asks for it. Exit codes: 0 done, 1 bad input (the command's checks,
or a path the system refused), 2 a command line the parser refused (argparse's convention),
70 an internal error, i.e. a bug (``EX_SOFTWARE`` of sysexits.h), 130 interrupted (128 + SIGINT).
"""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
from collections.abc import Callable

from ..errors import RapSamError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

# What to do about the errors the system gives for a path; others get no advice.
_OS_FIXES = {
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "check the path: a part of it is a file",
    errno.EISDIR: "pass a file, not a folder",
    errno.EACCES: "check the path's permissions, or choose another",
    errno.EPERM: "check the path's permissions, or choose another",
    errno.EROFS: "the file system is read-only: choose a path on another",
    errno.ENOSPC: "free some disk space, or write to another disk",
    errno.EDQUOT: "free some of your disk quota, or write to another disk",
}


class _Debug(argparse.Action):
    """``--debug``: the parser runs inside ``main``, so it tells :func:`run` through the module."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        global _debug
        _debug = True


_debug = False


class CommandParser(argparse.ArgumentParser):
    """Every command's parser (and sub-command's: argparse makes them of the same class): with
    ``--debug``, and refusals as one ``error:`` message like the commands' own."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action=_Debug, help="show the full traceback of an error")

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"error: {message}\n  fix: see {self.prog} --help\n")


def run(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main`` and return its exit code: every error becomes one clear message (see the
    module's docstring), with its traceback only under ``--debug``."""
    global _debug
    _debug = False
    try:
        return main(argv) or 0
    except SystemExit as exit_:  # argparse's --help and refusals
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        return _report("interrupted: no file was left half-written", EXIT_INTERRUPTED)
    except RapSamError as err:
        return _report(f"error: {err}", EXIT_ERROR)
    except OSError as err:
        return _report(f"error: {os_error(err)}", EXIT_ERROR)
    except Exception as err:
        hint = "report it with the traceback above" if _debug else "rerun with --debug for the traceback and report it"
        return _report(f"internal error: {type(err).__name__}: {err}\n  {hint}", EXIT_INTERNAL)


def os_error(err: OSError) -> RapSamError:
    """What the system refused, on which path, and what to do (disk full, permissions, ...)."""
    reason = err.strerror or str(err)
    what = f"{err.filename}: {reason}" if err.filename else reason
    return RapSamError(f"cannot use {what}" if err.filename else what, _OS_FIXES.get(err.errno))


def _report(message: str, code: int) -> int:
    if _debug:
        traceback.print_exc()
    print(message, file=sys.stderr)
    return code


def command_parser(prog: str, doc: str, epilog: str) -> argparse.ArgumentParser:
    """The parser of command ``prog``: its description from the module's docstring (after
    "``prog``: "), its examples as the epilog, kept as written."""
    return CommandParser(
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
