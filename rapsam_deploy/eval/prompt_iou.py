"""Prompt segmentation accuracy as the official COCO-SAM evaluation (``InteractiveEvaluator``)
reports it: the mean IoU over every prompted object, here also by COCO object size (area at the
original size: small < 32^2 <= medium < 96^2 <= large) and the fraction of objects above IoU
thresholds (the official NoC@t with one click is 1 + 19 x the fraction below t)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIZES = {"small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, float("inf"))}
IOU_LEVELS = (0.5, 0.8, 0.9)


@dataclass
class PromptIoU:
    """Accumulates (IoU, object area) pairs; :meth:`compute` gives mIoU overall and by size."""

    ious: list[float] = field(default_factory=list)
    areas: list[int] = field(default_factory=list)

    def add(self, ious: np.ndarray, areas: np.ndarray) -> None:
        """One image: the IoU [M] of each object's predicted mask and the object's area [M]."""
        self.ious += [float(v) for v in ious]
        self.areas += [int(v) for v in areas]

    def compute(self) -> dict[str, float | int | None]:
        """Fractions (``None`` where no object counts) and the object counts."""
        ious, areas = np.asarray(self.ious, dtype=np.float64), np.asarray(self.areas)
        result: dict[str, float | int | None] = {"miou": float(ious.mean()) if len(ious) else None}
        for size, (low, high) in SIZES.items():
            chosen = ious[(areas >= low) & (areas < high)]
            result[f"miou_{size}"] = float(chosen.mean()) if len(chosen) else None
            result[f"objects_{size}"] = len(chosen)
        for level in IOU_LEVELS:
            result[f"iou_above_{level}"] = float((ious >= level).mean()) if len(ious) else None
        result["objects"] = len(ious)
        return result
