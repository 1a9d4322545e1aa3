"""What the benchmark scripts share: the chain options of the block-by-block searches and the
report files every script writes (``report.json``, ``report.md``) into its ``--out`` folder."""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import torch

from rapsam_deploy.machine import cpu_label, machine


def add_chain_arguments(p: argparse.ArgumentParser) -> None:
    """The model and the chain a block-by-block search runs (precision_blocks, int8_blocks)."""
    p.add_argument("--backbone", default="r18", choices=("r18", "r50"))
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--image-size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"))
    p.add_argument("--batch", type=int, default=2, help="sample photos per chain")
    p.add_argument("--prompts", type=int, default=5)


def chain_report(args: argparse.Namespace, seconds: float) -> dict:
    """What every block-by-block report starts with: the model, the chain (``add_chain_arguments``),
    the machine, when, and how long it took."""
    return {
        "model": f"{args.backbone}, random weights (seed {args.seed}), untrained",
        "size": list(args.image_size),
        "batch": args.batch,
        "prompts": args.prompts,
        "machine": cpu_label(machine(torch.get_num_threads())),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": seconds,
    }


def chain_summary(report: dict) -> str:
    """The sentence every block-by-block report opens with: the model, the photos and prompts of
    the chain, the machine and how long it took (from :func:`chain_report`)."""
    height, width = report["size"]
    return (
        f"Model: {report['model']}. Photos: {report['batch']} at {height}x{width}, 100 object queries, "
        f"{report['prompts']} prompts. Machine: {report['machine']} ({report['seconds']:.0f} s)."
    )


def task_cells(row: dict) -> list[str]:
    """A chain's task figures (``TaskParity.as_dict``) as markdown table cells, in the order the
    block-by-block reports print them."""
    keys = ("mask_iou_mean", "mask_iou_min", "class_agreement", "prompt_iou_mean", "prompt_iou_min")
    return [f"{row['features_mean_rel']:.1e}"] + [f"{row[k]:.4f}" for k in keys]


def write_report(out: Path, report: dict, markdown: str) -> None:
    """``report.json`` and ``report.md`` into ``out`` (created), and the markdown to stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "report.md").write_text(markdown)
    print(markdown)
