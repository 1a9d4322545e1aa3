"""Every CPU form of the model beside fp32, by the precision gates and by speed: ONNX Runtime fp32,
fp16 and int8 (the exported graphs), OpenVINO fp32 and bf16 (bf16 only on CPUs with bf16
hardware), PyTorch fp32 for scale.

For each backbone and size it exports once (``--deform-conv decomposed``: OpenVINO cannot convert
ONNX DeformConv; fp32, fp16 and int8 graphs, not validated: this script measures), then for each
form:
- the task figures of its chain (encoder -> decoder -> adapters on two photos, 100 object
  queries, 5 prompts) against the PyTorch fp32 chain (``export.task_parity``), and the gates the
  export would hold the form to (trained weights: the issue's gates; random weights: fp32 forms on
  the means, reduced precision within the model's own response to 8-bit rounding noise);
- the time of the panoptic graphs (encoder, decoder, object adapter; batch 1, 100 queries),
  median of ``--iters`` after a warm-up, and its speed-up over ONNX Runtime fp32.

With ``--bf16-search`` it also tries OpenVINO bf16 with each graph kept in fp32 (OpenVINO decides
precision per compiled model), the policy's input. Writes ``report.json`` and ``report.md``::

    python benchmarks/cpu_precision.py --backbones r18,r50 --sizes 512,1024 --out runs/cpu-precision
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.backends.base import Backend
from rapsam_deploy.backends.openvino_backend import BF16_FP32_GRAPHS, OpenVinoBackend, bf16_supported
from rapsam_deploy.backends.select import create_backend
from rapsam_deploy.backends.torch_backend import model_from_export
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.export import export_model
from rapsam_deploy.export.reference_cases import photos, size_cases
from rapsam_deploy.export.task_parity import (
    GATES,
    QUANTISATION_NOISE,
    TASK_BATCH,
    TASK_PROMPTS,
    TASK_QUERIES,
    TaskParity,
    gates_for,
    task_parity,
    with_image_noise,
)
from rapsam_deploy.machine import cpu_label, machine
from rapsam_deploy.model import RapSam

FORMS = (
    ("onnxruntime", "fp32"),
    ("onnxruntime", "fp16"),
    ("onnxruntime", "int8"),
    ("openvino", "fp32"),
    ("openvino", "bf16"),
    ("torch", "fp32"),
)


def panoptic_ms(backend: Backend, export: ExportDir, iters: int) -> float:
    """Median wall time of encoder -> decoder -> object adapter on one photo with the object
    queries (the panoptic task's graphs), after one warm-up run."""
    image = photos(1, tuple(export.manifest.image["trace_size"]))
    queries = torch.from_numpy(export.object_queries())[None]
    mask = torch.zeros(queries.shape[1], queries.shape[1], dtype=torch.bool)

    def once() -> None:
        (features,) = backend.call(contract.ENCODER, image)
        kernels, masks, _, _ = backend.call(contract.DECODER, features, queries, mask)
        backend.call(contract.ADAPTER_OBJECT, features, kernels, masks)

    once()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure_form(
    export: ExportDir, model: RapSam, backend: Backend, form: str, reference, floor: TaskParity | None, iters: int
) -> dict:
    size = tuple(export.manifest.image["trace_size"])
    chain = (size, TASK_BATCH, TASK_QUERIES, TASK_PROMPTS)
    parity = task_parity(size_cases(model, *chain, run=backend.call), reference)
    gates, label = gates_for(model.info.trained, backend.info.precision, floor)
    return {
        "form": form,
        "backend": backend.info.name,
        "precision": backend.info.precision,
        "panoptic_graphs_ms": panoptic_ms(backend, export, iters),
        "gates": label,
        "misses": parity.misses(gates),
        **parity.as_dict(),
    }


def run_config(backbone: str, size: int, out: Path, iters: int, bf16_search: bool, threads: int, log) -> dict:
    directory = out / "exports" / f"{backbone}-{size}"
    log(f"{backbone} {size}x{size}: exporting fp32, fp16, int8 (decomposed deformable convolution) ...")
    export_model(
        backbone=backbone,
        output=directory,
        image_size=(size, size),
        precisions=("fp32", "fp16", "int8"),
        deform_conv="decomposed",
        validate=False,
        force=True,
        log=lambda line: None,
    )
    export = ExportDir.open(directory)
    model = model_from_export(export)
    chain = ((size, size), TASK_BATCH, TASK_QUERIES, TASK_PROMPTS)
    reference = size_cases(model, *chain)
    floor = task_parity(size_cases(with_image_noise(model, QUANTISATION_NOISE), *chain), reference)
    log(f"  noise floor ({QUANTISATION_NOISE} gray levels): IoU mean {floor.mask_iou_mean:.4f}")
    rows = []
    for name, precision in FORMS:
        try:
            backend = create_backend(name, export, precision, threads=threads)
        except RapSamError as err:
            rows.append({"form": f"{name}/{precision}", "not_run": str(err).splitlines()[0]})
            log(f"  {name} {precision}: not run ({rows[-1]['not_run']})")
            continue
        rows.append(measure_form(export, model, backend, f"{name}/{precision}", reference, floor, iters))
        log(f"  {name} {precision}: {rows[-1]['panoptic_graphs_ms']:.0f} ms, misses {rows[-1]['misses']}")
    if bf16_search and bf16_supported():
        for graph in contract.GRAPHS:
            if graph.name in BF16_FP32_GRAPHS:
                continue
            keep = (*BF16_FP32_GRAPHS, graph.name)
            backend = OpenVinoBackend(export, "bf16", threads=threads, fp32_graphs=keep)
            row = measure_form(export, model, backend, "openvino/bf16", reference, floor, iters)
            rows.append(row | {"form": f"openvino/bf16, fp32: {', '.join(keep)}", "search": True})
            log(f"  {rows[-1]['form']}: {row['panoptic_graphs_ms']:.0f} ms, misses {row['misses']}")
    return {"backbone": backbone, "size": size, "label": export.label, "floor": floor.as_dict(), "forms": rows}


def markdown(report: dict) -> str:
    info = report["machine"]
    lines = [
        "# CPU precision forms: gates and speed",
        "",
        f"Machine: {cpu_label(info)}, {info['cores']} cores, {report['threads']} threads; torch "
        f"{info['versions'].get('torch')}, onnxruntime {info['versions'].get('onnxruntime')}, openvino "
        f"{report['openvino']}; commit {info['git_commit']}; {report['created']}.",
        f"Command: `{report['command']}`.",
        "",
        f"Gates (the issue's, against PyTorch fp32): mask IoU mean >= {GATES.mask_iou_mean}, min >= "
        f"{GATES.mask_iou_min}, class agreement >= {GATES.class_agreement}, prompt IoU >= {GATES.prompt_iou_mean}. "
        "Random weights: fp32 forms are held to them on the means; reduced precision to the model's own response "
        f"to {QUANTISATION_NOISE} gray levels of noise (the floor row), as the export holds them. Time: encoder + "
        "decoder + object adapter, batch 1, 100 queries, median.",
        "",
    ]
    for config in report["configs"]:
        fp32 = next((r for r in config["forms"] if r["form"] == "onnxruntime/fp32" and "misses" in r), None)
        lines += [f"## {config['backbone']} at {config['size']}x{config['size']} ({config['label']})", ""]
        floor = config["floor"]
        lines += [
            f"Noise floor: mask IoU mean {floor['mask_iou_mean']:.4f}, min {floor['mask_iou_min']:.4f}, class "
            f"{floor['class_agreement']:.4f}, prompt IoU {floor['prompt_iou_mean']:.4f}.",
            "",
            "| form | ms | x onnxruntime fp32 | mask IoU mean | min | class | prompt IoU | gates | verdict |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        for r in config["forms"]:
            if "not_run" in r:
                lines.append(f"| {r['form']} | not run: {r['not_run']} |||||||| ")
                continue
            ratio = f"{fp32['panoptic_graphs_ms'] / r['panoptic_graphs_ms']:.2f}x" if fp32 else "-"
            verdict = "passes" if not r["misses"] else "misses: " + "; ".join(r["misses"])
            lines.append(
                f"| {r['form']} | {r['panoptic_graphs_ms']:.0f} | {ratio} | {r['mask_iou_mean']:.4f} | "
                f"{r['mask_iou_min']:.4f} | {r['class_agreement']:.4f} | {r['prompt_iou_mean']:.4f} | {r['gates']} | "
                f"{verdict} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbones", default="r18", help="comma-separated (default: r18)")
    p.add_argument("--sizes", default="512,1024", help="square sizes, comma-separated (default: 512,1024)")
    p.add_argument("--iters", type=int, default=5, help="timed runs per form (default: 5)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default: 2)")
    p.add_argument("--bf16-search", action="store_true", help="also OpenVINO bf16 with each graph kept fp32")
    p.add_argument("--out", type=Path, default=Path("runs/cpu-precision"))
    args = p.parse_args(argv)
    import openvino

    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv),
        "machine": machine(args.threads),
        "threads": args.threads,
        "openvino": openvino.__version__.split("-")[0],
        "configs": [],
    }
    for backbone in args.backbones.split(","):
        for size in map(int, args.sizes.split(",")):
            report["configs"].append(
                run_config(backbone, size, args.out, args.iters, args.bf16_search, args.threads, print)
            )
            (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
            (args.out / "report.md").write_text(markdown(report) + "\n")
    print(f"wrote {args.out}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
