"""``rapsam-bench``: FPS, latency per stage, memory, FLOPs and parity of every backend available here
against the PyTorch reference, on the same inputs; writes report.json, report.md and charts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..artifacts.contract import SIZE_DIVISOR
from ..model.backbones import backbone_names
from ..progress import log_stderr
from ..serve.names import DEFAULT_PREFIX
from .common import command_parser, entry_point, table
from .options import add_export_dir, add_precision, add_threads, check_at_least, check_names, csv

EPILOG = """examples:
  rapsam-bench --backbone r18                          every backend here, all tasks, 1024x1024
  rapsam-bench --backbones r18,r50 --task panoptic --iters 20
  rapsam-bench --backbone r18 --backends onnxruntime,torch --export-dir exports/r18
  rapsam-bench --server localhost:8001 --concurrency 1,4,8 --export-dir exports/r18   a served repository under load

The default size, 1024x1024, is the setting the paper's speed figures and SAM users take.
"""


def parser() -> argparse.ArgumentParser:
    from ..bench.runner import CPU_BACKENDS, GPU_BACKENDS
    from ..bench.tasks import TASKS

    p = command_parser("rapsam-bench", __doc__, EPILOG)
    p.add_argument("--backbone", "--backbones", dest="backbones", type=csv, default=("r18",),
                   help=f"comma-separated: {','.join(backbone_names())} (default: r18)")  # fmt: skip
    p.add_argument("--backends", type=csv, metavar="LIST",
                   help=f"comma-separated from {','.join(CPU_BACKENDS + GPU_BACKENDS)} "
                        "(default: every one available here; others are listed as not run)")  # fmt: skip
    add_precision(p, plural=True)
    p.add_argument("--task", default="all", choices=[*TASKS, "all"], help="default: all")
    p.add_argument("--image-size", type=int, nargs=2, default=(1024, 1024), metavar=("H", "W"),
                   help="input size, multiples of 32 (default: 1024 1024, the paper's speed setting)")  # fmt: skip
    p.add_argument("--batch", type=int, default=1, help="images per panoptic iteration (default: 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default: 1)")
    p.add_argument("--iters", type=int, default=3, help="at least this many timed iterations (default: 3)")
    p.add_argument("--min-time", type=float, default=5.0, help="and at least this many seconds (default: 5)")
    p.add_argument("--prompts", type=int, default=5, help="prompts per prompt batch (default: 5)")
    p.add_argument("--frames", type=int, default=3, help="frames per video clip (default: 3)")
    add_threads(p)
    add_export_dir(p, default=None, help_extra="reuse it (one backbone) instead of exporting")
    p.add_argument("--out", type=Path, default=Path("runs/bench"), help="output folder (default: runs/bench)")
    served = p.add_argument_group("a Triton server under load (rapsam-serve) instead of the backends here")
    served.add_argument("--server", metavar="HOST:PORT", help="the server's gRPC address; --export-dir adds the same "
                        "requests run in this process; --task panoptic or prompt (default: both)")  # fmt: skip
    served.add_argument("--concurrency", type=csv, default=("1", "4", "8"), metavar="LIST",
                        help="clients at once, comma-separated (default: 1,4,8)")  # fmt: skip
    served.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default: 10)")
    served.add_argument("--model-prefix", default=DEFAULT_PREFIX, help=f"the repository's (default: {DEFAULT_PREFIX})")
    return p


def _load_test(args) -> int:
    from ..artifacts.files import check_writable
    from ..errors import RapSamError
    from ..serve.load import LOAD_TASKS, LoadConfig, load_test, markdown, write_load_report

    check_writable(args.out, "--out")

    try:
        concurrency = tuple(int(c) for c in args.concurrency)
    except ValueError as err:
        raise RapSamError(f"--concurrency {','.join(args.concurrency)}: whole numbers please", "e.g. 1,4,8") from err
    config = LoadConfig(
        server=args.server,
        prefix=args.model_prefix,
        tasks=LOAD_TASKS if args.task == "all" else (args.task,),
        concurrency=concurrency,
        duration_s=args.duration,
        export_dir=args.export_dir,
        threads=args.threads,
        out=args.out,
    )
    report = load_test(config, log=log_stderr)
    paths = write_load_report(report, args.out)
    print(markdown(report))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _figures(row: dict) -> list[str]:
    if row["status"] != "ok":
        return ["not run", "", row["reason"][:60]]
    return [f"{row['latency']['mean_ms']:.1f}", f"{row['fps']:.2f}", f"{row['fraction_of_peak']:.0%}"]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.server:
        return _load_test(args)
    from ..artifacts.files import check_writable
    from ..backends.select import COMPUTE_PRECISIONS
    from ..bench.report import pyplot, write_report
    from ..bench.runner import CPU_BACKENDS, GPU_BACKENDS, BenchConfig, run_bench
    from ..bench.tasks import TASKS
    from ..errors import RapSamError

    unknown = [b for b in args.backbones if b not in backbone_names()]
    if unknown:
        raise RapSamError(f"unknown backbone {unknown[0]!r}", f"use {', '.join(backbone_names())}")
    check_names("--backends", args.backends, CPU_BACKENDS + GPU_BACKENDS)
    check_names("--precision", args.precision, COMPUTE_PRECISIONS)
    if args.export_dir and len(args.backbones) != 1:
        raise RapSamError("--export-dir holds one backbone", "pass one --backbone with it")
    if any(s % SIZE_DIVISOR or s <= 0 for s in args.image_size):
        raise RapSamError(
            f"--image-size {args.image_size[0]} {args.image_size[1]}: positive multiples of 32 please",
            "e.g. --image-size 1024 1024",
        )
    check_at_least(args, {"batch": 1, "warmup": 0, "iters": 1, "min_time": 0, "prompts": 1, "frames": 1, "threads": 1})
    check_writable(args.out, "--out")
    config = BenchConfig(
        backbones=args.backbones,
        backends=args.backends,
        precisions=args.precision,
        tasks=TASKS if args.task == "all" else (args.task,),
        image_size=tuple(args.image_size),
        batch=args.batch,
        warmup=args.warmup,
        iters=args.iters,
        min_time_s=args.min_time,
        threads=args.threads,
        export_dirs={args.backbones[0]: args.export_dir} if args.export_dir else {},
        out=args.out,
        num_prompts=args.prompts,
        video_frames=args.frames,
    )
    pyplot()  # the charts' library, before minutes of measurements
    report = run_bench(config, log=log_stderr)
    paths = write_report(report, args.out)
    rows = [[r["backbone"], r["task"], r["backend"], r["precision"], *_figures(r)] for r in report["results"]]
    print(table(rows, ["backbone", "task", "backend", "precision", "mean ms", "FPS", "% peak / reason"]))
    for target in report["targets"]:
        verdict = "met" if target["met"] else "MISSED"
        print(f"target {target['target']}: {target['measured']} (want {target['want']}): {verdict}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


entry = entry_point(main)


if __name__ == "__main__":
    entry()
