"""Where reduced precision loses the answers: each block of the model (``model.precision.BLOCKS``:
backbone stages, the neck's lateral convs, offset convs, deformable sampling, upsampling and
fusion, decoder stages, adapters) alone in fp16 or bf16, the rest in fp32, then all of them, then
the export's fp16 policy; each chain (encoder -> decoder -> adapters on sample photos) compared
with the fp32 model by task figures (``export.task_parity``: per-query mask IoU, class agreement,
prompt mask IoU) against the precision gates.

Rows of the fp32 model on the same photos plus Gaussian noise of a fraction of one gray level say
how sensitive the model itself is (0.29 is the noise that 8-bit quantisation adds; the export
holds untrained models' reduced-precision forms to it). Last, a greedy search keeps blocks in
fp32, the largest solo loss first, until the chain meets the gates the export would apply to
this model (or every block is fp32): the cheapest such set found that way. Writes
``report.json`` and ``report.md`` to ``--out``::

    python benchmarks/precision_blocks.py --backbone r18 --image-size 512 512 --out runs/precision-blocks
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from report_files import add_chain_arguments, chain_report, chain_summary, task_cells, write_report

from rapsam_deploy.export.reference_cases import Case, size_cases
from rapsam_deploy.export.task_parity import (
    GATES,
    NOISE_MARGIN,
    QUANTISATION_NOISE,
    TaskParity,
    noise_gates,
    task_parity,
    with_image_noise,
)
from rapsam_deploy.model import RapSam
from rapsam_deploy.model.build import build_model
from rapsam_deploy.model.precision import BLOCKS, half_precision, mixed_precision

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class Runner:
    """Runs chains on one set of photos and prompts, and keeps the report's rows."""

    def __init__(self, model: RapSam, size: tuple[int, int], batch: int, prompts: int) -> None:
        self.model, self.size, self.batch, self.prompts = model, size, batch, prompts
        self.reference = self.cases(model)
        self.rows: list[dict] = []
        self.floor = task_parity(self.cases(with_image_noise(model, QUANTISATION_NOISE)), self.reference)

    def cases(self, model: RapSam, run=None) -> list[Case]:
        """``model``'s chain on this runner's photos and prompts (each graph by ``run``, or the
        model's own graph modules)."""
        return size_cases(model.eval(), self.size, self.batch, 100, self.prompts, run=run)

    def row(self, kind: str, name: str, model: RapSam, **extra) -> TaskParity:
        """Run ``model``'s chain and record it as a row."""
        start = time.perf_counter()
        return self.record(kind, name, task_parity(self.cases(model), self.reference), start, **extra)

    def record(self, kind: str, name: str, parity: TaskParity, start: float, **extra) -> TaskParity:
        """Record a measured chain as a row (and print it, with the seconds since ``start``)."""
        misses = parity.misses()
        noise_misses = parity.misses(noise_gates(self.floor))
        self.rows.append(
            {"kind": kind, "name": name, **extra, **parity.as_dict(), "misses": misses, "noise_misses": noise_misses}
        )
        verdict = "meets the gates" if not misses else "misses " + "; ".join(misses)
        print(f"{kind:>10} {name:<34} IoU mean {parity.mask_iou_mean:.4f} min {parity.mask_iou_min:.4f} "
              f"class {parity.class_agreement:.4f} prompt {parity.prompt_iou_mean:.4f}: {verdict} "
              f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)  # fmt: skip
        return parity


def greedy_fp32(runner: Runner, dtype: str, every_block: dict, solo: dict[str, TaskParity]) -> None:
    """Keep blocks in fp32 one at a time, the largest solo mask-IoU loss first, until the chain
    meets the gates the export holds this model to (within the noise, for random weights);
    ``every_block`` is the row of every block in ``dtype``, where the search starts."""
    misses = "misses" if runner.model.info.trained else "noise_misses"
    order = sorted(solo, key=lambda b: (solo[b].mask_iou_mean, solo[b].mask_iou_min))
    count = 0
    while every_block[misses] and count < len(order):
        count += 1
        kept = order[:count]
        low = [b for b in BLOCKS if b not in kept]
        name = f"fp32: {', '.join(kept)}"
        runner.row(f"{dtype} greedy", name, mixed_precision(runner.model, DTYPES[dtype], low), fp32=kept)
        every_block = runner.rows[-1]


def _markdown(report: dict) -> str:
    gates = ", ".join(f"{k} >= {v}" for k, v in report["gates"].items() if v)
    lines = [
        "# Reduced precision block by block",
        "",
        f"{chain_summary(report)} "
        f"Every row is against the fp32 model on the same photos. Gates: {gates}. Within the noise: each mean "
        f"figure disagrees at most {NOISE_MARGIN}x as much as the fp32 model's under {QUANTISATION_NOISE} gray "
        "levels of noise (the export's gate for untrained weights).",
        "",
        "| kind | blocks in reduced precision (or what differs) | features mean rel | mask IoU mean | mask IoU min "
        "| class agreement | prompt IoU mean | prompt IoU min | gates | within the noise |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in report["rows"]:
        figures = task_cells(r)
        verdict = "met" if not r["misses"] else "missed: " + "; ".join(r["misses"])
        noise = "yes" if not r["noise_misses"] else "no: " + "; ".join(r["noise_misses"])
        lines.append(f"| {r['kind']} | {r['name']} | " + " | ".join(figures) + f" | {verdict} | {noise} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    model = build_model(args.backbone, seed=args.seed).eval()
    runner = Runner(model, tuple(args.image_size), args.batch, args.prompts)
    start = time.perf_counter()
    for sigma in args.noise:
        name = f"image + noise of {sigma:g} gray levels"
        if sigma == QUANTISATION_NOISE:  # the floor, measured when the runner was made
            runner.record("fp32", name, runner.floor, time.perf_counter(), sigma=sigma)
        else:
            runner.row("fp32", name, with_image_noise(model, sigma), sigma=sigma)
    for dtype in args.dtypes:
        if dtype == "fp16":
            runner.row("fp16", "the export's fp16 policy (half_precision)", half_precision(model))
        runner.row(dtype, "all blocks", mixed_precision(model, DTYPES[dtype], BLOCKS))
        every_block = runner.rows[-1]
        solo = {b: runner.row(dtype, b, mixed_precision(model, DTYPES[dtype], [b]), blocks=[b]) for b in BLOCKS}
        if args.greedy:
            greedy_fp32(runner, dtype, every_block, solo)
    log(f"{len(runner.rows)} rows in {time.perf_counter() - start:.0f} s")
    return {
        **chain_report(args, time.perf_counter() - start),
        "gates": {k: v for k, v in GATES.as_dict().items() if v},
        "rows": runner.rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_chain_arguments(p)
    p.add_argument("--dtypes", nargs="+", default=["fp16", "bf16"], choices=sorted(DTYPES))
    p.add_argument("--noise", type=float, nargs="*", default=[0.05, QUANTISATION_NOISE], help="noise rows, gray levels")
    p.add_argument("--no-greedy", dest="greedy", action="store_false", help="skip the greedy fp32 search")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/precision-blocks"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    report = run(args, lambda line: print(line, file=sys.stderr))
    write_report(args.out, report, _markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
