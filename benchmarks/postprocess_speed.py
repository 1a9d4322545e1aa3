"""Post-processing's speed (the panoptic merge and the instances of one image, as the panoptic
predictor makes them) on real model outputs: in Python with each kernel of the per-pixel half
(torch, and librapsam's fused loops), and in C++ (``rapsam::segment`` through
``build/bin/rapsam_postprocess_bench``). The two Python kernels run alternately so that a busy
machine slows both alike, and their results are compared pixel for pixel. Needs an export and
the native build (``bash .ci/build_plugins.sh``)::

    python benchmarks/postprocess_speed.py --export-dir exports/r18 --threads 2 --out runs/postprocess-speed
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch
from report_files import write_report

from rapsam_deploy.machine import cpu_label, machine
from rapsam_deploy.predict import postprocess
from rapsam_deploy.predict.panoptic import PanopticPredictor
from rapsam_deploy.predict.preprocess import COCO_SCALE, ImageMeta, ResizePolicy
from rapsam_deploy.predict.runtime import load

ROOT = Path(__file__).resolve().parents[1]
CPP_BENCH = ROOT / "build" / "bin" / "rapsam_postprocess_bench"
KERNELS = ("torch", "native")


@dataclass
class Case:
    """A photo and the resize the predictor gives it."""

    name: str
    image: np.ndarray
    resize: ResizePolicy


def cases() -> list[Case]:
    """The bench's setting (a 1024x1024 photo, kept at its size), a COCO-sized photo through the
    COCO test resize (upsampled, then masks downsampled to the original), and a large photo
    (masks upsampled to 2048x2048)."""
    astronaut = skimage.data.astronaut()
    return [
        Case(
            "1024x1024 photo, long side 1024 (rapsam-bench)",
            cv2.resize(astronaut, (1024, 1024)),
            ResizePolicy(long_side=1024),
        ),
        Case("400x600 photo, COCO resize to 800x1200", skimage.data.coffee(), ResizePolicy(COCO_SCALE)),
        Case("2048x2048 photo, COCO resize to 800x800", cv2.resize(astronaut, (2048, 2048)), ResizePolicy(COCO_SCALE)),
    ]


def segment(kernel: str, classes: torch.Tensor, masks: torch.Tensor, meta: ImageMeta, num_things: int):
    os.environ[postprocess.POSTPROCESS_ENV] = kernel
    return postprocess.segment(classes, masks, meta, num_things, postprocess.PanopticConfig())


def time_python(classes, masks, meta, num_things, iters: int) -> dict[str, list[float]]:
    """Milliseconds of each kernel, alternating, after one warm-up each."""
    times = {k: [] for k in KERNELS}
    for k in KERNELS:
        segment(k, classes, masks, meta, num_things)
    for _ in range(iters):
        for k in KERNELS:
            start = time.perf_counter()
            segment(k, classes, masks, meta, num_things)
            times[k].append((time.perf_counter() - start) * 1e3)
    return times


def compare(classes, masks, meta, num_things) -> dict:
    """Where the native kernel's results differ from torch's (0 everywhere expected; a pixel at
    a near-tie of float32 exp may differ)."""
    (pan_t, ins_t), (pan_n, ins_n) = (segment(k, classes, masks, meta, num_things) for k in KERNELS)
    same_shape = ins_t.masks.shape == ins_n.masks.shape
    return {
        "id_map_pixels_differ": int((pan_t.id_map != pan_n.id_map).sum()),
        "segments": len(pan_t.segments),
        "instances": len(ins_t),
        "instance_mask_pixels_differ": int((ins_t.masks != ins_n.masks).sum()) if same_shape else -1,
        "instance_scores_max_rel": float(np.max(np.abs(ins_t.scores - ins_n.scores) / np.maximum(ins_t.scores, 1e-12)))
        if same_shape and len(ins_t)
        else 0.0,
    }


def time_cpp(classes, masks, meta: ImageMeta, num_things: int, iters: int, threads: int) -> dict | None:
    if not CPP_BENCH.is_file():
        return None
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "classes.npy", classes.float().numpy())
        np.save(Path(folder) / "masks.npy", masks.float().contiguous().numpy())
        sizes = [*meta.ori_shape, *meta.img_shape, *meta.pad_shape, num_things]
        np.save(Path(folder) / "meta.npy", np.asarray(sizes, dtype=np.int32))
        out = subprocess.run(
            [str(CPP_BENCH), folder, str(iters), str(threads)], capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--export-dir", required=True)
    p.add_argument("--backend", default="onnxruntime", help="what makes the model outputs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("runs/postprocess-speed"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    runtime = load(args.export_dir, args.backend, threads=args.threads)
    num_things = runtime.vocabulary.num_things
    rows = []
    for case in cases():
        predictor = PanopticPredictor(runtime, case.resize)
        batch, metas = predictor.prepare(case.image)
        outputs = predictor.infer(batch)
        classes, masks, meta = outputs.class_logits[0], outputs.mask_logits[0], metas[0]
        python = time_python(classes, masks, meta, num_things, args.iters)
        cpp = time_cpp(classes, masks, meta, num_things, args.iters, args.threads)
        rows.append(
            {
                "case": case.name,
                "meta": {"original": meta.ori_shape, "resized": meta.img_shape, "padded": meta.pad_shape},
                "python_ms": python,
                "cpp_ms": cpp["ms"] if cpp else None,
                "results": compare(classes, masks, meta, num_things),
            }
        )
        print(
            f"{case.name}: torch {median(python['torch']):.0f} ms, native {median(python['native']):.0f} ms", flush=True
        )
    report = {
        "model": runtime.label,
        "backend": args.backend,
        "threads": args.threads,
        "iters": args.iters,
        "machine": cpu_label(machine(args.threads)),
        "rows": rows,
    }
    write_report(args.out, report, markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# Post-processing speed",
        "",
        f"{report['machine']}, {report['threads']} threads; model outputs from {report['backend']} "
        f"({report['model']}). Median of {report['iters']} runs (the two Python kernels alternate). "
        "Panoptic merge and top-100 instances of one image, as `PanopticPredictor` makes them.",
        "",
        "| case | Python, torch kernel | Python, native kernel | C++ `rapsam::segment` | speed-up (Python) "
        "| segments / instances | pixels that differ (id map, masks) |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in report["rows"]:
        torch_ms, native_ms = median(r["python_ms"]["torch"]), median(r["python_ms"]["native"])
        cpp = f"{median(r['cpp_ms']):.0f} ms" if r["cpp_ms"] else "not built"
        res = r["results"]
        differ = f"{res['id_map_pixels_differ']}, {res['instance_mask_pixels_differ']}"
        lines.append(
            f"| {r['case']} | {torch_ms:.0f} ms | {native_ms:.0f} ms | {cpp} | {torch_ms / native_ms:.1f}x | "
            f"{res['segments']} / {res['instances']} | {differ} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
