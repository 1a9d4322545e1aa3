"""``report.json`` and ``report.md`` of an evaluation, in the style of ``rapsam-bench``'s."""

from __future__ import annotations

import json
from pathlib import Path

from ..artifacts.files import write_atomic

LABELS = {
    "pq": "PQ", "sq": "SQ", "rq": "RQ", "pq_things": "PQ things", "sq_things": "SQ things", "rq_things": "RQ things",
    "pq_stuff": "PQ stuff", "sq_stuff": "SQ stuff", "rq_stuff": "RQ stuff", "miou": "mIoU",
    "miou_small": "mIoU small", "miou_medium": "mIoU medium", "miou_large": "mIoU large", "ap": "AP", "ap50": "AP50",
    "ap75": "AP75", "ap_small": "AP small", "ap_medium": "AP medium", "ap_large": "AP large", "ar1": "AR@1",
    "ar10": "AR@10", "ar100": "AR@100", "ar_small": "AR small", "ar_medium": "AR medium", "ar_large": "AR large",
    "iou_above_0.5": "objects with IoU >= 0.5", "iou_above_0.8": "objects with IoU >= 0.8",
    "iou_above_0.9": "objects with IoU >= 0.9",
}  # fmt: skip


def _value(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _setting(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _metric_rows(report: dict) -> list[str]:
    backends = report["backends"]
    comparison = report.get("comparison", {})
    keys = [k for k, v in backends[0]["metrics"].items() if not isinstance(v, dict)]
    header = ["metric", *(b["label"] for b in backends)] + (["difference"] if comparison else [])
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    for key in keys:
        row = [LABELS.get(key, key.replace("_", " ")), *(_value(b["metrics"].get(key)) for b in backends)]
        if comparison:
            row.append(_value(comparison["differences"].get(key)) if key in comparison["differences"] else "")
        lines.append("| " + " | ".join(row) + " |")
    unit = "video" if report["task"] == "video" else "image"
    seconds = [f"{b['seconds_per_sample']:.2f}" for b in backends]
    lines.append(f"| seconds per {unit} | " + " | ".join(seconds) + (" | |" if comparison else " |"))
    return lines


def _verdict(report: dict) -> list[str]:
    comparison = report["comparison"]
    ours, reference = (b["label"] for b in report["backends"])
    tolerance = comparison["tolerance"]
    if comparison["agree"]:
        text = (f"**{ours} agrees with {reference}**: every headline metric within {tolerance} points "
                f"(largest difference {comparison['max_difference']:.2f}).")  # fmt: skip
    else:
        one_sided = comparison["only_one_backend"]
        extra = f"; only one backend has {', '.join(one_sided)}" if one_sided else ""
        text = (f"**{ours} DIFFERS from {reference}**: largest difference {comparison['max_difference']:.2f} "
                f"points, tolerance {tolerance}{extra}.")  # fmt: skip
    lines = [text, "", f"## Per-{'video' if report['task'] == 'video' else 'image'} agreement", ""]
    lines += ["| measure | mean | min | least agreeing |", "| --- | ---: | ---: | --- |"]
    for measure, row in comparison["agreement"].items():
        least = ", ".join(f"{item['file']} {item['value']:.4f}" for item in row["least"])
        lines.append(f"| {measure.replace('_', ' ')} | {row['mean']:.4f} | {row['min']:.4f} | {least} |")
    return lines


def markdown(report: dict) -> str:
    machine, data, model, mapping = report["machine"], report["data"], report["model"], report["category_map"]
    gpu = machine["gpu"]["name"] if machine["gpu"] else "none"
    unpredictable = mapping["unpredictable"]
    lines = [
        f"# rapsam-eval report: {report['task']}",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, GPU: {gpu}; torch {machine['versions'].get('torch')}, "
        f"onnxruntime {machine['versions'].get('onnxruntime', '-')}; commit {machine['git_commit'] or 'unknown'}; "
        f"{report['created']}.",
        f"Model: {model['label']} ({model['export_dir']}), vocabulary {model['vocabulary']}.",
        f"Data: {data['annotations']} ({data['images']}): {data['evaluated']} of {data['total']} "
        f"{'videos' if report['task'] == 'video' else 'images'}, {data['categories']} categories, "
        f"{mapping['mapped']} of them mapped to model classes by {mapping['method']}"
        + (f" ({len(unpredictable)} the model cannot predict: {', '.join(unpredictable[:20])}"
           f"{', ...' if len(unpredictable) > 20 else ''})" if unpredictable else "") + ".",
        "Protocol: " + "; ".join(f"{k.replace('_', ' ')} {_setting(v)}" for k, v in report["protocol"].items()) + ".",
        "",
        "## Metrics (percent)",
        "",
        *_metric_rows(report),
        "",
    ]  # fmt: skip
    if "comparison" in report:
        lines += [*_verdict(report), ""]
    if not model["trained"]:
        lines += ["Weights are random (untrained): the metrics say nothing of RAP-SAM's accuracy; only the agreement "
                  "between backends means something.", ""]  # fmt: skip
    return "\n".join(lines)


def write_report(report: dict, out: Path) -> list[Path]:
    """Write report.json and report.md into ``out``; returns their paths."""
    paths = [out / "report.json", out / "report.md"]
    write_atomic(paths[0], (json.dumps(report, indent=1, default=str) + "\n").encode())
    write_atomic(paths[1], markdown(report).encode())
    return paths
