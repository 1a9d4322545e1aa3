"""Parity of a backend with PyTorch fp32 on the same inputs: raw outputs and task results."""

from __future__ import annotations

import dataclasses

from ..parity import mask_agreement, mask_iou
from ..predict.panoptic import PanopticPrediction


def raw_parity(ours, reference) -> dict:
    """Max |a - b| of every tensor of two graph results (dataclasses of tensors with a
    ``mask_logits`` field), and task figures apart from the post-processing (whose panoptic
    merge is chaotic with random weights): the fraction of hard-mask pixels whose sign agrees
    and the per-query class-agnostic mask IoU (mean and minimum)."""
    result = {}
    for field in dataclasses.fields(ours):
        a, b = (getattr(x, field.name).detach().float().cpu() for x in (ours, reference))
        result[f"{field.name}_max_abs"] = float((a - b).abs().max()) if b.numel() else 0.0
    masks = mask_agreement(ours.mask_logits, reference.mask_logits)
    result["mask_sign_agreement"] = masks.sign
    result["mask_mean_iou"] = masks.iou_mean
    result["mask_min_iou"] = masks.iou_min
    return result


def segment_agreement(ours: PanopticPrediction, reference: PanopticPrediction) -> float:
    """Fraction of segments (of the larger set) that have a same-class partner with IoU >= 0.5
    in the other result; 1.0 when both are empty."""
    a, b = ours.panoptic, reference.panoptic
    total = max(len(a.segments), len(b.segments))
    if total == 0:
        return 1.0
    matched = sum(
        any(sa.label == sb.label and mask_iou(a.id_map == sa.id, b.id_map == sb.id) >= 0.5 for sb in b.segments)
        for sa in a.segments
    )
    return matched / total
