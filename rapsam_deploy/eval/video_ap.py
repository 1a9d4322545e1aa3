"""Video instance segmentation AP/AR as the YouTube-VIS API (``ytvoseval``, COCOeval with
videos in place of images) computes them.

Tracks are compared by spatio-temporal mask IoU: intersections summed over the frames divided by
unions summed over the frames (a track absent from a frame adds its partner's area to the union).
Per video and category, predictions (best score first, at most 100) match ground truth greedily
at each IoU threshold 0.50:0.05:0.95; crowd tracks and tracks outside an area range (by mean
area over the frames where present: small < 128^2 <= medium < 256^2 <= large) are ignored.
AP is the 101-point interpolated precision averaged over thresholds and categories; AR@k the
recall with at most k predictions per video and category, averaged likewise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import masks as mask_ops

# np.linspace as the COCO API writes it, so that the thresholds are the same floats.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 128.0**2), "medium": (128.0**2, 256.0**2), "large": (256.0**2, 1e10)}


@dataclass(frozen=True)
class TrackSummary:
    """What AP needs of a track: category, score (predictions), crowd flag (ground truth) and
    mean area over the frames where it is present."""

    category_id: int
    avg_area: float
    score: float = 1.0
    iscrowd: bool = False


class Overlap:
    """Spatio-temporal overlap of two sets of tracks, accumulated frame by frame."""

    def __init__(self, a: int, b: int) -> None:
        self.intersection = np.zeros((a, b), dtype=np.int64)
        self.area_a = np.zeros(a, dtype=np.int64)
        self.area_b = np.zeros(b, dtype=np.int64)

    def add_frame(self, a: list[dict], a_index: list[int], b: list[dict], b_index: list[int]) -> None:
        """One frame: RLEs of the tracks present in it and their indices in each set."""
        self.intersection[np.ix_(a_index, b_index)] += mask_ops.intersections(a, b)
        self.area_a[a_index] += mask_ops.areas(a)
        self.area_b[b_index] += mask_ops.areas(b)

    def iou(self) -> np.ndarray:
        """[A,B] spatio-temporal IoU (0 where both tracks are empty)."""
        union = self.area_a[:, None] + self.area_b[None, :] - self.intersection
        return np.divide(self.intersection, union, out=np.zeros(union.shape), where=union > 0)


def _match(iou: np.ndarray, ignored: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO's greedy matching of predictions [D] (best first) to ground truth [G] (non-ignored
    first) at every threshold: per threshold and prediction, matched or not, and on an ignored track."""
    matched = np.zeros((len(IOU_THRESHOLDS), iou.shape[0]), dtype=bool)
    on_ignored = np.zeros_like(matched)
    if iou.size == 0:
        return matched, on_ignored
    for t, threshold in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(iou.shape[1], dtype=bool)
        for d in range(iou.shape[0]):
            best, m = min(threshold, 1 - 1e-10), -1
            for g in range(iou.shape[1]):
                if taken[g] and not crowd[g]:
                    continue
                if m > -1 and not ignored[m] and ignored[g]:
                    break
                if iou[d, g] < best:
                    continue
                best, m = iou[d, g], g
            if m > -1:
                matched[t, d], on_ignored[t, d], taken[m] = True, ignored[m], True
    return matched, on_ignored


@dataclass
class _Evaluated:
    """One video, category and area range: predictions' scores and matches, ground truth ignored."""

    scores: np.ndarray  # [D]
    matched: np.ndarray  # [T,D]
    ignored: np.ndarray  # [T,D]
    truth_ignored: np.ndarray  # [G]


