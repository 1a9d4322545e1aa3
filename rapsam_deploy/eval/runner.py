"""Runs one task over a dataset with a backend, and with ``compare_to`` a second backend on the
same inputs, and collects the report (metrics, their difference, per-sample agreement)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..artifacts import contract
from ..artifacts.export_dir import ExportDir
from ..errors import RapSamError
from ..machine import machine
from ..predict.preprocess import COCO_SCALE, YOUTUBE_VIS_SCALE, ResizePolicy
from ..predict.runtime import Runtime, load
from ..progress import Log
from .coco_instances import CocoInstances
from .coco_panoptic import CocoPanoptic
from .data import find_annotations
from .panoptic_eval import PanopticEval
from .prompt_eval import PromptEval
from .prompts import PROMPT_MODES
from .task import EvalTask
from .video_eval import VideoEval
from .youtube_vis import YouTubeVIS

TASKS = ("panoptic", "prompt", "video")
# The acceptance: an engine within 0.1 (percentage points) of PyTorch on every metric.
DEFAULT_TOLERANCE = 0.1


@dataclass
class EvalConfig:
    """What ``rapsam-eval`` evaluates; ``resize`` None is the task's official test size."""

    task: str
    data: Path
    export_dir: Path = Path("exports/r18")
    backend: str = "auto"
    compare_to: str | None = None
    precision: str = "fp32"
    variant: str = "standard"
    threads: int | None = None
    images: Path | None = None
    panoptic_masks: Path | None = None
    resize: ResizePolicy | None = None
    prompt: str = "center"
    seed: int = 0
    limit: int | None = None
    clip_size: int | None = None
    stride: int | None = None
    tolerance: float = DEFAULT_TOLERANCE
    progress: bool = True

    def __post_init__(self) -> None:
        """Settings that cannot work are refused before any data is read."""
        if self.task not in TASKS:
            raise RapSamError(f"unknown task {self.task!r}", f"use one of {', '.join(TASKS)}")
        if self.prompt not in PROMPT_MODES:
            raise RapSamError(f"unknown prompt mode {self.prompt!r}", f"use one of {', '.join(PROMPT_MODES)}")


def open_dataset(config: EvalConfig) -> CocoPanoptic | CocoInstances | YouTubeVIS:
    """The task's dataset from ``--data``; for prompts, a JSON named panoptic_* is read as COCO
    panoptic (the official protocol), any other as COCO instances."""
    annotations = find_annotations(config.data, config.task)
    if config.task == "video":
        dataset = YouTubeVIS(annotations, config.images, config.limit)
    elif config.task == "panoptic" or "panoptic" in annotations.name:
        dataset = CocoPanoptic(annotations, config.images, config.panoptic_masks, config.limit)
    else:
        dataset = CocoInstances(annotations, config.images, config.limit)
    if not dataset.samples:
        raise RapSamError(f"{annotations} has nothing to evaluate for the {config.task} task", "check --data")
    return dataset


def make_task(config: EvalConfig, dataset, runtimes: list[Runtime]) -> EvalTask:
    if config.task == "video":
        resize = config.resize or ResizePolicy(YOUTUBE_VIS_SCALE)
        return VideoEval(dataset, runtimes, resize, config.clip_size, config.stride)
    resize = config.resize or ResizePolicy(COCO_SCALE)
    if config.task == "panoptic":
        return PanopticEval(dataset, runtimes, resize)
    return PromptEval(dataset, runtimes, resize, config.prompt, config.seed)


def load_runtimes(config: EvalConfig) -> list[Runtime]:
    """The backend evaluated, and the reference it is compared to (fp32, standard graphs)."""
    export = ExportDir.open(config.export_dir)
    runtimes = [load(export, config.backend, config.precision, config.variant, config.threads)]
    if config.compare_to:
        reference = (contract.DEFAULT_PRECISION, contract.DEFAULT_VARIANT)
        runtimes.append(load(export, config.compare_to, *reference, config.threads))
    return runtimes


