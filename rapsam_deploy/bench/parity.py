"""Parity of a backend with PyTorch fp32 on the same inputs: raw outputs and task results."""

from __future__ import annotations

import torch

from ..eval.masks import mask_iou
from ..predict.panoptic import PanopticPrediction


def raw_parity(ours: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> dict:
    """Max |a - b| per output and the mask-sign agreement of mask logits."""
    result = {}
    for name, ref in reference.items():
        out, ref = ours[name].detach().float().cpu(), ref.detach().float().cpu()
        result[f"{name}_max_abs"] = float((out - ref).abs().max()) if ref.numel() else 0.0
        if name.startswith("mask_logits"):
            result["mask_sign_agreement"] = float(((out > 0) == (ref > 0)).float().mean())
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
