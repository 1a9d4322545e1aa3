"""The export's validation over a grid of input sizes, batches and query counts: the evidence
that a correct graph passes at every size (the test suite runs a few of these cells).

Every square size that is a multiple of 32 from 128 to 1344, plus as many non-square sizes
drawn at random from the same range; batch and object-query count cycle through 1-4 and
(100, 37, 5, 1), prompts through 1-5. Each cell runs ``validate_files`` (the forced and free runs
of ``rapsam_deploy.export.validate``) on every graph of one form of an export against the
PyTorch model rebuilt from its manifest. With ``--tasks``, each cell also runs the form's chain
by task figures (``rapsam_deploy.export.task_parity.validate_tasks``, the export's gates) at the
cell's size. Writes ``report.json`` and ``report.md`` (worst figures per graph, failures listed)
to ``--out``::

    python benchmarks/validation_grid.py --export-dir exports/r18 --out runs/validation-grid
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.backends.torch_backend import model_from_export
from rapsam_deploy.export.reference_cases import size_cases
from rapsam_deploy.export.task_parity import validate_tasks
from rapsam_deploy.export.validate import THRESHOLDS, failures, validate_files
from rapsam_deploy.machine import cpu_label, machine

SIZES = range(128, 1344 + 1, contract.SIZE_DIVISOR)
QUERY_COUNTS = (100, 37, 5, 1)


def grid(non_square: int, seed: int) -> list[tuple[tuple[int, int], int, int, int]]:
    """((H, W), batch, queries, prompts) cells: every square size, then ``non_square`` others."""
    rng = np.random.default_rng(seed)
    sizes = [(s, s) for s in SIZES]
    while len(sizes) < len(SIZES) + non_square:
        h, w = (int(v) for v in rng.choice(SIZES, 2))
        if h != w and (h, w) not in sizes:
            sizes.append((h, w))
    return [(size, 1 + i % 4, QUERY_COUNTS[i % len(QUERY_COUNTS)], 1 + i % 5) for i, size in enumerate(sizes)]


def _markdown(report: dict) -> str:
    lines = [
        "# Validation over a grid of sizes",
        "",
        f"Export: {report['export']} ({report['model']}), {report['variant']} {report['precision']}. "
        f"Machine: {report['machine']}. {report['cells']} cells ({report['seconds']:.0f} s), "
        f"{report['failed_cells']} failed. Thresholds: {report['threshold']}.",
        "",
        "| graph | output | max rel | mask sign agreement | free-run mask IoU | hard-mask flips |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for graph, outputs in report["worst"].items():
        for output, w in outputs.items():
            formats = {"max_rel": ".2g", "sign_agreement": ".6f", "free_mask_iou": ".6f", "flips": ".2g"}
            cells = [format(w[k], f) if k in w else "-" for k, f in formats.items()]
            lines.append(f"| {graph} | {output} | " + " | ".join(cells) + " |")
    if report["tasks"]:
        lines += ["", "Chains by task (worst over every cell; the noise floor's figures are the best over cells):", ""]
        lines += ["| figure | worst |", "| --- | ---: |"]
        lines += [f"| {key} | {value:.4f} |" for key, value in report["tasks"].items()]
    lines += ["", "Worst figures over every cell.", ""]
    lines += ["Failures:" if report["failures"] else "No failures.", *[f"- {f}" for f in report["failures"]]]
    return "\n".join(lines) + "\n"


def _merge(worst: dict, graph_worst: dict) -> None:
    picks = {"max_rel": max, "max_abs": max, "flips": max, "sign_agreement": min, "free_mask_iou": min}
    for output, figures in graph_worst.items():
        target = worst.setdefault(output, {})
        for key, value in figures.items():
            target[key] = picks[key](target.get(key, value), value)


def _merge_tasks(tasks: dict, figures: dict, floor: dict) -> None:
    """Worst figures of the chain and the best of the noise floor (its least disagreement) over cells."""
    for key, value in figures.items():
        pick = max if key == "features_mean_rel" else min
        tasks[key] = pick(tasks.get(key, value), value)
    for key, value in floor.items():
        pick = min if key == "features_mean_rel" else max
        tasks[f"noise floor {key}"] = pick(tasks.get(f"noise floor {key}", value), value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--export-dir", type=Path, required=True)
    p.add_argument("--variant", default="standard", choices=contract.VARIANTS)
    p.add_argument("--precision", default="fp32", choices=contract.PRECISIONS)
    p.add_argument("--non-square", type=int, default=39, help="non-square sizes besides the 39 square ones")
    p.add_argument("--seed", type=int, default=0, help="seed of the non-square draw")
    p.add_argument("--limit", type=int, default=None, help="only the first LIMIT cells (a quick look)")
    p.add_argument("--tasks", action="store_true", help="also the chain's task figures at each cell's size")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/validation-grid"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    export = ExportDir.open(args.export_dir)
    model = model_from_export(export).eval()
    files = [
        (g, args.precision, export.path / export.manifest.artifact(g, args.variant, args.precision).file)
        for g in contract.GRAPH_NAMES
    ]
    worst: dict[str, dict] = {}
    tasks: dict[str, float] = {}
    all_failures: list[str] = []
    failed_cells = 0
    start = time.perf_counter()
    cells = grid(args.non_square, args.seed)[: args.limit]
    for index, (size, batch, queries, prompts) in enumerate(cells, 1):
        step = time.perf_counter()
        reports = validate_files(files, size_cases(model, size, batch, queries, prompts), log=lambda _: None)
        cell_failures = failures(reports)
        if args.tasks:
            form = f"{args.variant}/{args.precision}"
            floor, (chain,) = validate_tasks(model, {form: dict((g, p) for g, _, p in files)}, size, lambda _: None)
            cell_failures += [f"{size[0]}x{size[1]} {form} chain: {miss}" for miss in chain.misses]
            _merge_tasks(tasks, chain.parity.as_dict(), floor.as_dict() if floor else {})
        all_failures += cell_failures
        failed_cells += bool(cell_failures)
        for r in reports:
            _merge(worst.setdefault(r.file, {}), r.worst())
        status = "ok" if not cell_failures else f"FAILED ({len(cell_failures)})"
        print(f"[{index}/{len(cells)}] {size[0]}x{size[1]} B={batch} N={queries} P={prompts}: {status} "
              f"({time.perf_counter() - step:.1f} s)", file=sys.stderr, flush=True)  # fmt: skip

    report = {
        "export": str(args.export_dir),
        "model": export.label,
        "variant": args.variant,
        "precision": args.precision,
        "machine": cpu_label(machine(torch.get_num_threads())),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threshold": THRESHOLDS[args.precision].__dict__,
        "cells": len(cells),
        "grid": [list(c) for c in cells],
        "seconds": time.perf_counter() - start,
        "failed_cells": failed_cells,
        "failures": all_failures,
        "worst": worst,
        "tasks": tasks,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "report.md").write_text(_markdown(report))
    print(_markdown(report))
    return 1 if failed_cells else 0


if __name__ == "__main__":
    sys.exit(main())
