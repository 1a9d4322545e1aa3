"""Post-processing against a literal port of MMDetection's ``MaskFormerFusionHead`` (the
official model's): all queries upsampled at once, the per-query panoptic loop, ``mask2bbox``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import skip_unless_required

from rapsam_deploy.errors import RapSamError
from rapsam_deploy.plugins import PluginLibraryError
from rapsam_deploy.plugins.query_masks import cpp_library
from rapsam_deploy.predict import postprocess
from rapsam_deploy.predict.postprocess import PanopticConfig, instances, mask_boxes, panoptic, segment
from rapsam_deploy.predict.preprocess import ImageMeta

NUM_CLASSES, NUM_THINGS = 133, 80
METAS = {
    "same size": ImageMeta((96, 128), (96, 128), (96, 128)),
    "resized and padded": ImageMeta((75, 110), (88, 128), (96, 128)),
}


@pytest.fixture(autouse=True, params=["torch", "native"])
def kernel(request, monkeypatch) -> str:
    """Every test runs on both kernels of the per-pixel half: torch, and librapsam's fused loops."""
    if request.param == "native":
        try:
            cpp_library()
        except PluginLibraryError as error:
            skip_unless_required("RAPSAM_REQUIRE_PLUGINS", f"librapsam is not built: {error}")
    monkeypatch.setenv(postprocess.POSTPROCESS_ENV, request.param)
    assert postprocess.postprocess_kernel() == request.param
    return request.param


def official_masks(mask_logits: torch.Tensor, meta: ImageMeta) -> torch.Tensor:
    """[N,h,w] -> [N,H,W] logits, as ``MaskFormerFusionHead.predict`` (always resizes twice)."""
    masks = F.interpolate(mask_logits[None], size=meta.pad_shape, mode="bilinear", align_corners=False)[0]
    masks = masks[:, : meta.img_shape[0], : meta.img_shape[1]]
    return F.interpolate(masks[:, None], size=meta.ori_shape, mode="bilinear", align_corners=False)[:, 0]


def official_panoptic(class_logits, mask_logits, meta, config) -> np.ndarray:
    """``panoptic_postprocess``: [H,W] label + instance_id * 1000 (stuff shares instance 0)."""
    scores, labels = F.softmax(class_logits, dim=-1).max(-1)
    masks = official_masks(mask_logits, meta).sigmoid()
    keep = labels.ne(NUM_CLASSES) & (scores > config.object_mask_thr)
    cur_scores, cur_classes, cur_masks = scores[keep], labels[keep], masks[keep]
    panoptic_seg = torch.full(meta.ori_shape, NUM_CLASSES, dtype=torch.int32)
    if len(cur_classes) == 0:
        return panoptic_seg.numpy()
    cur_mask_ids = (cur_scores.view(-1, 1, 1) * cur_masks).argmax(0)
    instance_id = 1
    for k in range(len(cur_classes)):
        pred_class = int(cur_classes[k])
        mask = cur_mask_ids == k
        mask_area = mask.sum().item()
        original_area = (cur_masks[k] >= 0.5).sum().item()
        if config.filter_low_score:
            mask = mask & (cur_masks[k] >= 0.5)
        if mask_area > 0 and original_area > 0:
            if mask_area / original_area < config.iou_thr:
                continue
            if pred_class >= NUM_THINGS:
                panoptic_seg[mask] = pred_class
            else:
                panoptic_seg[mask] = pred_class + instance_id * 1000
                instance_id += 1
    return panoptic_seg.numpy()