class VideoAP:
    """Accumulates videos; :meth:`compute` gives AP, AP50, AP75, AP by size and AR@1/10/100."""

    def __init__(self) -> None:
        self.evaluated: dict[tuple[int, str], list[_Evaluated]] = defaultdict(list)

    def add(self, truths: list[TrackSummary], preds: list[TrackSummary], iou: np.ndarray) -> None:
        """One video: its ground-truth and predicted tracks and their IoU [P,G]."""
        for category in {t.category_id for t in truths} | {p.category_id for p in preds}:
            g_index = [i for i, t in enumerate(truths) if t.category_id == category]
            d_index = [i for i, p in enumerate(preds) if p.category_id == category]
            d_index = sorted(d_index, key=lambda i: -preds[i].score)[: MAX_DETS[-1]]  # stable, as mergesort
            for area, (low, high) in AREA_RANGES.items():
                self.evaluated[category, area].append(
                    self._evaluate([truths[i] for i in g_index], [preds[i] for i in d_index],
                                   iou[np.ix_(d_index, g_index)], low, high)
                )  # fmt: skip

    @staticmethod
    def _evaluate(truths, preds, iou: np.ndarray, low: float, high: float) -> _Evaluated:
        ignored = np.array([t.iscrowd or not low <= t.avg_area <= high for t in truths], dtype=bool)
        order = np.argsort(ignored, kind="mergesort")
        crowd = np.array([truths[i].iscrowd for i in order], dtype=bool)
        matched, on_ignored = _match(iou[:, order], ignored[order], crowd)
        outside = np.array([not low <= p.avg_area <= high for p in preds], dtype=bool)
        on_ignored |= ~matched & outside[None, :]
        return _Evaluated(np.array([p.score for p in preds], dtype=np.float64), matched, on_ignored, ignored)

    def _precision_recall(self, entries: list[_Evaluated], max_det: int) -> tuple[np.ndarray, np.ndarray] | None:
        """[T,R] interpolated precision and [T] recall over videos, or None without ground truth."""
        truths = np.count_nonzero(np.concatenate([~e.truth_ignored for e in entries]))
        if truths == 0:
            return None
        scores = np.concatenate([e.scores[:max_det] for e in entries])
        order = np.argsort(-scores, kind="mergesort")
        matched = np.concatenate([e.matched[:, :max_det] for e in entries], axis=1)[:, order]
        ignored = np.concatenate([e.ignored[:, :max_det] for e in entries], axis=1)[:, order]
        tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
        fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
        precision = np.zeros((len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)))
        recall = np.zeros(len(IOU_THRESHOLDS))
        for t in range(len(IOU_THRESHOLDS)):
            rc = tp[t] / truths
            pr = tp[t] / (tp[t] + fp[t] + np.spacing(1))
            recall[t] = rc[-1] if len(rc) else 0.0
            pr = np.maximum.accumulate(pr[::-1])[::-1]  # the precision envelope
            at = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
            valid = at < len(pr)
            precision[t, valid] = pr[at[valid]]
        return precision, recall

    def _curves(self, area: str, max_det: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(precision, recall) of each category with ground truth in ``area``."""
        results = (self._precision_recall(e, max_det) for (_, a), e in self.evaluated.items() if a == area)
        return [r for r in results if r is not None]

    @staticmethod
    def _mean(curves: list[tuple[np.ndarray, np.ndarray]], which: str, threshold: float | None = None) -> float | None:
        values = []
        for precision, recall in curves:
            value = precision if which == "precision" else recall
            if threshold is not None:
                value = value[np.isclose(IOU_THRESHOLDS, threshold)]
            values.append(value.ravel())
        return float(np.mean(np.concatenate(values))) if values else None

    def compute(self) -> dict[str, float | None]:
        """Fractions; ``None`` where no ground truth counts (as the API's -1)."""
        pairs = [(area, MAX_DETS[-1]) for area in AREA_RANGES] + [("all", m) for m in MAX_DETS[:-1]]
        curves = {pair: self._curves(*pair) for pair in pairs}
        return {
            "ap": self._mean(curves["all", 100], "precision"),
            "ap50": self._mean(curves["all", 100], "precision", 0.5),
            "ap75": self._mean(curves["all", 100], "precision", 0.75),
            "ap_small": self._mean(curves["small", 100], "precision"),
            "ap_medium": self._mean(curves["medium", 100], "precision"),
            "ap_large": self._mean(curves["large", 100], "precision"),
            "ar1": self._mean(curves["all", 1], "recall"),
            "ar10": self._mean(curves["all", 10], "recall"),
            "ar100": self._mean(curves["all", 100], "recall"),
            "ar_small": self._mean(curves["small", 100], "recall"),
            "ar_medium": self._mean(curves["medium", 100], "recall"),
            "ar_large": self._mean(curves["large", 100], "recall"),
        }
