"""Post-processing shared by every backend, as the official model does it (MMDetection's
``MaskFormerFusionHead`` with RAP-SAM's test config).

- Masks go back to the image: bilinear upsampling of the stride-4 logits to the padded input
  size, crop to the resized image, bilinear resize to the original size (``align_corners=False``
  both times), threshold at logit 0.
- Panoptic merge (Mask2Former): softmax class scores, keep queries whose best class is not
  no-object and scores > ``object_mask_thr`` (0.8); each pixel goes to the kept query with the
  largest score x mask probability; a query keeps its pixels only where its own probability is
  >= 0.5 (``filter_low_score``) and if they are at least ``iou_thr`` (0.8) of its own mask;
  stuff segments of one class merge.
- Instances: the top 100 (query, class) pairs over all classes of the softmax scores, things only,
  score = class score x mean mask probability inside the mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .preprocess import ImageMeta


@dataclass(frozen=True)
class PanopticConfig:
    """RAP-SAM's test config (``rap_sam_r50_12e_adaptor.py``) with MMDetection's defaults."""

    object_mask_thr: float = 0.8
    iou_thr: float = 0.8
    filter_low_score: bool = True
    max_per_image: int = 100


@dataclass
class Segment:
    """One panoptic segment: ``id`` is its value in ``PanopticResult.id_map``."""

    id: int
    label: int
    isthing: bool
    score: float
    area: int
    bbox: list[int]  # x, y, w, h (COCO)


@dataclass
class PanopticResult:
    """id_map [H,W] int32 (0 = no segment) and the segments."""

    id_map: np.ndarray
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Instances:
    """Instance masks at the original size, best score first."""

    masks: np.ndarray  # [M,H,W] bool
    labels: np.ndarray  # [M] int64
    scores: np.ndarray  # [M] float32
    boxes: np.ndarray  # [M,4] float32, x1 y1 x2 y2 (pixel edges)
    queries: np.ndarray  # [M] int64, the query each came from

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, keep: np.ndarray) -> Instances:
        return Instances(self.masks[keep], self.labels[keep], self.scores[keep], self.boxes[keep], self.queries[keep])


def upsample_masks(mask_logits: Tensor, meta: ImageMeta) -> Tensor:
    """[N,Hf,Wf] stride-4 logits -> [N,H,W] logits at the original image size (float32)."""
    if mask_logits.shape[0] == 0:
        return mask_logits.new_zeros((0, *meta.ori_shape), dtype=torch.float32)
    logits = F.interpolate(mask_logits[None].float(), size=meta.pad_shape, mode="bilinear", align_corners=False)
    logits = logits[:, :, : meta.img_shape[0], : meta.img_shape[1]]
    if meta.img_shape != meta.ori_shape:
        # Resizing to the same size is the identity (every output pixel centre is an input's).
        logits = F.interpolate(logits, size=meta.ori_shape, mode="bilinear", align_corners=False)
    return logits[0]


def _first(hits: Tensor) -> Tensor:
    """Index of the first True per row of [M,L] (0 for rows without one)."""
    return torch.where(hits.any(1), hits.float().argmax(1), 0)


def _end(hits: Tensor) -> Tensor:
    """One past the index of the last True per row of [M,L] (0 for rows without one)."""
    return torch.where(hits.any(1), hits.shape[1] - hits.flip(1).float().argmax(1), 0)


def mask_boxes(masks: np.ndarray | Tensor) -> np.ndarray:
    """[M,H,W] bool -> [M,4] x1 y1 x2 y2 of each mask's pixels (x2, y2 exclusive; zeros if empty)."""
    masks = torch.as_tensor(masks)
    rows, cols = masks.any(dim=2), masks.any(dim=1)  # [M,H], [M,W]
    return torch.stack([_first(cols), _first(rows), _end(cols), _end(rows)], dim=1).float().cpu().numpy()


