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

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import RapSamError
from ..plugins import query_masks
from ..plugins.errors import PluginLibraryError
from .preprocess import ImageMeta

POSTPROCESS_ENV = "RAPSAM_POSTPROCESS"


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


def _boxes(rows: Tensor, cols: Tensor) -> np.ndarray:
    """Which rows [M,H] and columns [M,W] each mask occupies -> [M,4] x1 y1 x2 y2 (x2, y2
    exclusive; zeros if empty)."""
    return torch.stack([_first(cols), _first(rows), _end(cols), _end(rows)], dim=1).float().cpu().numpy()


def _occupied(masks: Tensor, dim: int) -> Tensor:
    """``masks.any(dim)``: the max of the bytes is the same and an order of magnitude faster."""
    return masks.view(torch.uint8).amax(dim) > 0


def mask_boxes(masks: np.ndarray | Tensor) -> np.ndarray:
    """[M,H,W] bool -> [M,4] x1 y1 x2 y2 of each mask's pixels (x2, y2 exclusive; zeros if empty)."""
    masks = torch.as_tensor(masks)
    return _boxes(_occupied(masks, -1), _occupied(masks, -2))


def _segment_boxes(id_map: Tensor, count: int) -> np.ndarray:
    """id_map [H,W] with ids 0..count -> [count+1,4] boxes of each id's pixels, from the rows and
    columns each id occupies: one pass over the map, not one per segment."""
    height, width = id_map.shape
    ids = id_map.long()
    rows = torch.zeros(count + 1, height, dtype=torch.bool)
    cols = torch.zeros(count + 1, width, dtype=torch.bool)
    rows[ids, torch.arange(height)[:, None].expand(height, width)] = True
    cols[ids, torch.arange(width)[None, :].expand(height, width)] = True
    return _boxes(rows, cols)


@dataclass
class _Owners:
    """The panoptic merge's per-pixel contest over the kept queries (in query order): ``owner``
    [H,W] int64 is the query with the largest score x mask probability (the first on ties, as
    ``argmax``), ``owner_prob`` [H,W] its probability there, and ``original_area`` [K] each
    query's count of pixels with probability >= 0.5."""

    owner: Tensor
    owner_prob: Tensor
    original_area: Tensor

    @classmethod
    def empty(cls, count: int, shape: tuple[int, int], device: torch.device) -> _Owners:
        return cls(
            torch.zeros(shape, dtype=torch.int64, device=device),
            torch.zeros(shape, device=device),
            torch.zeros(count, dtype=torch.int64, device=device),
        )


class _TorchContest:
    """The contest in torch, fed one kept query at a time."""

    def __init__(self, owners: _Owners, scores: Tensor) -> None:
        self.owners, self.scores = owners, scores
        self.best = torch.full_like(owners.owner_prob, -1.0)  # below any score x probability
        self._weighted = torch.empty_like(self.best)
        self._better = torch.empty(self.best.shape, dtype=torch.bool, device=self.best.device)

    def add(self, k: int, probs: Tensor) -> None:
        """probs [H,W]: kept query ``k``'s mask probabilities at the original size."""
        self.owners.original_area[k] = torch.count_nonzero(probs >= 0.5)
        torch.mul(probs, self.scores[k], out=self._weighted)
        torch.gt(self._weighted, self.best, out=self._better)
        torch.maximum(self.best, self._weighted, out=self.best)
        self.owners.owner.masked_fill_(self._better, k)
        torch.where(self._better, probs, self.owners.owner_prob, out=self.owners.owner_prob)


