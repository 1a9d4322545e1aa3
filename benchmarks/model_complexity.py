"""Parameters and FLOPs of RAP-SAM r18 / r50 per part, beside the paper's figures.

Usage: python benchmarks/model_complexity.py [--out benchmarks/results]
Writes model_complexity.json and model_complexity.md. Parameter counts do not depend on the
weights; FLOPs do not either, so random weights are used.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from rapsam_deploy.model import build_model
from rapsam_deploy.model.complexity import PARTS, flop_counts, parameter_counts

SIZES = ((1024, 1024), (800, 1344))  # (H, W); 1333x800 pads to 1344x800
PAPER = {"r18": {"params_m": 22.8, "gflops": 60.5}, "r50": {"params_m": 47.2, "gflops": 123.0}}


def measure(backbone: str) -> dict:
    model = build_model(backbone)
    reports = [flop_counts(model, size) for size in SIZES]
    return {
        "params": parameter_counts(model),
        "flops": {
            f"{h}x{w}": {**r.flops, "panoptic": r.panoptic, "prompt_extra": r.prompt_extra}
            for (h, w), r in zip(SIZES, reports, strict=True)
        },
    }


def markdown(results: dict) -> str:
    header = ["model", "params (M)", "paper params (M)"]
    header += [f"{unit} {h}x{w}" for h, w in SIZES for unit in ("GFLOPs", "GMACs")] + ['paper "GFLOPs"']
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for backbone, r in results.items():
        big, coco = r["flops"]["1024x1024"]["panoptic"], r["flops"]["800x1344"]["panoptic"]
        lines.append(
            f"| RAP-SAM {backbone} | {r['params']['total'] / 1e6:.2f} | {PAPER[backbone]['params_m']} | "
            f"{big / 1e9:.1f} | {big / 2e9:.1f} | {coco / 1e9:.1f} | {coco / 2e9:.1f} | {PAPER[backbone]['gflops']} |"
        )
    lines += ["", "Per part (params in M; GFLOPs at 1024x1024, one prompt for the prompt path):", ""]
    lines += ["| model | " + " | ".join(PARTS) + " |", "| --- |" + " ---: |" * len(PARTS)]
    for backbone, r in results.items():
        lines.append(f"| {backbone} params | " + " | ".join(f"{r['params'][p] / 1e6:.3f}" for p in PARTS) + " |")
        flops = r["flops"]["1024x1024"]
        cells = [flops[p] for p in ("backbone", "neck", "prompt_encoder")] + [flops["decoder"]]
        cells += [flops["adapter_object"], flops["adapter_prompt"]]
        lines.append(f"| {backbone} GFLOPs | " + " | ".join(f"{c / 1e9:.2f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    results = {backbone: measure(backbone) for backbone in ("r18", "r50")}
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "python": platform.python_version(), "counter": "torch.utils.flop_counter"}
    (args.out / "model_complexity.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    table = markdown(results)
    (args.out / "model_complexity.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
