"""Panoptic quality as the COCO panoptic API (``panopticapi.evaluation.pq_compute``) computes it.

Per image, a predicted and a ground-truth segment of the same category match when their IoU is
above 0.5, where the union leaves out the predicted pixels that are void (unlabelled) in the
ground truth. Unmatched ground truth counts as a false negative unless it is a crowd region;
unmatched predictions count as false positives unless more than half of them lies on void or on a
crowd region of their category. Per category PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP,
RQ = TP / (TP + FP/2 + FN/2); PQ, SQ and RQ are their means over the categories that occur (TP +
FP + FN > 0), for all categories, things and stuff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .categories import Category

MATCH_IOU = 0.5
IGNORED_FRACTION = 0.5


@dataclass(frozen=True)
class Segmentation:
    """One image's panoptic segmentation: ``id_map`` [H,W] int (0 = void), each segment's dataset
    category id, and which segments are crowd regions (ground truth only)."""

    id_map: np.ndarray
    categories: dict[int, int]
    crowd: frozenset[int] = frozenset()

    def category_map(self) -> np.ndarray:
        """[H,W] int64: each pixel's category id, 0 for void."""
        lookup = {0: 0, **self.categories}
        ids, inverse = np.unique(self.id_map, return_inverse=True)
        return np.array([lookup.get(int(i), 0) for i in ids], dtype=np.int64)[inverse].reshape(self.id_map.shape)


@dataclass
class CategoryStat:
    """Sums over images for one category."""

    iou: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: CategoryStat) -> None:
        self.iou += other.iou
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn


def _overlaps(truth: np.ndarray, pred: np.ndarray) -> dict[tuple[int, int], int]:
    """(truth id, predicted id) -> pixels, for every pair that shares a pixel."""
    base = int(pred.max()) + 1
    pairs, counts = np.unique(truth.astype(np.int64) * base + pred, return_counts=True)
    return {(int(p // base), int(p % base)): int(c) for p, c in zip(pairs, counts, strict=True)}


def image_stats(truth: Segmentation, pred: Segmentation) -> dict[int, CategoryStat]:
    """One image's TP/FP/FN and matched IoU sum per category (module docstring)."""
    stats: dict[int, CategoryStat] = {}
    overlaps = _overlaps(truth.id_map, pred.id_map)
    # Every pixel is in one pair, so the segments' areas are sums of the overlaps.
    truth_area, pred_area = dict.fromkeys(truth.categories, 0), dict.fromkeys(pred.categories, 0)
    for (t, p), pixels in overlaps.items():
        if t in truth_area:
            truth_area[t] += pixels
        if p in pred_area:
            pred_area[p] += pixels
    pred_area = {i: a for i, a in pred_area.items() if a > 0}
    matched_truth, matched_pred = set(), set()
    for (t, p), pixels in overlaps.items():
        if t not in truth.categories or p not in pred_area or t in truth.crowd:
            continue
        if truth.categories[t] != pred.categories[p]:
            continue
        union = pred_area[p] + truth_area[t] - pixels - overlaps.get((0, p), 0)
        iou = pixels / union
        if iou > MATCH_IOU:
            stat = stats.setdefault(truth.categories[t], CategoryStat())
            stat.tp += 1
            stat.iou += iou
            matched_truth.add(t)
            matched_pred.add(p)
    crowd_of = {truth.categories[t]: t for t in truth.crowd}
    for t, category in truth.categories.items():
        if t not in matched_truth and t not in truth.crowd:
            stats.setdefault(category, CategoryStat()).fn += 1
    for p, area in pred_area.items():
        if p in matched_pred:
            continue
        category = pred.categories[p]
        ignored = overlaps.get((0, p), 0)
        if category in crowd_of:
            ignored += overlaps.get((crowd_of[category], p), 0)
        if ignored / area <= IGNORED_FRACTION:
            stats.setdefault(category, CategoryStat()).fp += 1
    return stats


def summarise(stats: dict[int, CategoryStat], categories: Sequence[Category]) -> dict:
    """PQ, SQ, RQ (fractions) and the number of categories averaged, for all, things and stuff,
    and per category name; ``None`` where no category occurs."""
    per_class, groups = {}, {"all": [], "things": [], "stuff": []}
    for category in categories:
        stat = stats.get(category.id)
        if stat is None or stat.tp + stat.fp + stat.fn == 0:
            continue
        denominator = stat.tp + 0.5 * stat.fp + 0.5 * stat.fn
        values = {"pq": stat.iou / denominator, "sq": stat.iou / stat.tp if stat.tp else 0.0,
                  "rq": stat.tp / denominator}  # fmt: skip
        per_class[category.name] = values
        groups["all"].append(values)
        groups["things" if category.isthing else "stuff"].append(values)
    result = {}
    for group, rows in groups.items():
        result[group] = {k: (float(np.mean([r[k] for r in rows])) if rows else None) for k in ("pq", "sq", "rq")}
        result[group]["n"] = len(rows)
    result["per_class"] = per_class
    return result


@dataclass
class PanopticQuality:
    """Accumulates :func:`image_stats` over a dataset; :meth:`compute` gives :func:`summarise`."""

    categories: Sequence[Category]
    stats: dict[int, CategoryStat] = field(default_factory=dict)

    def add(self, truth: Segmentation, pred: Segmentation) -> dict[int, CategoryStat]:
        image = image_stats(truth, pred)
        for category, stat in image.items():
            self.stats.setdefault(category, CategoryStat()).add(stat)
        return image

    def compute(self) -> dict:
        return summarise(self.stats, self.categories)