@dataclass
class _InstanceMasks:
    """Instance masks: ``binary`` [U,H,W] bool (logit > 0), the first planes of ``storage``
    [P,H,W] (P >= U: room to put them in their final order), ``scores`` [U] (mean mask
    probability inside the mask) and the rows [U,H] and columns [U,W] each mask occupies."""

    storage: Tensor
    scores: Tensor
    rows: Tensor
    cols: Tensor

    @property
    def binary(self) -> Tensor:
        return self.storage[: len(self.scores)]

    @classmethod
    def empty(cls, count: int, planes: int, shape: tuple[int, int], device: torch.device) -> _InstanceMasks:
        return cls(
            torch.empty((max(count, planes), *shape), dtype=torch.bool, device=device),
            torch.empty(count, device=device),
            torch.empty((count, shape[0]), dtype=torch.bool, device=device),
            torch.empty((count, shape[1]), dtype=torch.bool, device=device),
        )

    def add(self, j: int, logits: Tensor, probs: Tensor, inside: Tensor) -> None:
        """logits, probs [H,W]: query ``j``'s mask at the original size; ``inside`` scratch [H,W]."""
        mask = torch.gt(logits, 0, out=self.binary[j])
        self.rows[j], self.cols[j] = _occupied(mask, 1), _occupied(mask, 0)
        inside.copy_(mask)  # float x float is the fast path; float x bool is several times slower
        inside.mul_(probs)
        self.scores[j] = inside.sum() / (torch.count_nonzero(mask) + 1e-6)


def postprocess_kernel(device: torch.device | str = "cpu") -> str:
    """Where the per-pixel half of post-processing runs for tensors on ``device``: ``native``
    (librapsam's fused loops, CPU tensors, when built) or ``torch``. ``$RAPSAM_POSTPROCESS``
    = ``torch`` or ``native`` insists on one (``native`` fails where the library is missing)."""
    wanted = os.environ.get(POSTPROCESS_ENV, "auto")
    if wanted not in ("auto", "native", "torch"):
        raise RapSamError(f"{POSTPROCESS_ENV}={wanted!r} is not a post-processing kernel", "use auto, native or torch")
    if wanted == "torch" or torch.device(device).type != "cpu":
        return "torch"
    if wanted == "native":
        query_masks.cpp_library()  # raises, saying how to build it
        return "native"
    return "native" if _native_available() else "torch"


@lru_cache(maxsize=1)
def _native_available() -> bool:
    try:
        query_masks.cpp_library()
    except PluginLibraryError:
        return False
    return True


def _masks_in_torch(
    mask_logits: Tensor,
    meta: ImageMeta,
    panoptic: _PanopticQueries | None,
    owners: _Owners | None,
    instance_queries: Tensor,
    instance_masks: _InstanceMasks | None,
) -> None:
    """Upsampling is per channel, so one query at a time gives the same values as all at once; at
    1024x1024 it keeps the working set at a few MB instead of 4 MB per query."""
    contest = _TorchContest(owners, panoptic.scores) if owners else None
    panoptic_slot = {q: k for k, q in enumerate(panoptic.queries.tolist())} if owners else {}
    instance_slot = {q: j for j, q in enumerate(instance_queries.tolist())} if instance_masks else {}
    probs = torch.empty(meta.ori_shape, device=mask_logits.device)
    inside = torch.empty_like(probs)
    for q in sorted(panoptic_slot.keys() | instance_slot.keys()):
        logits = upsample_masks(mask_logits[q : q + 1], meta)[0]
        torch.sigmoid(logits, out=probs)
        if q in panoptic_slot:
            contest.add(panoptic_slot[q], probs)
        if q in instance_slot:
            instance_masks.add(instance_slot[q], logits, probs, inside)


def _masks_at_original_size(
    mask_logits: Tensor, meta: ImageMeta, panoptic: _PanopticQueries | None, instances: _InstanceQueries | None
) -> tuple[_Owners | None, _InstanceMasks | None]:
    """Upsample each query that either result needs once, and feed it to both (``None`` for a
    result not asked for)."""
    device = mask_logits.device
    owners = _Owners.empty(len(panoptic.queries), meta.ori_shape, device) if panoptic is not None else None
    masks = None
    if instances is not None:
        masks = _InstanceMasks.empty(len(instances.unique), len(instances.queries), meta.ori_shape, device)
    unique = instances.unique if instances is not None else torch.empty(0, dtype=torch.int64)
    if postprocess_kernel(device) == "torch":
        _masks_in_torch(mask_logits, meta, panoptic, owners, unique, masks)
        return owners, masks
    query_masks.query_masks(
        mask_logits,
        (*meta.ori_shape, *meta.img_shape, *meta.pad_shape),
        (panoptic.queries, panoptic.scores, owners.owner, owners.owner_prob, owners.original_area) if owners else None,
        (unique, masks.binary, masks.scores, masks.rows, masks.cols) if masks else None,
        torch.get_num_threads(),
    )
    return owners, masks


