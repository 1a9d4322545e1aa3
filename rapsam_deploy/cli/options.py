"""The options every command shares, spelled once with one default each: the export directory,
the backend, the precision, the variant and the CPU threads (as polygraphy's argument groups).

Defaults: fp32 standard graphs everywhere (``contract.DEFAULT_PRECISION``/``DEFAULT_VARIANT``:
what ``rapsam-export`` writes unless asked, and the precision whose results equal the PyTorch
reference's; fp16 changes results and is asked for with ``--precision fp16``), the ``auto``
backend (the fastest one that runs here), and ONNX Runtime's own choice of threads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..artifacts import contract
from ..backends.select import BACKENDS, COMPUTE_PRECISIONS, DEFAULT_BACKEND, RUNTIME_PRECISIONS
from ..errors import RapSamError

DEFAULT_EXPORT_DIR = Path("exports/r18")


def csv(text: str) -> tuple[str, ...]:
    """A comma-separated list option: ``a,b`` -> ("a", "b")."""
    return tuple(v.strip() for v in text.split(",") if v.strip())


def check_at_least(args: argparse.Namespace, minimums: dict[str, float]) -> None:
    """Refuse counts, sizes and times below their minimum (by ``dest``; unset ones pass) before
    any work: the parser takes any number."""
    for dest, minimum in minimums.items():
        value = getattr(args, dest)
        if value is not None and value < minimum:
            option = "--" + dest.replace("_", "-")
            raise RapSamError(f"{option} {value}: must be at least {minimum}", f"e.g. {option} {minimum}")


def check_names(option: str, values: tuple[str, ...] | None, known: tuple[str, ...]) -> None:
    """Refuse an unknown name in a comma-separated list option (choices= cannot check lists)."""
    unknown = [v for v in values or () if v not in known]
    if unknown:
        raise RapSamError(f"{option}: unknown {unknown[0]!r}", f"choose from {','.join(known)}")


def add_export_dir(
    group, positional: bool = False, default: Path | None = DEFAULT_EXPORT_DIR, help_extra: str = ""
) -> None:
    """The export directory ``rapsam-export`` wrote: positional ``EXPORT_DIR`` or ``--export-dir``."""
    what = "directory written by rapsam-export" + (f"; {help_extra}" if help_extra else "")
    if positional:
        group.add_argument("export_dir", type=Path, metavar="EXPORT_DIR", help=what)
    else:
        shown = f" (default: {default})" if default else ""
        group.add_argument("--export-dir", type=Path, default=default, metavar="DIR", help=what + shown)


def add_backend(group) -> None:
    """``--backend``: one of ``BACKENDS``."""
    group.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                       help=f"default: {DEFAULT_BACKEND} (the fastest that runs here)")  # fmt: skip


def add_precision(group, plural: bool = False, both: bool = False, runtime: bool = False, help_extra: str = "") -> None:
    """``--precision`` of the graphs or engines: one, ``both`` (export), or a list (bench).
    Backends (``runtime``, bench) also run what a runtime computes from fp32 graphs (bf16)."""
    extra = f"; {help_extra}" if help_extra else ""
    if plural:
        group.add_argument("--precision", type=csv, metavar="LIST",
                           help=f"comma-separated from {','.join(COMPUTE_PRECISIONS)} (default: fp32, plus fp16 on a "
                                f"GPU{extra})")  # fmt: skip
        return
    choices = [*contract.PRECISIONS, "both"] if both else list(RUNTIME_PRECISIONS if runtime else contract.PRECISIONS)
    group.add_argument("--precision", choices=choices, default=contract.DEFAULT_PRECISION,
                       help=f"default: {contract.DEFAULT_PRECISION}{extra}")  # fmt: skip


def add_variant(group, both: bool = False, help_extra: str = "") -> None:
    """``--variant``: ``standard`` graphs or the fused op as the TensorRT ``plugin``."""
    extra = f"; {help_extra}" if help_extra else ""
    choices = [*contract.VARIANTS, "both"] if both else list(contract.VARIANTS)
    group.add_argument("--variant", choices=choices, default=contract.DEFAULT_VARIANT,
                       help=f"default: {contract.DEFAULT_VARIANT}{extra}")  # fmt: skip


def add_threads(group) -> None:
    group.add_argument("--threads", type=int, help="CPU threads of ONNX Runtime and torch (default: their own choice)")


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """The group that says what runs: ``--export-dir``, ``--backend``, ``--precision``,
    ``--variant``, ``--threads`` (``rapsam-infer``, ``rapsam-eval``)."""
    group = parser.add_argument_group("runtime")
    add_export_dir(group)
    add_backend(group)
    add_precision(group, runtime=True)
    add_variant(group)
    add_threads(group)
