"""Per-image (per-video) agreement of two backends' results on the same input: 1.0 is the same
result; used beside the metric difference when ``--compare-to`` runs a second backend."""

from __future__ import annotations

import numpy as np

from ..parity import mask_iou
from .panoptic_quality import Segmentation, image_stats


def panoptic_agreement(ours: Segmentation, reference: Segmentation) -> dict[str, float]:
    """``segments``: segments that match (same category, IoU > 0.5, as PQ matches them) over the
    larger segment count; ``pixels``: pixels given the same category (or void by both)."""
    matched = sum(s.tp for s in image_stats(reference, ours).values())
    total = max(len(ours.categories), len(reference.categories))
    return {
        "segments": matched / total if total else 1.0,
        "pixels": float(np.mean(ours.category_map() == reference.category_map())),
    }


def prompt_agreement(ours: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """``mask_iou``: mean IoU of the two masks [M,H,W] each prompt gave (1.0 without prompts)."""
    ious = [mask_iou(a, b) for a, b in zip(ours, reference, strict=True)]
    return {"mask_iou": float(np.mean(ious)) if ious else 1.0}


def track_agreement(iou: np.ndarray, ours: list[int], reference: list[int], scores: list[float]) -> dict[str, float]:
    """``tracks``: tracks matched one to one (same category, spatio-temporal IoU > 0.5, ours best
    score first) over the larger track count, from ``iou`` [ours, reference] and categories."""
    total = max(len(ours), len(reference))
    if total == 0:
        return {"tracks": 1.0}
    taken, matched = set(), 0
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        candidates = [j for j in range(len(reference)) if j not in taken and reference[j] == ours[i]]
        best = max(candidates, key=lambda j: iou[i, j], default=None)
        if best is not None and iou[i, best] > 0.5:
            taken.add(best)
            matched += 1
    return {"tracks": matched / total}
