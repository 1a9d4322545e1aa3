"""rapsam-eval's metrics against independent implementations on the same small inputs: PQ against
torchmetrics' PanopticQuality, video AP/AR against pycocotools' COCOeval with spatio-temporal IoU
(the YouTube-VIS API's approach), mask IoU and RLE against pycocotools; and the COCO rules that
torchmetrics does not have (crowd regions, unlabelled predicted pixels) on hand-counted cases."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from skimage.segmentation import slic
from test_eval_data import photo

from rapsam_deploy.eval import masks as mask_ops
from rapsam_deploy.eval.agreement import panoptic_agreement, prompt_agreement, track_agreement
from rapsam_deploy.eval.categories import Category
from rapsam_deploy.eval.panoptic_quality import PanopticQuality, Segmentation
from rapsam_deploy.eval.prompt_iou import PromptIoU
from rapsam_deploy.eval.prompts import center_point, make_prompts
from rapsam_deploy.eval.video_ap import Overlap, TrackSummary, VideoAP
from rapsam_deploy.parity import mask_iou
from rapsam_deploy.predict.preprocess import ResizePolicy
from rapsam_deploy.predict.rle import mask_rle

CATEGORIES = (Category(1, "person", True), Category(17, "cat", True), Category(18, "dog", True),
              Category(184, "tree-merged", False), Category(187, "sky-other-merged", False))  # fmt: skip
THINGS = [c.id for c in CATEGORIES if c.isthing]
STUFF = [c.id for c in CATEGORIES if not c.isthing]


def regions(name: str, segments: int, compactness: float, size=(72, 96)) -> np.ndarray:
    """SLIC superpixels of a real photo: [H,W] int labels from 0."""
    return slic(photo(name, size), n_segments=segments, compactness=compactness, start_label=0)


def segmentation(labels: np.ndarray, categories: list[int], void: np.ndarray | None = None) -> Segmentation:
    """Labels [H,W] -> a Segmentation whose segment k+1 has categories[k % len]; stuff of one
    category merged, as COCO panoptic stores it."""
    id_map = np.zeros(labels.shape, dtype=np.int64)
    seen: dict[int, int] = {}
    classes = {}
    for k in np.unique(labels):
        category = categories[k % len(categories)]
        if category in STUFF and category in seen:
            segment = seen[category]
        else:
            segment = len(classes) + 1
            classes[segment] = category
            seen[category] = segment
        id_map[labels == k] = segment
    if void is not None:
        id_map[void] = 0
    return Segmentation(id_map, classes)


def torchmetrics_pq(pairs: list[tuple[Segmentation, Segmentation]]) -> dict:
    """PQ/SQ/RQ for all categories from torchmetrics, and for things and stuff from its per-class
    values averaged over the classes that occur (TP + FP + FN > 0), as it averages all."""
    reference = pytest.importorskip("torchmetrics.detection").PanopticQuality

    metric = reference(things=set(THINGS), stuffs=set(STUFF), return_sq_and_rq=True)
    by_class = reference(things=set(THINGS), stuffs=set(STUFF), return_sq_and_rq=True, return_per_class=True)
    for truth, pred in pairs:
        as_pixels = [torch.from_numpy(np.stack([s.category_map(), s.id_map], axis=-1)[None]) for s in (pred, truth)]
        metric.update(*as_pixels)
        by_class.update(*as_pixels)
    result = {"all": metric.compute().tolist()}
    per_class = by_class.compute()  # [K,3], things sorted by id, then stuff sorted by id
    occurs = (by_class.true_positives + by_class.false_positives + by_class.false_negatives) > 0
    for group, part in (("things", slice(0, len(THINGS))), ("stuff", slice(len(THINGS), None))):
        result[group] = per_class[part][occurs[part]].mean(dim=0).tolist()
    return result


def test_pq_equals_torchmetrics_on_partial_predictions():
    from skimage.segmentation import find_boundaries

    pairs = []
    for name, shift in (("astronaut", 0), ("chelsea", 1), ("coffee", 2)):
        truth_labels = regions(name, 8, 10)
        # Ground truth with void on the region boundaries; predictions from another segmentation
        # of the same photo, labelling every pixel (torchmetrics' and COCO's rules agree there).
        truth = segmentation(truth_labels, [1, 17, 184, 18, 187], find_boundaries(truth_labels, mode="inner"))
        pred_labels = regions(name, 6 + shift, 20)
        pairs.append((truth, segmentation(pred_labels, [1, 184, 17, 187, 18][shift:] + [1, 184, 17, 187, 18][:shift])))
        pairs.append((truth, segmentation(np.roll(truth_labels, 2 + shift, axis=1), [1, 17, 184, 18, 187])))
    ours = PanopticQuality(CATEGORIES)
    for truth, pred in pairs:
        ours.add(truth, pred)
    result = ours.compute()
    reference = torchmetrics_pq(pairs)
    for group in ("all", "things", "stuff"):
        values = [result[group][k] for k in ("pq", "sq", "rq")]
        np.testing.assert_allclose(values, reference[group], atol=1e-6, err_msg=group)
    assert 0.1 < result["all"]["pq"] < 0.9  # a real partial case, not 0 or 1


def test_pq_perfect_is_one_and_empty_is_zero():
    labels = regions("astronaut", 8, 10)
    truth = segmentation(labels, [1, 17, 184, 187])
    perfect, empty = PanopticQuality(CATEGORIES), PanopticQuality(CATEGORIES)
    perfect.add(truth, truth)
    empty.add(truth, Segmentation(np.zeros_like(truth.id_map), {}))
    present = len(set(truth.categories.values()))
    assert present >= 3
    assert perfect.compute()["all"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": present}
    assert empty.compute()["all"] == {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": present}
    assert PanopticQuality(CATEGORIES).compute()["all"]["pq"] is None


def test_pq_coco_rules_for_crowd_and_unlabelled_predictions():
    # 10x10 image. Ground truth: person 1 (left 5 columns), a person crowd region 2 (columns 5-7),
    # sky 3 (columns 8-9).
    truth_ids = np.zeros((10, 10), dtype=np.int64)
    truth_ids[:, :5], truth_ids[:, 5:8], truth_ids[:, 8:] = 1, 2, 3
    truth = Segmentation(truth_ids, {1: 1, 2: 1, 3: 187}, frozenset({2}))
    # Prediction: person 1 on columns 0-3 (rows 0-9) and unlabelled column 4; a person 2 lying on the
    # crowd region (ignored, not a false positive); sky 3 on column 9 only (IoU 0.5: unmatched).
    pred_ids = np.zeros((10, 10), dtype=np.int64)
    pred_ids[:, :4], pred_ids[:, 5:8], pred_ids[:, 9] = 1, 2, 3
    pred = Segmentation(pred_ids, {1: 1, 2: 1, 3: 187})
    metric = PanopticQuality(CATEGORIES)
    stats = metric.add(truth, pred)
    # person: IoU 40/50 = 0.8 (COCO counts the unlabelled predicted column in the union: torchmetrics does not)
    assert (stats[1].tp, stats[1].fp, stats[1].fn) == (1, 0, 0) and stats[1].iou == pytest.approx(0.8)
    assert (stats[187].tp, stats[187].fp, stats[187].fn) == (0, 1, 1)
    result = metric.compute()
    assert result["things"]["pq"] == pytest.approx(0.8) and result["stuff"]["pq"] == 0.0


def vis_reference(videos: list[dict]) -> np.ndarray:
    """The 12 YouTube-VIS statistics from pycocotools' COCOeval with videos as images and the
    YouTube-VIS API's spatio-temporal IoU and area ranges."""

    def iou_seq(d_seq, g_seq):
        inter = union = 0.0
        for d, g in zip(d_seq, g_seq, strict=True):
            if d and g:
                inter += mask_utils.area(mask_utils.merge([d, g], True))
                union += mask_utils.area(mask_utils.merge([d, g], False))
            elif d or g:
                union += mask_utils.area(d or g)
        return inter / union if union > 0 else 0.0

    class SpatioTemporalEval(COCOeval):
        def computeIoU(self, imgId, catId):  # COCOeval calls it by this name
            gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
            if not gt and not dt:
                return []
            dt = [dt[i] for i in np.argsort([-d["score"] for d in dt], kind="mergesort")][: self.params.maxDets[-1]]
            return np.array([[iou_seq(d["rles"], g["rles"]) for g in gt] for d in dt]).reshape(len(dt), len(gt))

    def coco(kind: str) -> COCO:
        data = {"images": [], "annotations": [], "categories": [{"id": c} for c in range(1, 6)]}
        for video in videos:
            height, width = video["size"]
            data["images"].append({"id": video["id"], "height": height, "width": width})
            for track in video[kind]:
                first = next(r for r in track["rles"] if r)
                data["annotations"].append(
                    {"id": len(data["annotations"]) + 1, "image_id": video["id"], "category_id": track["category"],
                     "iscrowd": int(track.get("iscrowd", False)), "area": track["avg_area"],
                     "segmentation": first, "rles": track["rles"], "score": track.get("score", 1.0)}
                )  # fmt: skip
        result = COCO()
        result.dataset = data
        with contextlib.redirect_stdout(io.StringIO()):
            result.createIndex()
        return result

    evaluator = SpatioTemporalEval(coco("truth"), coco("pred"), "segm")
    evaluator.params.areaRng = [[0, 1e5**2], [0, 128**2], [128**2, 256**2], [256**2, 1e5**2]]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def _track(frames: list[np.ndarray | None], category: int, **extra) -> dict:
    rles = [mask_ops.encode(f[None])[0] if f is not None and f.any() else None for f in frames]
    present = [int(mask_ops.areas([r])[0]) for r in rles if r]
    return {"rles": rles, "category": category, "avg_area": float(np.mean(present)), **extra}


