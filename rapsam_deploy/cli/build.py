"""``rapsam-build``: TensorRT engines from an export directory, one per graph of the contract."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..artifacts import contract
from .common import command_parser, entry_point, table
from .options import add_export_dir, add_precision, add_variant

EPILOG = """examples:
  rapsam-build exports/r18                                    fp32: writes exports/r18/engines/fp32-standard/*.plan
  rapsam-build exports/r50 --precision fp16 --variant plugin  needs the export's fp16 plugin graphs
  rapsam-build exports/r18 --precision fp16 --graphs encoder decoder --profile-batch 1 1 1 --force

Profiles (min opt max) default to the manifest's, which rapsam-export sets from --image-size.
Engines only run with the TensorRT version and GPU architecture they were built with. Each is a
plain TensorRT plan (trtexec --loadEngine and Triton's tensorrt_plan load it) with a JSON sidecar,
<graph>.plan.json, that says what it was built from and for; rapsam-deploy checks it before loading.
"""
_PROFILE_AXES = {
    "batch": ("B", "images per call"),
    "height": ("H", "padded image height, multiples of 32"),
    "width": ("W", "padded image width, multiples of 32"),
    "queries": ("N", "object queries or prompts"),
    "frames": ("T", "video frames stacked per clip"),
}


def parser() -> argparse.ArgumentParser:
    p = command_parser("rapsam-build", __doc__, EPILOG)
    add_export_dir(p, positional=True)
    add_precision(p, help_extra="fp16 builds the export's *.fp16.onnx graphs (strongly typed; no FP16 builder flag)")
    add_variant(p, help_extra="plugin: the fused op runs as the rapsam TensorRT plugin")
    p.add_argument(
        "--graphs",
        nargs="+",
        choices=contract.GRAPH_NAMES,
        default=list(contract.GRAPH_NAMES),
        metavar="GRAPH",
        help=f"graphs to build: {', '.join(contract.GRAPH_NAMES)} (default: all five)",
    )
    build = p.add_argument_group("builder")
    build.add_argument("--workspace", type=float, metavar="GiB", help="workspace limit (default: TensorRT's)")
    build.add_argument(
        "--timing-cache",
        type=Path,
        metavar="PATH",
        help="timing cache, read and updated (default: EXPORT_DIR/engines/timing-trt<version>-<sm>.cache)",
    )
    build.add_argument("--verbose", action="store_true", help="show TensorRT's info messages")
    profiles = p.add_argument_group("optimisation profile (each MIN OPT MAX; default: the manifest's)")
    for name, (axis, what) in _PROFILE_AXES.items():
        profiles.add_argument(
            f"--profile-{name}", type=int, nargs=3, metavar=("MIN", "OPT", "MAX"), help=f"{axis}: {what}"
        )
    out = p.add_argument_group("output")
    out.add_argument("--output", type=Path, metavar="DIR", help="engine folder (default: EXPORT_DIR/engines/<p>-<v>)")
    out.add_argument("--force", action="store_true", help="replace existing engines")
    return p


def _profiles(args: argparse.Namespace) -> dict[str, dict[str, int]]:
    chosen = {}
    for name, (axis, _) in _PROFILE_AXES.items():
        values = getattr(args, f"profile_{name}")
        if values:
            chosen[axis] = dict(zip(("min", "opt", "max"), values, strict=True))
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..artifacts.export_dir import ExportDir
    from ..engines.build import BuildOptions, build_engines

    options = BuildOptions(
        export=ExportDir.open(args.export_dir),
        precision=args.precision,
        variant=args.variant,
        graphs=tuple(args.graphs),
        workspace_gib=args.workspace,
        timing_cache=args.timing_cache,
        output=args.output,
        force=args.force,
        profiles=_profiles(args),
        verbose=args.verbose,
    )
    built = build_engines(options)
    rows = [[b.path.name, f"{b.path.stat().st_size / 1e6:.1f} MB", f"{b.seconds:.1f} s"] for b in built]
    print(table(rows, ["engine", "size", "build time"]))
    if built:
        print(f"engines in {built[0].path.parent}; TensorRT {built[0].sidecar.tensorrt}, {built[0].sidecar.gpu_name}")
    return 0


entry = entry_point(main)


if __name__ == "__main__":
    entry()
