"""Where int8 loses the answers, and which blocks must stay fp32: the export's int8 graphs
(``export.quantize``: QDQ, symmetric, calibrated on the reference chain's inputs on sample
photos) with each calibration method, then, with the export's method, each block of the model
(``model.precision.BLOCKS``, plus "other": quantized nodes of no block) alone in int8 and the
rest fp32, then a greedy search that keeps blocks fp32, the largest solo loss first, until the
chain meets the gates the export holds this model to (within the noise, for random weights),
then a pass that puts each kept block back in int8, the most FLOPs first, where the chain still
meets them: the cheapest fp32 set found that way; last, the export's policy (``INT8_FP32_BLOCKS``).

Every row runs the chain in ONNX Runtime (CPU: encoder -> decoder -> adapters on sample photos,
the prompt encoder in fp32) and compares it with the fp32 PyTorch chain by the task figures of
the export's validation (``export.task_parity``); rows of the fp32 model under image noise say
how sensitive the model itself is. Writes ``report.json`` and ``report.md`` to ``--out``::

    python benchmarks/int8_blocks.py --backbone r18 --image-size 512 512 --out runs/int8-blocks
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import onnx
import torch
from precision_blocks import Runner
from report_files import add_chain_arguments, chain_report, chain_summary, task_cells, write_report
from torch.utils.flop_counter import FlopCounterMode

from rapsam_deploy.artifacts import contract
from rapsam_deploy.export.exporter import ExportedGraph, ExportOptions, export_file
from rapsam_deploy.export.quantize import (
    CALIBRATION_METHODS,
    calibration_feeds,
    excluded_nodes,
    module_of,
    quantize_graph,
)
from rapsam_deploy.export.reference_cases import size_cases
from rapsam_deploy.export.task_parity import (
    GATES,
    NOISE_MARGIN,
    QUANTISATION_NOISE,
    TaskParity,
    noise_gates,
    onnx_run,
    task_parity,
)
from rapsam_deploy.model import RapSam
from rapsam_deploy.model.build import build_model
from rapsam_deploy.model.precision import BLOCKS, INT8_CALIBRATION_METHOD, INT8_FP32_BLOCKS, INT8_OPS

QUANTIZED_GRAPHS = (contract.ENCODER.name, contract.DECODER.name, contract.ADAPTER_OBJECT.name,
                    contract.ADAPTER_PROMPT.name)  # fmt: skip
OTHER = "other"  # quantizable nodes in no block (e.g. the decoder's first mask product)


def block_of(path: str) -> str:
    """The block (``BLOCKS``) the module at ``path`` belongs to, or ``OTHER``."""
    for block, prefixes in BLOCKS.items():
        if any(path == p or path.startswith(p + ".") for p in prefixes):
            return block
    return OTHER


class Int8Runner(Runner):
    """The fp32 graphs, calibration inputs and reference chain of one model and size; quantizes
    and runs chains with a given set of units in int8, and keeps the report's rows."""

    def __init__(self, model: RapSam, size: tuple[int, int], batch: int, prompts: int, work: Path) -> None:
        super().__init__(model, size, batch, prompts)
        self.work = work
        options = ExportOptions(image_size=size)
        self.fp32: dict[str, ExportedGraph] = {}
        self.paths = {}
        for spec in contract.GRAPHS:
            self.fp32[spec.name] = export_file(model, spec.name, "standard", "fp32", options)
            self.paths[spec.name] = work / f"{spec.name}.onnx"
            onnx.save(self.fp32[spec.name].model, self.paths[spec.name])
        self.feeds = calibration_feeds(model, size)
        self.gates = GATES if model.info.trained else noise_gates(self.floor)
        self._quantized: dict[tuple, Path] = {}

    def units(self, graph: str) -> dict[str, str]:
        """Quantizable node -> its unit (block or ``OTHER``) in ``graph``."""
        built = self.fp32[graph]
        weights = {t.name for t in built.model.graph.initializer}
        nodes = [n for n in built.model.graph.node if n.op_type in INT8_OPS]
        return {n.name: block_of(module_of(n, built.scopes, weights) or "") for n in nodes}

    def quantized(self, graph: str, method: str, int8_units: frozenset[str]) -> Path:
        """``graph`` in int8 with only the nodes of ``int8_units`` quantized (the policy's
        islands stay fp32 either way); cached, and calibrated once per graph and method."""
        built = self.fp32[graph]
        exclude = set(excluded_nodes(built.model, built.scopes, self.model, blocks=()))
        exclude |= {node for node, unit in self.units(graph).items() if unit not in int8_units}
        key = (graph, method, frozenset(exclude))
        if key not in self._quantized:
            path = self.work / f"{graph}.{method}.{len(self._quantized)}.int8.onnx"
            cache = self.work / f"{graph}.{method}.calibration.json"
            onnx.save(quantize_graph(built.model, self.feeds[graph], sorted(exclude), method, cache), path)
            self._quantized[key] = path
        return self._quantized[key]

    def row(self, kind: str, name: str, method: str, int8_units: frozenset[str], **extra) -> TaskParity:
        """Run the chain with ``int8_units`` quantized and record it as a row."""
        start = time.perf_counter()
        paths = dict(self.paths) | {g: self.quantized(g, method, int8_units) for g in QUANTIZED_GRAPHS}
        parity = task_parity(self.cases(self.model, onnx_run(paths)), self.reference)
        return self.record(kind, name, parity, start, method=method, int8=sorted(int8_units), **extra)