def synthetic_videos() -> list[dict]:
    """Two 'videos' panning over real photos, SLIC regions as tracks, and predictions that
    shift, cut, mislabel, duplicate and invent tracks, with spread scores."""
    rng = np.random.default_rng(0)
    videos = []
    for vid, name in ((1, "astronaut"), (2, "coffee")):
        full = slic(photo(name, (240, 300)), n_segments=7, compactness=10, start_label=0)
        frames = [full[:, 6 * t : 6 * t + 240] for t in range(5)]
        truth, pred = [], []
        for k in range(int(full.max()) + 1):
            masks = [f == k for f in frames]
            if vid == 1 and k == 0:
                masks[3] = None  # absent from a frame
            category = 1 + k % 5
            truth.append(_track(masks, category, iscrowd=(vid == 2 and k == 1)))
            shifted = [None if m is None else np.roll(m, int(rng.integers(0, 25)), axis=1) for m in masks]
            pred.append(_track(shifted, category, score=float(rng.uniform(0.3, 1.0))))
            if k % 3 == 0:
                pred.append(_track(masks[:2] + [None] * 3, category, score=float(rng.uniform(0.1, 0.9))))
            if k % 4 == 1:
                pred.append(_track(masks, 1 + (k + 1) % 5, score=float(rng.uniform(0.1, 0.9))))
        pred.append(_track([np.roll(frames[0] == 0, 40, axis=0)] * 5, 2, score=0.95))
        videos.append({"id": vid, "size": full.shape, "truth": truth, "pred": pred})
    return videos


