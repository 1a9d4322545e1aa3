"""``rapsam-export``: split RAP-SAM into the contract's ONNX graphs, validated against PyTorch."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..artifacts import contract
from ..artifacts.files import check_input_file
from ..artifacts.manifest import Manifest
from ..errors import RapSamError
from ..model.backbones import backbone_names
from ..progress import log_stderr
from .common import command_parser, entry_point, table
from .options import add_precision, add_variant

EPILOG = """examples:
  rapsam-export --backbone r18                       random weights, fp32, standard graphs
  rapsam-export --backbone r50 --checkpoint rapsam_r50_12e.pth \\
      --class-embed convnext_large_d_320_CocoPanopticOVDataset.pth --image-size 1024 1024
  rapsam-export --backbone r18 --variant both --precision both --output exports/r18-all
  rapsam-export --backbone r18 --precision int8       int8 QDQ graphs, calibrated on sample photos
  rapsam-export --backbone r18 --polygraphy-data     + inputs and PyTorch outputs for `polygraphy run`
"""


def parser() -> argparse.ArgumentParser:
    p = command_parser("rapsam-export", __doc__, EPILOG)
    model = p.add_argument_group("model")
    model.add_argument("--backbone", default="r18", choices=backbone_names(), help="backbone (default: r18)")
    model.add_argument("--checkpoint", type=Path, help="official RAP-SAM checkpoint; random weights without it")
    model.add_argument("--class-embed", type=Path, help="[K,P,D] class-embedding file of the official release")
    model.add_argument("--seed", type=int, default=0, help="seed of the random weights (default: 0)")
    graphs = p.add_argument_group("graphs")
    graphs.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=(1024, 1024),
        metavar=("H", "W"),
        help="tracing, validation and default engine-profile size, multiples of 32 (default: 1024 1024)",
    )
    graphs.add_argument("--opset", type=int, default=19, help="ONNX opset, >= 17; 19 for DeformConv (default: 19)")
    add_variant(graphs, both=True, help_extra="standard: plain ONNX ops; plugin: fused TensorRT-plugin nodes with an "
                "ONNX fallback")  # fmt: skip
    add_precision(
        graphs,
        both=True,
        help_extra="both: fp32 and fp16; fp16 keeps LayerNorm, softmax, gates and pooled sums fp32, and fp32 I/O; "
        "int8: QDQ graphs quantized from the fp32 ones, calibrated on sample photos",
    )
    graphs.add_argument(
        "--deform-conv",
        choices=["op", "decomposed"],
        default="op",
        help="op: one ONNX DeformConv node (TensorRT >= 10.1); decomposed: GridSample + MatMul (default: op)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--output", type=Path, help="export directory (default: exports/<backbone>)")
    out.add_argument("--force", action="store_true", help="replace an existing export directory")
    out.add_argument("--no-validate", action="store_true", help="skip the ONNX Runtime vs PyTorch parity check")
    out.add_argument(
        "--polygraphy-data",
        action="store_true",
        help="also write polygraphy/<graph>.inputs.json and <graph>.reference.json (the validation inputs and "
        "PyTorch's outputs) for `polygraphy run --load-inputs ... --load-outputs ...`; needs polygraphy",
    )
    return p


def check_torch_file(path: Path, option: str) -> None:
    """Refuse, before the model is built, a file that is missing, unreadable, empty or by its
    first bytes no file of ``torch.save``: a zip archive, or a pickle in the legacy format."""
    head = check_input_file(path, option, 4)
    if not head.startswith((b"PK\x03\x04", b"\x80")):
        raise RapSamError(
            f"{option} {path} is not a PyTorch file (it starts with {head!r}, not a zip archive or a pickle)",
            "pass the .pth file that torch.save wrote, e.g. the official release's",
        )


# ``--precision both``: fp32 and fp16 (int8 is asked for on its own).
BOTH_PRECISIONS = ("fp32", "fp16")


def _both(value: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    return choices if value == "both" else (value,)


def summary(manifest: Manifest) -> str:
    """Graph, form, size on disk and worst parity figures, one row per file."""
    rows, seen = [], set()
    for a in manifest.artifacts:
        if a.file in seen:
            continue
        seen.add(a.file)
        worst = a.parity.get("worst", {})
        rel = max((w["max_rel"] for w in worst.values() if "max_rel" in w), default=None)
        signs = [w["sign_agreement"] for w in worst.values() if "sign_agreement" in w]
        flips = [w["flips"] for w in worst.values() if "flips" in w]
        rows.append(
            [
                a.file,
                f"{a.bytes / 1e6:.1f} MB",
                "not validated" if rel is None else f"{rel:.1e}",
                f"{min(signs) * 100:.3f}%" if signs else "-",
                f"{max(flips):.1e}" if flips else "-",
                "ok" if a.parity.get("passed", not a.parity.get("validated")) else "FAILED",
            ]
        )
    return table(rows, ["file", "size", "max rel err", "mask sign agree", "hard-mask flips", "parity"])


def _task_figures(figures: dict) -> list[str]:
    keys = ("mask_iou_mean", "mask_iou_min", "class_agreement", "prompt_iou_mean")
    return [f"{figures[key]:.4f}" for key in keys]


def task_summary(manifest: Manifest) -> str:
    """Each form's chain (encoder -> decoder -> adapters) by task figures, one row per form."""
    tasks = manifest.validation.get("tasks") or {}
    rows = [
        # Only approximate forms (int8) are written with misses; the export fails on any other's.
        [form, *_task_figures(t), "ok" if not t["misses"] else "MISSED (kept)", t["gates"]]
        for form, t in tasks.get("forms", {}).items()
    ]
    floor = tasks.get("noise_floor")
    if floor:
        name = f"(fp32 + {floor['gray_levels']} gray levels of noise)"
        rows.append([name, *_task_figures(floor), "-", "the model's own sensitivity"])
    headers = ["chain", "mask IoU mean", "mask IoU min", "class agree", "prompt IoU", "tasks", "gates"]
    return table(rows, headers) if rows else ""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for option, path in (("--checkpoint", args.checkpoint), ("--class-embed", args.class_embed)):
        if path is not None:
            check_torch_file(path, option)
    from ..export import ExportOptions, export_model

    options = ExportOptions(
        backbone=args.backbone,
        checkpoint=args.checkpoint,
        class_embed=args.class_embed,
        output=args.output,
        image_size=tuple(args.image_size),
        opset=args.opset,
        variants=_both(args.variant, contract.VARIANTS),
        precisions=_both(args.precision, BOTH_PRECISIONS),
        deform_conv=args.deform_conv,
        validate=not args.no_validate,
        polygraphy=args.polygraphy_data,
        force=args.force,
        seed=args.seed,
    )
    manifest = export_model(options, log=log_stderr)
    print(summary(manifest))
    tasks = task_summary(manifest)
    if tasks:
        print("\n" + tasks)
    if not manifest.model["trained"]:
        print("note: random weights (no --checkpoint): graphs are for speed and parity work, not for predictions")
    return 0


entry = entry_point(main)


if __name__ == "__main__":
    entry()