def _loss(parity: TaskParity) -> float:
    """The gated means' total disagreement: what the greedy order goes by."""
    return (1 - parity.mask_iou_mean) + (1 - parity.class_agreement) + (1 - parity.prompt_iou_mean)


def greedy_fp32(runner: Int8Runner, method: str, every: dict, solo: dict[str, TaskParity]) -> list[str]:
    """Keep units fp32 one at a time, the largest solo loss first, until the chain meets the
    gates (``runner.gates``) or every unit is fp32; ``every`` is the row of every unit in int8.
    Returns the units kept fp32."""
    units = list(solo)
    order = sorted(solo, key=lambda u: _loss(solo[u]), reverse=True)
    count = 0
    while every["noise_misses"] and count < len(order):
        count += 1
        kept = order[:count]
        int8 = frozenset(u for u in units if u not in kept)
        runner.row("greedy", f"fp32: {', '.join(kept)}", method, int8, fp32=kept)
        every = runner.rows[-1]
    return order[:count] if not every["noise_misses"] else units


def prune_fp32(
    runner: Int8Runner, method: str, units: list[str], kept: list[str], flops: dict[str, float]
) -> list[str]:
    """Put each of ``kept`` (fp32) back in int8, the most FLOPs first, where the chain still meets
    the gates; returns what stays fp32."""
    kept = list(kept)
    for unit in sorted(kept, key=lambda u: flops.get(u, 0.0), reverse=True):
        trial = [u for u in kept if u != unit]
        int8 = frozenset(u for u in units if u not in trial)
        runner.row("prune", f"fp32: {', '.join(trial) or 'none'}", method, int8, fp32=trial)
        if not runner.rows[-1]["noise_misses"]:
            kept = trial
    return kept