def panoptic(
    class_logits: Tensor, mask_logits: Tensor, meta: ImageMeta, num_things: int, config: PanopticConfig
) -> PanopticResult:
    """class_logits [N,K+1], mask_logits [N,Hf,Wf] of one image -> :class:`PanopticResult`.

    The official per-query loop, vectorised: a pixel has one owner, so the queries' decisions
    are independent and each takes a few whole-image passes instead of one pass per query."""
    num_classes = class_logits.shape[-1] - 1
    scores, labels = F.softmax(class_logits.float(), dim=-1).max(dim=-1)
    keep = labels.ne(num_classes) & (scores > config.object_mask_thr)
    scores, labels = scores[keep], labels[keep]
    id_map = np.zeros(meta.ori_shape, dtype=np.int32)
    result = PanopticResult(id_map)
    if len(labels) == 0:
        return result
    probs = upsample_masks(mask_logits[keep], meta).sigmoid()
    owner = (scores.view(-1, 1, 1) * probs).argmax(dim=0)
    mask_area = torch.bincount(owner.flatten(), minlength=len(labels))
    original_area = (probs >= 0.5).flatten(1).sum(dim=1)
    ratio = mask_area.double() / original_area.clamp(min=1).double()  # in double, as the official's Python
    accepted = (mask_area > 0) & (original_area > 0) & (ratio >= config.iou_thr)
    segment_of = torch.zeros(len(labels) + 1, dtype=torch.int32)  # query -> segment id, 0 = none
    stuff_ids: dict[int, int] = {}
    for k in torch.nonzero(accepted).flatten().tolist():
        label, isthing = int(labels[k]), int(labels[k]) < num_things
        if not isthing and label in stuff_ids:
            segment_of[k] = stuff_ids[label]
            continue
        segment_of[k] = len(result.segments) + 1
        result.segments.append(Segment(len(result.segments) + 1, label, isthing, float(scores[k]), 0, []))
        if not isthing:
            stuff_ids[label] = int(segment_of[k])
    pixels = segment_of[owner.cpu()]
    if config.filter_low_score:
        pixels[probs.gather(0, owner[None])[0].cpu() < 0.5] = 0
    id_map[:] = pixels.numpy()
    areas = np.bincount(id_map.ravel(), minlength=len(result.segments) + 1)
    for segment in result.segments:
        segment.area = int(areas[segment.id])
        x1, y1, x2, y2 = mask_boxes((id_map == segment.id)[None])[0]
        segment.bbox = [int(x1), int(y1), int(x2 - x1), int(y2 - y1)]
    result.segments = [s for s in result.segments if s.area > 0]
    return result


def instances(
    class_logits: Tensor, mask_logits: Tensor, meta: ImageMeta, num_things: int, config: PanopticConfig
) -> Instances:
    """class_logits [N,K+1], mask_logits [N,Hf,Wf] of one image -> the top (query, class) pairs
    that are things, best score first (the official ``topk`` is unsorted; the set is the same)."""
    num_classes = class_logits.shape[-1] - 1
    scores = F.softmax(class_logits.float(), dim=-1)[:, :-1].flatten()
    top_scores, top = scores.topk(min(config.max_per_image, scores.numel()), sorted=True)
    labels, queries = top % num_classes, torch.div(top, num_classes, rounding_mode="floor")
    things = labels < num_things
    top_scores, labels, queries = top_scores[things], labels[things], queries[things]
    unique, inverse = torch.unique(queries, return_inverse=True)
    logits = upsample_masks(mask_logits[unique], meta)  # each query once, however many classes it has
    binary = logits > 0
    area = binary.flatten(1).sum(1)
    mask_scores = (logits.sigmoid() * binary).flatten(1).sum(1) / (area + 1e-6)
    det_scores = top_scores * mask_scores[inverse]
    order = det_scores.argsort(descending=True)
    boxes = mask_boxes(binary)[inverse[order].cpu().numpy()]
    return Instances(
        binary[inverse[order]].cpu().numpy(),
        labels[order].cpu().numpy(),
        det_scores[order].cpu().numpy().astype(np.float32),
        boxes,
        queries[order].cpu().numpy(),
    )


def mask_rle(mask: np.ndarray) -> dict:
    """COCO run-length encoding of a [H,W] bool mask (pycocotools), JSON-ready."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def panoptic_png(id_map: np.ndarray) -> np.ndarray:
    """COCO-panoptic PNG colours: id = R + 256 G + 256^2 B -> [H,W,3] uint8 RGB."""
    ids = id_map.astype(np.uint32)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)