@dataclass
class _PanopticQueries:
    """The queries the panoptic merge keeps: ``queries`` [K] (ascending), ``scores``, ``labels``."""

    queries: Tensor
    scores: Tensor
    labels: Tensor

    @classmethod
    def select(cls, class_logits: Tensor, config: PanopticConfig) -> _PanopticQueries:
        num_classes = class_logits.shape[-1] - 1
        scores, labels = F.softmax(class_logits.float(), dim=-1).max(dim=-1)
        keep = labels.ne(num_classes) & (scores > config.object_mask_thr)
        return cls(torch.nonzero(keep).flatten(), scores[keep], labels[keep])


@dataclass
class _InstanceQueries:
    """The top (query, class) pairs that are things: ``scores``, ``labels``, ``queries`` [M];
    ``unique`` [U] the distinct queries and ``inverse`` [M] each pair's index into them."""

    scores: Tensor
    labels: Tensor
    queries: Tensor
    unique: Tensor
    inverse: Tensor

    @classmethod
    def select(cls, class_logits: Tensor, num_things: int, config: PanopticConfig) -> _InstanceQueries:
        num_classes = class_logits.shape[-1] - 1
        scores = F.softmax(class_logits.float(), dim=-1)[:, :-1].flatten()
        top_scores, top = scores.topk(min(config.max_per_image, scores.numel()), sorted=True)
        labels, queries = top % num_classes, torch.div(top, num_classes, rounding_mode="floor")
        things = labels < num_things
        top_scores, labels, queries = top_scores[things], labels[things], queries[things]
        unique, inverse = torch.unique(queries, return_inverse=True)
        return cls(top_scores, labels, queries, unique, inverse)


def _merge(
    selected: _PanopticQueries, owners: _Owners, meta: ImageMeta, num_things: int, config: PanopticConfig
) -> PanopticResult:
    """The panoptic segments from the per-pixel contest (Mask2Former's rules, see the module)."""
    labels, scores = selected.labels, selected.scores
    result = PanopticResult(np.zeros(meta.ori_shape, dtype=np.int32))
    if len(labels) == 0:
        return result
    mask_area = torch.bincount(owners.owner.flatten(), minlength=len(labels))
    original_area = owners.original_area
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
    pixels = segment_of[owners.owner.cpu()]
    if config.filter_low_score:
        pixels[owners.owner_prob.cpu() < 0.5] = 0
    result.id_map[:] = pixels.numpy()
    areas = np.bincount(result.id_map.ravel(), minlength=len(result.segments) + 1)
    boxes = _segment_boxes(pixels, len(result.segments))
    for segment in result.segments:
        segment.area = int(areas[segment.id])
        x1, y1, x2, y2 = boxes[segment.id]
        segment.bbox = [int(x1), int(y1), int(x2 - x1), int(y2 - y1)]
    result.segments = [s for s in result.segments if s.area > 0]
    return result


def _permute_planes(planes: np.ndarray, source: np.ndarray) -> None:
    """planes[i] = planes[source[i]] for a permutation ``source``, in place with one plane of
    scratch."""
    done = np.zeros(len(source), dtype=bool)
    scratch = np.empty_like(planes[0])
    for start in range(len(source)):
        if done[start] or source[start] == start:
            continue
        scratch[...] = planes[start]
        i = start
        while not done[i]:
            done[i] = True
            j = int(source[i])
            planes[i] = scratch if j == start else planes[j]
            i = j