def our_vis(videos: list[dict]) -> list[float]:
    metric = VideoAP()
    for video in videos:
        overlap = Overlap(len(video["pred"]), len(video["truth"]))
        for t in range(5):
            present_p = [i for i, p in enumerate(video["pred"]) if p["rles"][t]]
            present_t = [j for j, g in enumerate(video["truth"]) if g["rles"][t]]
            overlap.add_frame([video["pred"][i]["rles"][t] for i in present_p], present_p,
                              [video["truth"][j]["rles"][t] for j in present_t], present_t)  # fmt: skip
        metric.add(
            [TrackSummary(g["category"], g["avg_area"], iscrowd=g["iscrowd"]) for g in video["truth"]],
            [TrackSummary(p["category"], p["avg_area"], p["score"]) for p in video["pred"]],
            overlap.iou(),
        )
    result = metric.compute()
    keys = ["ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large", "ar1", "ar10", "ar100", "ar_small",
            "ar_medium", "ar_large"]  # fmt: skip
    return [-1.0 if result[k] is None else result[k] for k in keys]


def test_video_ap_equals_pycocotools_with_spatio_temporal_iou():
    videos = synthetic_videos()
    ours, reference = our_vis(videos), vis_reference(videos)
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    assert 0.05 < ours[0] < 0.95 and ours[3] != -1 and ours[4] != -1  # partial, and by size


def test_video_ap_perfect_is_one_and_empty_is_zero():
    videos = synthetic_videos()
    perfect = [v | {"pred": [t | {"score": 1.0 - 0.01 * i} for i, t in enumerate(v["truth"])]} for v in videos]
    values = our_vis(perfect)
    assert values[0] == pytest.approx(1.0) and values[8] == pytest.approx(1.0)
    empty = our_vis([v | {"pred": []} for v in videos])
    assert empty[0] == 0.0 and empty[8] == 0.0


def test_results_rle_equals_pycocotools():
    """The results JSON's RLE (our encoder: rapsam-infer needs no pycocotools) is byte for byte
    pycocotools' on real regions, empty and full masks, masks starting with a set pixel, and long
    runs whose differences are negative."""
    labels = regions("chelsea", 8, 10)
    rng = np.random.default_rng(0)
    masks = [labels == k for k in np.unique(labels)]
    masks += [np.zeros((5, 7), bool), np.ones((5, 7), bool), np.ones((1, 1), bool), np.zeros((1, 1), bool)]
    masks += [rng.random((37, 53)) > p for p in (0.05, 0.5, 0.95)]
    stripes = np.zeros((300, 4), bool)
    stripes[:250, 0] = stripes[290:, 1] = stripes[:3, 2] = True
    masks.append(stripes)
    for mask in masks:
        expected = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert mask_rle(mask) == {"size": list(expected["size"]), "counts": expected["counts"].decode("ascii")}