def official_instances(class_logits, mask_logits, meta, config):
    """``instance_postprocess`` + ``mask2bbox``: (masks, labels, scores, boxes), unsorted."""
    num_queries = class_logits.shape[0]
    scores = F.softmax(class_logits, dim=-1)[:, :-1]
    labels = torch.arange(NUM_CLASSES).unsqueeze(0).repeat(num_queries, 1).flatten(0, 1)
    scores, top = scores.flatten(0, 1).topk(config.max_per_image, sorted=False)
    labels = labels[top]
    masks = official_masks(mask_logits, meta)[top // NUM_CLASSES]
    thing = labels < NUM_THINGS
    scores, labels, masks = scores[thing], labels[thing], masks[thing]
    binary = (masks > 0).float()
    mask_scores = (masks.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    binary = binary.bool()
    boxes = torch.zeros(len(binary), 4)
    x_any, y_any = binary.any(dim=1), binary.any(dim=2)
    for i in range(len(binary)):
        x, y = torch.where(x_any[i])[0], torch.where(y_any[i])[0]
        if len(x) and len(y):
            boxes[i] = torch.tensor([x[0], y[0], x[-1] + 1, y[-1] + 1], dtype=torch.float32)
    return binary.numpy(), labels.numpy(), (scores * mask_scores).numpy(), boxes.numpy()


def model_outputs(seed: int, num_queries: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Confident class logits (some no-object) and blob-shaped, noisy stride-4 mask logits, with a
    few duplicated queries so that the argmax has exact ties to break."""
    g = torch.Generator().manual_seed(seed)
    classes = torch.randn(num_queries, NUM_CLASSES + 1, generator=g)
    classes[torch.arange(num_queries), torch.randint(0, NUM_CLASSES, (num_queries,), generator=g)] += 8
    classes[num_queries // 3 :, -1] += 12
    ys, xs = torch.meshgrid(torch.arange(24.0), torch.arange(32.0), indexing="ij")
    centres = torch.rand(num_queries, 2, 1, 1, generator=g) * torch.tensor([24.0, 32.0]).view(2, 1, 1)
    radii = 2 + 4 * torch.rand(num_queries, 1, 1, generator=g)
    distance = ((ys - centres[:, 0]) ** 2 + (xs - centres[:, 1]) ** 2) / radii**2
    masks = 6 * (1 - distance) + torch.randn(num_queries, 24, 32, generator=g)
    classes[40:45], masks[40:45] = classes[10:15], masks[10:15]
    return classes, masks


def as_partition(seg: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Any panoptic encoding -> (dense segment index per pixel, in first-seen order; index -> key)."""
    keys, first = np.unique(seg, return_index=True)
    order = np.argsort(first)
    remap = np.empty(len(keys), dtype=np.int64)
    remap[order] = np.arange(len(keys))
    return remap[np.searchsorted(keys, seg)], {int(remap[i]): int(keys[i]) for i in range(len(keys))}


@pytest.mark.parametrize("iou_thr", [0.8, 0.3, 0.0])
@pytest.mark.parametrize("meta_name", list(METAS))
@pytest.mark.parametrize("seed", [0, 1])
def test_panoptic_is_the_official_merge(seed, meta_name, iou_thr):
    classes, masks = model_outputs(seed)
    meta, config = METAS[meta_name], PanopticConfig(iou_thr=iou_thr)
    ours = panoptic(classes, masks, meta, NUM_THINGS, config)
    official = official_panoptic(classes, masks, meta, config)
    ours_parts, ours_keys = as_partition(ours.id_map)
    official_parts, official_keys = as_partition(official)
    np.testing.assert_array_equal(ours_parts, official_parts)
    by_id = {s.id: s for s in ours.segments}
    for index, official_key in official_keys.items():
        segment_id = ours_keys[index]
        if official_key == NUM_CLASSES:  # the official "no segment"
            assert segment_id == 0
            continue
        assert by_id[segment_id].label == official_key % 1000
        assert by_id[segment_id].isthing == (official_key % 1000 < NUM_THINGS)
        assert by_id[segment_id].area == int((ours.id_map == segment_id).sum())
    # Segments are numbered in query order, as the official instance ids.
    things = sorted((key // 1000, ours_keys[i]) for i, key in official_keys.items() if key % 1000 < NUM_THINGS)
    assert [segment_id for _, segment_id in things] == sorted(segment_id for _, segment_id in things)
    assert len(ours.segments) >= 3 and any(s.isthing for s in ours.segments)  # not vacuous


@pytest.mark.parametrize("meta_name", list(METAS))
@pytest.mark.parametrize("seed", [0, 1])
def test_instances_are_the_official_instances(seed, meta_name):
    classes, masks = model_outputs(seed)
    meta, config = METAS[meta_name], PanopticConfig()
    ours = instances(classes, masks, meta, NUM_THINGS, config)
    binary, labels, scores, boxes = official_instances(classes, masks, meta, config)
    assert len(ours) == len(labels) > 10
    assert np.all(np.diff(ours.scores) <= 0)
    order = np.argsort(-scores, kind="stable")
    np.testing.assert_array_equal(ours.labels, labels[order])
    np.testing.assert_allclose(ours.scores, scores[order], rtol=1e-6)
    np.testing.assert_array_equal(ours.masks, binary[order])
    np.testing.assert_array_equal(ours.boxes, boxes[order])
    np.testing.assert_array_equal(mask_boxes(binary), boxes)


def test_segment_gives_both_results_at_once():
    classes, masks = model_outputs(2)
    meta, config = METAS["resized and padded"], PanopticConfig(iou_thr=0.3)
    both_panoptic, both_instances = segment(classes, masks, meta, NUM_THINGS, config)
    np.testing.assert_array_equal(both_panoptic.id_map, panoptic(classes, masks, meta, NUM_THINGS, config).id_map)
    np.testing.assert_array_equal(both_instances.masks, instances(classes, masks, meta, NUM_THINGS, config).masks)
    assert segment(classes, masks, meta, NUM_THINGS, config, with_panoptic=False)[0] is None


def test_nothing_kept_gives_an_empty_map():
    classes, masks = model_outputs(3)
    result = panoptic(classes, masks, METAS["same size"], NUM_THINGS, PanopticConfig(object_mask_thr=1.0))
    assert result.segments == [] and not result.id_map.any()


def test_min_score_drops_instances_before_their_masks_are_gathered():
    classes, masks = model_outputs(4)
    meta, config = METAS["same size"], PanopticConfig()
    everything = instances(classes, masks, meta, NUM_THINGS, config)
    threshold = float(np.median(everything.scores))
    kept = instances(classes, masks, meta, NUM_THINGS, config, min_score=threshold)
    expected = everything.select(everything.scores > threshold)
    assert 0 < len(kept) < len(everything)
    np.testing.assert_array_equal(kept.masks, expected.masks)
    np.testing.assert_array_equal(kept.scores, expected.scores)


@pytest.mark.parametrize("seed", range(6))
def test_masks_in_order_reuses_planes_and_equals_a_gather(seed):
    """Instances reorder the masks' own planes (each to its first place, copies for queries used
    twice); any selection of them, with repeats and drops, must equal indexing."""
    g = torch.Generator().manual_seed(seed)
    planes, count = 7, int(torch.randint(1, 8, (1,), generator=g))
    masks = torch.rand(planes, 5, 6, generator=g) > 0.5
    mask_of = torch.randint(0, 5, (count,), generator=g) if seed % 2 else torch.randperm(planes, generator=g)[:count]
    expected = masks[mask_of].numpy()
    np.testing.assert_array_equal(postprocess._in_order(masks.clone(), mask_of), expected)


def test_an_unknown_kernel_is_refused(monkeypatch):
    monkeypatch.setenv(postprocess.POSTPROCESS_ENV, "fast")
    with pytest.raises(RapSamError, match="RAPSAM_POSTPROCESS='fast'"):
        postprocess.postprocess_kernel()


@pytest.mark.parametrize("kernel", ["native"], indirect=True)  # the C entry point's own checks
def test_the_native_kernel_refuses_a_query_it_does_not_have(kernel):
    from rapsam_deploy.plugins.query_masks import query_masks

    binary = torch.empty(1, 8, 8, dtype=torch.bool)
    outputs = (binary, torch.empty(1), torch.empty(1, 8, dtype=torch.bool), torch.empty(1, 8, dtype=torch.bool))
    with pytest.raises(PluginLibraryError, match="query index outside the mask logits"):
        query_masks(torch.zeros(2, 2, 2), (8, 8, 8, 8, 8, 8), None, (torch.tensor([2]), *outputs), 1)