def _in_order(storage: Tensor, mask_of: Tensor) -> np.ndarray:
    """storage [P,H,W] whose first planes are the masks -> ``storage[mask_of]`` as numpy.

    At 1024x1024 a new array of 100 masks costs more in page faults than the copy itself, so
    where ``storage`` has room (P >= len(mask_of)) its own planes are reordered: each mask moves
    to its first place, and only masks used twice are copied."""
    count = len(mask_of)
    if storage.device.type != "cpu" or count > len(storage) or 2 * count < len(storage):
        return storage[mask_of].cpu().numpy()
    wanted = mask_of.tolist()
    first: dict[int, int] = {}
    for i, j in enumerate(wanted):
        first.setdefault(j, i)
    unused = iter(sorted(set(range(len(storage))) - first.keys()))
    source = [j if first[j] == i else next(unused) for i, j in enumerate(wanted)] + list(unused)
    planes = storage.numpy()
    _permute_planes(planes, np.asarray(source))
    for i, j in enumerate(wanted):
        if first[j] != i:
            planes[i] = planes[first[j]]
    return planes[:count]


def _rank(selected: _InstanceQueries, masks: _InstanceMasks, min_score: float) -> Instances:
    """Instances scoring above ``min_score``, best first (score: class score x mask score)."""
    det_scores = selected.scores * masks.scores[selected.inverse]
    order = det_scores.argsort(descending=True)
    order = order[det_scores[order] > min_score]  # before the masks are gathered: they are the bulk
    mask_of = selected.inverse[order]
    return Instances(
        _in_order(masks.storage, mask_of),
        selected.labels[order].cpu().numpy(),
        det_scores[order].cpu().numpy().astype(np.float32),
        _boxes(masks.rows, masks.cols)[mask_of.cpu().numpy()],
        selected.queries[order].cpu().numpy(),
    )


def segment(
    class_logits: Tensor,
    mask_logits: Tensor,
    meta: ImageMeta,
    num_things: int,
    config: PanopticConfig,
    with_panoptic: bool = True,
    with_instances: bool = True,
    min_score: float = -math.inf,
) -> tuple[PanopticResult | None, Instances | None]:
    """class_logits [N,K+1], mask_logits [N,Hf,Wf] of one image -> its :class:`PanopticResult`
    and :class:`Instances` (each ``None`` if not asked for), upsampling each query's mask once.
    ``min_score`` drops instances scoring at or below it (an empty mask scores 0).

    The official per-query panoptic loop, vectorised: a pixel has one owner, so the queries'
    decisions are independent and each takes a few whole-image passes. Instances come best score
    first (the official ``topk`` is unsorted; the set is the same)."""
    panoptic_queries = _PanopticQueries.select(class_logits, config) if with_panoptic else None
    instance_queries = _InstanceQueries.select(class_logits, num_things, config) if with_instances else None
    owners, masks = _masks_at_original_size(mask_logits, meta, panoptic_queries, instance_queries)
    return (
        _merge(panoptic_queries, owners, meta, num_things, config) if owners else None,
        _rank(instance_queries, masks, min_score) if masks else None,
    )


def panoptic(
    class_logits: Tensor, mask_logits: Tensor, meta: ImageMeta, num_things: int, config: PanopticConfig
) -> PanopticResult:
    """The panoptic result alone (see :func:`segment`)."""
    return segment(class_logits, mask_logits, meta, num_things, config, with_instances=False)[0]


def instances(
    class_logits: Tensor,
    mask_logits: Tensor,
    meta: ImageMeta,
    num_things: int,
    config: PanopticConfig,
    min_score: float = -math.inf,
) -> Instances:
    """The instances alone (see :func:`segment`)."""
    return segment(class_logits, mask_logits, meta, num_things, config, with_panoptic=False, min_score=min_score)[1]


def panoptic_png(id_map: np.ndarray) -> np.ndarray:
    """COCO-panoptic PNG colours: id = R + 256 G + 256^2 B -> [H,W,3] uint8 RGB."""
    ids = id_map.astype(np.uint32)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)
