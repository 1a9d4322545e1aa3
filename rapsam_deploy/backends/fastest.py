"""``--precision auto``: the fastest form (backend x precision) that passes its task gates, timed
on this machine.

A form passes when the export's validation says so: fp32 forms give the reference's answers
(every export checks them); reduced-precision forms (fp16, int8 graphs; OpenVINO's bf16) must
have met their gates in the export's chain check (manifest ``validation.tasks``). A form the
export did not check, or that missed, is never picked. The candidates are timed once per export,
machine and thread count (the encoder and decoder on a photo at the export's size, median of
three after a warm-up), and the choice is cached (``$XDG_CACHE_HOME/rapsam-deploy``).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..artifacts import contract
from ..artifacts.export_dir import ExportDir
from ..artifacts.files import sha256_of, write_atomic
from ..errors import RapSamError
from ..machine import cpu_isa, cpu_model
from .base import Backend

log = logging.getLogger(__name__)
_RUNS = 3


def cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "rapsam-deploy" / "fastest-form.json"


def passes(export: ExportDir, backend: str, precision: str, variant: str) -> bool:
    """Whether the export's validation says the form keeps the answers (module docstring)."""
    if precision == "fp32":
        return True
    key = f"{backend}/{precision}" if precision not in contract.PRECISIONS else f"{variant}/{precision}"
    return export.manifest.task_misses(key) == []


def time_form(backend: Backend, export: ExportDir) -> float:
    """Median ms of the encoder and decoder on one image with the object queries, at the
    export's size, after a warm-up (the graphs' cost does not depend on the pixels)."""
    height, width = export.manifest.image["trace_size"]
    generator = torch.Generator().manual_seed(0)
    image = (torch.rand(1, 3, height, width, generator=generator) * 255).to(backend.device)
    queries = torch.from_numpy(export.object_queries())[None].to(backend.device)
    mask = torch.zeros(queries.shape[1], queries.shape[1], dtype=torch.bool, device=backend.device)

    def once() -> float:
        start = time.perf_counter()
        (features,) = backend.call(contract.ENCODER, image)
        backend.call(contract.DECODER, features, queries, mask)
        backend.synchronize()
        return (time.perf_counter() - start) * 1e3

    once()
    return statistics.median(once() for _ in range(_RUNS))


def _cache_key(export: ExportDir, variant: str, threads: int | None) -> str:
    manifest = sha256_of(export.path / "manifest.json")[:16]
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no gpu"
    return f"{manifest}|{variant}|{cpu_model()}|{','.join(cpu_isa())}|{gpu}|threads={threads}"


def _read_cache() -> dict:
    try:
        return json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}


def fastest(
    export: ExportDir,
    variant: str,
    threads: int | None,
    candidates: list[tuple[str, str]],
    make: Callable[[str, str], Backend],
) -> Backend:
    """The fastest of ``candidates`` ((backend, precision), those that run here) that passes,
    made by ``make(backend, precision)``; timed once and cached."""
    key = _cache_key(export, variant, threads)
    cache = _read_cache()
    cached = cache.get(key)
    if cached:
        backend = make(*cached["choice"])
        log.warning("precision auto: %s (cached: %s)", backend.info.label, cached["timings"])
        return backend
    timings, skipped, best = {}, [], None
    for name, precision in candidates:
        if not passes(export, name, precision, variant):
            skipped.append(f"{name} {precision}: not validated as passing in this export")
            continue
        try:
            backend = make(name, precision)
            ms = time_form(backend, export)
        except (RapSamError, ImportError) as err:
            skipped.append(f"{name} {precision}: {str(err).splitlines()[0]}")
            continue
        timings[f"{name}/{precision}"] = round(ms, 1)
        if best is None or ms < best[0]:
            best = (ms, name, precision, backend)
    if best is None:
        raise RapSamError("no form of this export passes and runs here:\n  " + "\n  ".join(skipped))
    cache[key] = {"choice": [best[1], best[2]], "timings": timings}
    write_atomic(cache_file(), (json.dumps(cache, indent=2) + "\n").encode())
    log.warning("precision auto: %s (encoder + decoder ms: %s; skipped: %s)", best[3].info.label, timings, skipped)
    return best[3]