def test_rle_and_mask_iou_agree_with_pycocotools():
    labels = regions("chelsea", 8, 10)
    masks = np.stack([labels == k for k in np.unique(labels)[:3]])
    shifted = np.roll(masks, 3, axis=2)
    rles, other = mask_ops.encode(masks), mask_ops.encode(shifted)
    np.testing.assert_array_equal(mask_utils.decode(rles).transpose(2, 0, 1), masks)
    np.testing.assert_array_equal(mask_ops.areas(rles), masks.sum(axis=(1, 2)))
    expected = (masks[:, None] & shifted[None]).sum(axis=(2, 3))
    np.testing.assert_array_equal(mask_ops.intersections(rles, other), expected)
    reference = mask_utils.iou(rles, other, [0, 0, 0])
    ours = [[mask_iou(a, b) for b in shifted] for a in masks]
    np.testing.assert_allclose(ours, reference, atol=1e-12)
    # Polygons and uncompressed RLE decode as pycocotools does.
    polygon = [[2.0, 2.0, 30.0, 4.0, 20.0, 40.0]]
    np.testing.assert_array_equal(
        mask_ops.decode(polygon, 72, 96),
        mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygon, 72, 96))).astype(bool),
    )
    uncompressed = {"size": [2, 3], "counts": [1, 2, 3]}
    np.testing.assert_array_equal(mask_ops.decode(uncompressed, 2, 3), [[0, 1, 0], [1, 0, 0]])


def test_prompt_miou_overall_and_by_size():
    metric = PromptIoU()
    metric.add(np.array([1.0, 0.5, 0.25]), np.array([10, 2000, 20000]))
    metric.add(np.array([0.0]), np.array([500]))
    result = metric.compute()
    assert result["miou"] == pytest.approx(1.75 / 4)
    assert result["miou_small"] == pytest.approx(0.5) and result["objects_small"] == 2
    assert result["miou_medium"] == 0.5 and result["miou_large"] == 0.25
    assert result["iou_above_0.5"] == 0.5 and PromptIoU().compute()["miou"] is None


def test_center_point_is_the_official_distance_transform_maximum():
    mask = np.zeros((40, 60), dtype=bool)
    mask[5:25, 10:50] = True  # 20 x 40: the farthest pixels from the border form a row
    policy = ResizePolicy(long_side=120)  # x2
    x, y = center_point(mask, policy)
    # Resized: rows 10..49, cols 20..99; the first farthest pixel in row-major order.
    resized = np.zeros((80, 120), dtype=bool)
    resized[10:50, 20:100] = True
    from scipy.ndimage import distance_transform_edt

    row, col = np.unravel_index(np.argmax(distance_transform_edt(np.pad(resized, 1))[1:-1, 1:-1]), resized.shape)
    assert (x * 2, y * 2) == pytest.approx((col, row))
    assert mask[int(y), int(x)]
    boxes = make_prompts(mask[None], "box", policy, np.random.default_rng(0))["boxes"]
    np.testing.assert_array_equal(boxes, [[10, 5, 50, 25]])
    first = make_prompts(mask[None], "random", policy, np.random.default_rng(3))["points"]
    again = make_prompts(mask[None], "random", policy, np.random.default_rng(3))["points"]
    np.testing.assert_array_equal(first, again)
    assert mask[int(first[0, 1]), int(first[0, 0])]


def test_agreement_of_identical_results_is_one():
    labels = regions("coffee", 6, 10)
    seg = segmentation(labels, [1, 17, 184, 187])
    assert panoptic_agreement(seg, seg) == {"segments": 1.0, "pixels": 1.0}
    empty = Segmentation(np.zeros_like(seg.id_map), {})
    assert panoptic_agreement(empty, empty) == {"segments": 1.0, "pixels": 1.0}
    assert panoptic_agreement(empty, seg)["segments"] == 0.0
    masks = np.stack([labels == k for k in range(3)])
    assert prompt_agreement(masks, masks) == {"mask_iou": 1.0}
    iou = np.array([[0.9, 0.1], [0.2, 0.4]])
    assert track_agreement(iou, [1, 2], [1, 2], [0.5, 0.9]) == {"tracks": 0.5}
    assert track_agreement(np.zeros((0, 0)), [], [], []) == {"tracks": 1.0}
