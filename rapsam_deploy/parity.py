"""How two runs of the same graph are compared (two runtimes, two precisions, two orders of
summation), in figures that a hard-mask flip cannot blow up.

The model thresholds mask logits at 0 and pools features under the hard masks in every decoder
stage. Float noise near 0 (a different summation order is enough) flips a few pixels, which
changes the pooled sums and everything downstream by far more than the noise: compared
element by element, a correct graph can differ by 0.7 in a logit. So masks are compared as
masks (sign agreement, per-query IoU), and other values by their error relative to the output's
scale, with bounds that allow for flips and still catch a broken graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _array(values) -> np.ndarray:
    """A float64 numpy copy of a numpy array or a (CPU or CUDA) torch tensor."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class MaskAgreement:
    """Hard masks (logit > 0) of two runs: the fraction of elements whose sign agrees, and the
    IoU per query (mean and minimum; a query empty in both runs counts as 1)."""

    sign: float
    iou_mean: float
    iou_min: float


def mask_agreement(got, expected, query_axis: int = 1) -> MaskAgreement:
    """Agreement of mask logits [B,N,...] (queries along ``query_axis``, every axis after it a
    mask axis: [B,N,Hq,Wf] or a video's [B,N,T,Hf,Wf])."""
    a, b = _array(got) > 0, _array(expected) > 0
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} and {b.shape}")
    if a.size == 0:
        return MaskAgreement(1.0, 1.0, 1.0)
    a = a.reshape(*a.shape[: query_axis + 1], -1)
    b = b.reshape(*b.shape[: query_axis + 1], -1)
    intersection = (a & b).sum(-1)
    union = (a | b).sum(-1)
    iou = np.where(union > 0, intersection / np.maximum(union, 1), 1.0)
    return MaskAgreement(float((a == b).mean()), float(iou.mean()), float(iou.min()))


def scaled_error(got, expected) -> float:
    """max |got - expected| / max |expected| (inf where shapes differ or ``got`` is not finite)."""
    a, b = _array(got), _array(expected)
    if a.shape != b.shape or not np.isfinite(a).all():
        return float("inf")
    if b.size == 0:
        return 0.0
    return float(np.abs(a - b).max()) / max(float(np.abs(b).max()), 1e-12)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool masks [H,W]; 1 when both are empty (they agree)."""
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0


def class_agreement(got, expected) -> float:
    """Fraction of queries whose highest-scoring class agrees: class logits [B,N,K+1]."""
    a, b = _array(got), _array(expected)
    if a.shape != b.shape:
        raise ValueError(f"class logit shapes differ: {a.shape} and {b.shape}")
    return float((a.argmax(-1) == b.argmax(-1)).mean()) if a.size else 1.0