def unit_flops(model: RapSam, size: tuple[int, int]) -> dict[str, float]:
    """GFLOPs of each block on one photo's panoptic and prompt path (its modules, islands
    included; ``OTHER``: the rest), from PyTorch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        size_cases(model, size, 1, 100, 5)
    counts = {name: sum(ops.values()) / 1e9 for name, ops in counter.get_flop_counts().items()}
    paths = {name.split(".", 2)[2]: flops for name, flops in counts.items() if name.count(".") >= 2}
    flops = {}
    for block, prefixes in BLOCKS.items():
        flops[block] = sum(f for path, f in paths.items() if path in prefixes)
    flops[OTHER] = counts["Global"] - sum(flops.values())
    return flops


def _markdown(report: dict) -> str:
    gates = ", ".join(f"{k} >= {report['noise_gates'][k]:.4f}" for k in ("mask_iou_mean", "class_agreement",
                                                                          "prompt_iou_mean"))  # fmt: skip
    lines = [
        "# int8 block by block",
        "",
        f"{chain_summary(report)} "
        "Every row is the chain in ONNX Runtime (CPU) against the fp32 PyTorch chain on the same photos. "
        f"Gates within the noise ({NOISE_MARGIN}x the fp32 model's disagreement under {QUANTISATION_NOISE} gray "
        f"levels of noise, plus the absolute gates' allowance; the export's gates for untrained weights): {gates}.",
        "",
        "| kind | int8 (or what differs) | calibration | features mean rel | mask IoU mean | mask IoU min "
        "| class agreement | prompt IoU mean | prompt IoU min | within the gates |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report["rows"]:
        figures = task_cells(r)
        noise = "yes" if not r["noise_misses"] else "no: " + "; ".join(r["noise_misses"])
        lines.append(f"| {r['kind']} | {r['name']} | {r.get('method', '-')} | " + " | ".join(figures) + f" | {noise} |")
    fp32 = ", ".join(report["fp32_blocks"]) or "none"
    gflops = ", ".join(f"{unit} {flops:.2f}" for unit, flops in report["gflops"].items())
    lines += ["", f"Blocks kept fp32 (greedy, then pruned): {fp32}.", "", f"GFLOPs per block (one photo): {gflops}."]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, work: Path) -> dict:
    start = time.perf_counter()
    model = build_model(args.backbone, seed=args.seed).eval()
    runner = Int8Runner(model, tuple(args.image_size), args.batch, args.prompts, work)
    runner.record("fp32", f"image + noise of {QUANTISATION_NOISE:g} gray levels", runner.floor, time.perf_counter())
    units = [*BLOCKS, OTHER]
    every = frozenset(units)
    by_method = {}
    for m in dict.fromkeys([*args.methods, args.method]):
        by_method[m] = (runner.row("int8", "every block", m, every), runner.rows[-1])
    method = args.method
    solo = {u: runner.row("solo", u, method, frozenset([u])) for u in units}
    flops = unit_flops(model, tuple(args.image_size))
    fp32 = greedy_fp32(runner, method, by_method[method][1], solo) if args.greedy else []
    if fp32:
        fp32 = prune_fp32(runner, method, units, fp32, flops)
    policy = frozenset(u for u in units if u not in INT8_FP32_BLOCKS)
    runner.row("export", f"the export's policy, fp32: {', '.join(INT8_FP32_BLOCKS)}", INT8_CALIBRATION_METHOD, policy)
    return {
        **chain_report(args, time.perf_counter() - start),
        "method": method,
        "fp32_blocks": fp32,
        "gflops": flops,
        "noise_gates": {k: v for k, v in runner.gates.as_dict().items() if v},
        "rows": runner.rows,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_chain_arguments(p)
    p.add_argument(
        "--methods",
        nargs="+",
        default=list(CALIBRATION_METHODS),
        choices=CALIBRATION_METHODS,
        help="calibration methods to compare (every block in int8)",
    )
    p.add_argument(
        "--method",
        default=INT8_CALIBRATION_METHOD,
        choices=CALIBRATION_METHODS,
        help=f"calibration of the block rows and the search (default: the export's, {INT8_CALIBRATION_METHOD})",
    )
    p.add_argument("--no-greedy", dest="greedy", action="store_false", help="skip the greedy fp32 search")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/int8-blocks"))
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="int8-blocks-") as work:
        report = run(args, Path(work))
    write_report(args.out, report, _markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
