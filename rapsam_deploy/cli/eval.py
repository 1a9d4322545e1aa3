"""``rapsam-eval``: task accuracy of an export on a backend (COCO panoptic PQ, COCO-SAM prompt mIoU,
YouTube-VIS video AP), optionally against a second backend on the same inputs; writes report.json
and report.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..progress import log_stderr
from .common import command_parser, entry_point, table
from .options import add_runtime_options, check_at_least

EPILOG = """examples:
  rapsam-eval --task panoptic --data data/coco --backend onnxruntime --compare-to torch --limit 50
  rapsam-eval --task prompt --data data/coco/annotations/panoptic_val2017.json --prompt center
  rapsam-eval --task video --data data/youtube_vis_2019/annotations/youtube_vis_2019_train.json --limit 10

--data is an annotation JSON or a dataset root in its official layout (coco/annotations/panoptic_val2017.json
with the PNGs in coco/annotations/panoptic_val2017/ and the images in coco/val2017/; youtube_vis_2019/annotations/
youtube_vis_2019_train.json with the frames in youtube_vis_2019/train/JPEGImages/). Metrics are in percent;
--tolerance is in percentage points.
"""


def parser() -> argparse.ArgumentParser:
    from ..backends.select import BACKENDS
    from ..eval.prompts import PROMPT_MODES
    from ..eval.runner import DEFAULT_TOLERANCE, TASKS

    p = command_parser("rapsam-eval", __doc__, EPILOG)
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--data", type=Path, required=True, help="annotation JSON, or the dataset's root folder")
    p.add_argument("--images", type=Path, help="image folder (default: from the official layout)")
    p.add_argument("--panoptic-masks", type=Path, help="COCO-panoptic PNG folder (default: the JSON's name)")
    add_runtime_options(p)
    p.add_argument("--compare-to", choices=BACKENDS, help="also run this backend (fp32) on the same inputs and compare")
    p.add_argument(
        "--resize",
        metavar="coco|ytvis|long:N",
        help="coco: fit 1333x800, ytvis: fit 1280x736, long:N (default: the task's official test size)",
    )
    p.add_argument("--prompt", choices=PROMPT_MODES, default="center",
                   help="prompt from each object: center (official: the point farthest inside the mask), box, or "
                        "random (a seeded point inside the mask) (default: center)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of --prompt random (default: 0)")
    p.add_argument("--limit", type=int, help="evaluate only the first N images or videos")
    p.add_argument("--clip-size", type=int, help="video: frames per clip T (default: 5, or 3 up to 15 frames)")
    p.add_argument("--stride", type=int, help="video: frames between clip starts (default: T, no overlap)")
    p.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"largest metric difference (points) that counts as agreement (default: {DEFAULT_TOLERANCE})",
    )
    p.add_argument("--out", type=Path, default=Path("runs/eval"), help="output folder (default: runs/eval)")
    return p


def _summary(report: dict) -> str:
    backends = report["backends"]
    comparison = report.get("comparison")
    rows = []
    for key in report["headline"]:
        row = [key, *(_format(b["metrics"].get(key)) for b in backends)]
        if comparison:
            row.append(_format(comparison["differences"][key]))
        rows.append(row)
    header = ["metric (%)", *(f"{b['name']} {b['precision']}" for b in backends)]
    header += ["difference"] if comparison else []
    return table(rows, header)


def _format(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from ..artifacts.files import check_writable
    from ..eval.report import write_report
    from ..eval.runner import EvalConfig, run_eval
    from ..predict.preprocess import parse_resize

    check_at_least(args, {"threads": 1, "limit": 1, "clip_size": 1, "stride": 1, "tolerance": 0})
    check_writable(args.out, "--out")
    config = EvalConfig(
        task=args.task,
        data=args.data,
        export_dir=args.export_dir,
        backend=args.backend,
        compare_to=args.compare_to,
        precision=args.precision,
        variant=args.variant,
        threads=args.threads,
        images=args.images,
        panoptic_masks=args.panoptic_masks,
        resize=parse_resize(args.resize, video=args.task == "video") if args.resize else None,
        prompt=args.prompt,
        seed=args.seed,
        limit=args.limit,
        clip_size=args.clip_size,
        stride=args.stride,
        tolerance=args.tolerance,
    )
    report = run_eval(config, log=log_stderr)
    paths = write_report(report, args.out)
    print(_summary(report))
    if "comparison" in report:
        comparison = report["comparison"]
        verdict = "agree" if comparison["agree"] else "DIFFER"
        names = " and ".join(f"{b['name']} {b['precision']}" for b in report["backends"])
        print(f"{names} {verdict}: largest difference {comparison['max_difference']:.2f} points "
              f"(tolerance {comparison['tolerance']})")  # fmt: skip
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


entry = entry_point(main)


if __name__ == "__main__":
    entry()