def percent(value):
    """Fractions (floats, in nested dicts) -> percentage points; counts (ints) and None unchanged."""
    if isinstance(value, dict):
        return {k: percent(v) for k, v in value.items()}
    return value * 100 if isinstance(value, float) else value


def compare(headline: tuple[str, ...], ours: dict, reference: dict, tolerance: float) -> dict:
    """Absolute difference per headline metric (points) and whether every one is within
    ``tolerance``; a metric that only one backend has (e.g. no detection at all) disagrees."""
    differences, one_sided = {}, []
    for key in headline:
        a, b = ours.get(key), reference.get(key)
        differences[key] = None if a is None or b is None else abs(a - b)
        if (a is None) != (b is None):
            one_sided.append(key)
    largest = max((d for d in differences.values() if d is not None), default=0.0)
    return {"differences": differences, "max_difference": largest, "tolerance": tolerance,
            "only_one_backend": one_sided, "agree": largest <= tolerance and not one_sided}  # fmt: skip


def agreement_summary(records: list[dict], worst: int = 5) -> dict:
    """Per agreement measure: mean, minimum and the samples that agree least (of those that had
    something to compare: an image without objects has no prompt)."""
    compared = [r for r in records if "agreement" in r]
    summary = {}
    for key in compared[0]["agreement"] if compared else ():
        values = [(r["agreement"][key], r["file"]) for r in compared]
        ordered = sorted(values, key=lambda v: v[0])
        summary[key] = {"mean": sum(v for v, _ in values) / len(values), "min": ordered[0][0],
                        "least": [{"file": f, "value": v} for v, f in ordered[:worst]]}  # fmt: skip
    return summary


def run_eval(config: EvalConfig, log: Log = print, runtimes: list[Runtime] | None = None) -> dict:
    """Evaluate; returns the report (``report.json`` content, metrics in percentage points).
    ``runtimes`` (the backend, and the reference if any) replaces loading them from ``config``."""
    dataset = open_dataset(config)
    runtimes = runtimes or load_runtimes(config)
    task = make_task(config, dataset, runtimes)
    log(f"{config.task}: {len(dataset.samples)} of {dataset.total} samples of {dataset.annotations}")
    log(f"categories: {len(task.category_map.to_dataset)} of {len(dataset.categories)} mapped by "
        f"{task.category_map.method}; backends: {', '.join(r.backend.info.label for r in runtimes)}")  # fmt: skip
    unit = "video" if config.task == "video" else "image"
    progress = tqdm(dataset.samples, desc=f"{config.task} eval", unit=unit, disable=not config.progress)
    records = [task.evaluate(index, sample) for index, sample in enumerate(progress)]
    metrics = [percent(m) for m in task.metrics()]
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(config.threads or torch.get_num_threads()),
        "task": config.task,
        "headline": list(task.headline),
        "data": {"annotations": str(dataset.annotations), "images": str(dataset.images),
                 "evaluated": len(dataset.samples), "total": dataset.total, "categories": len(dataset.categories)},
        "model": {"export_dir": str(config.export_dir), "label": runtimes[0].label,
                  "trained": bool(runtimes[0].export.manifest.model.get("trained")),
                  "vocabulary": runtimes[0].vocabulary.name},
        "category_map": task.category_map.to_json(),
        "protocol": task.protocol(),
        "backends": [
            {"label": r.backend.info.label, "name": r.backend.info.name, "precision": r.backend.info.precision,
             "metrics": m, "seconds_per_sample": s / len(records)}
            for r, m, s in zip(runtimes, metrics, task.seconds, strict=True)
        ],
        "samples": records,
    }  # fmt: skip
    if len(runtimes) == 2:
        report["comparison"] = compare(task.headline, metrics[0], metrics[1], config.tolerance)
        report["comparison"]["agreement"] = agreement_summary(records)
    return report
