"""rapsam-eval's dataset handling on tiny datasets written in the official layouts from real photos
(scikit-image samples): COCO panoptic JSON + PNGs, COCO instances JSON, YouTube-VIS 2019 JSON with
RLE per frame; ground truth read back exactly, perfect/empty predictions, the category mapping,
and a clear error for each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.segmentation import find_boundaries, slic

from rapsam_deploy.artifacts.vocabulary import COCO_STUFF, COCO_THINGS, YOUTUBE_VIS_2019, vocabulary_for
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.eval.categories import Category, map_categories
from rapsam_deploy.eval.coco_instances import CocoInstances
from rapsam_deploy.eval.coco_panoptic import CocoPanoptic
from rapsam_deploy.eval.data import find_annotations
from rapsam_deploy.eval.masks import encode
from rapsam_deploy.eval.panoptic_quality import PanopticQuality, Segmentation
from rapsam_deploy.eval.youtube_vis import YouTubeVIS
from rapsam_deploy.predict.postprocess import panoptic_png

# COCO panoptic categories with their official ids and names.
PANOPTIC_CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "supercategory": "person"},
    {"id": 17, "name": "cat", "isthing": 1, "supercategory": "animal"},
    {"id": 18, "name": "dog", "isthing": 1, "supercategory": "animal"},
    {"id": 184, "name": "tree-merged", "isthing": 0, "supercategory": "plant"},
    {"id": 187, "name": "sky-other-merged", "isthing": 0, "supercategory": "sky"},
    {"id": 193, "name": "grass-merged", "isthing": 0, "supercategory": "plant"},
]
PHOTOS = ("astronaut", "chelsea", "coffee")
IMAGE_SIZE = (96, 128)
VIDEO_FRAMES, VIDEO_SIZE = 4, (64, 96)
# The official YouTube-VIS 2019 category list (ids from 1 in this order, "_" for spaces); COCO's
# things as the category list of a video dataset (as the official training reads COCO as videos).
VIS_CATEGORIES = [(i + 1, name.replace(" ", "_")) for i, name in enumerate(YOUTUBE_VIS_2019)]
COCO_VIDEO_CATEGORIES = [(i + 1, name) for i, name in enumerate(COCO_THINGS)]
TRACK_NAMES = ("person", "giant_panda", "dog", "cat")  # the test videos' tracks take these in turn


def photo(name: str, size: tuple[int, int]) -> np.ndarray:
    """A scikit-image sample photo as RGB uint8 [H,W,3] of ``size``."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return cv2.resize(np.ascontiguousarray(image[..., :3]), size[::-1], interpolation=cv2.INTER_AREA)


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])


def panoptic_truth(name: str) -> tuple[np.ndarray, list[dict]]:
    """Segment ids [H,W] (void on region boundaries) and segments_info of one photo: SLIC regions,
    categories in turn, stuff of one category merged, one crowd region in the first photo."""
    labels = slic(photo(name, IMAGE_SIZE), n_segments=7, compactness=10, start_label=0)
    id_map = np.zeros(labels.shape, dtype=np.int64)
    segments: dict[int, dict] = {}
    for k in np.unique(labels):
        category = PANOPTIC_CATEGORIES[k % len(PANOPTIC_CATEGORIES)]
        segment = next((s for s in segments.values() if s["category_id"] == category["id"] and not category["isthing"]),
                       None)  # fmt: skip
        if segment is None:
            # Ids above 255 use the G and B channels of the PNG.
            segment = {"id": 1000 * int(k + 1) + 7, "category_id": category["id"], "iscrowd": 0}
            segments[segment["id"]] = segment
        id_map[labels == k] = segment["id"]
    id_map[find_boundaries(labels, mode="inner")] = 0
    infos = []
    for segment in segments.values():
        ys, xs = np.nonzero(id_map == segment["id"])
        if len(ys):
            bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            infos.append(segment | {"area": len(ys), "bbox": bbox})
    if name == PHOTOS[0]:
        next(s for s in infos if s["category_id"] == 1)["iscrowd"] = 1
    return id_map, infos


def write_coco_panoptic(root: Path, photos=PHOTOS) -> Path:
    """root/annotations/panoptic_val2017.json, its PNG folder and root/val2017/*.jpg."""
    images, annotations = [], []
    for index, name in enumerate(photos):
        write_jpeg(root / "val2017" / f"{name}.jpg", photo(name, IMAGE_SIZE))
        id_map, segments = panoptic_truth(name)
        png = root / "annotations" / "panoptic_val2017" / f"{name}.png"
        png.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(png), panoptic_png(id_map)[..., ::-1])
        images.append({"id": index + 1, "file_name": f"{name}.jpg", "height": IMAGE_SIZE[0], "width": IMAGE_SIZE[1]})
        annotations.append({"image_id": index + 1, "file_name": f"{name}.png", "segments_info": segments})
    path = root / "annotations" / "panoptic_val2017.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": PANOPTIC_CATEGORIES}))
    return path


def write_coco_instances(root: Path, photos=PHOTOS) -> Path:
    """root/annotations/instances_val2017.json: every non-void segment of the panoptic truth as
    an object (compressed RLE), plus one polygon object and one crowd object."""
    images, annotations = [], []
    for index, name in enumerate(photos):
        write_jpeg(root / "val2017" / f"{name}.jpg", photo(name, IMAGE_SIZE))
        id_map, segments = panoptic_truth(name)
        images.append({"id": index + 1, "file_name": f"{name}.jpg", "height": IMAGE_SIZE[0], "width": IMAGE_SIZE[1]})
        for segment in segments:
            rle = encode((id_map == segment["id"])[None])[0]
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "iscrowd": 0,
                                "category_id": segment["category_id"], "area": segment["area"],
                                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})  # fmt: skip
    annotations.append({"id": len(annotations) + 1, "image_id": 1, "iscrowd": 0, "category_id": 17,
                        "segmentation": [[10.0, 10.0, 60.0, 12.0, 40.0, 70.0]]})  # fmt: skip
    annotations.append({"id": len(annotations) + 1, "image_id": 1, "iscrowd": 1, "category_id": 1,
                        "segmentation": {"size": [96, 128], "counts": [0, 96 * 128]}})  # fmt: skip
    categories = [{"id": c["id"], "name": c["name"]} for c in PANOPTIC_CATEGORIES]
    path = root / "annotations" / "instances_val2017.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def video_truth(name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a camera pan over a photo and the labels [H,W] of SLIC regions in each frame."""
    height, width = VIDEO_SIZE
    full_image = photo(name, (height, width + 6 * VIDEO_FRAMES))
    full = slic(full_image, n_segments=6, compactness=10, start_label=0)
    window = [slice(None), slice(None)]
    frames, labels = [], []
    for t in range(VIDEO_FRAMES):
        window[1] = slice(6 * t, 6 * t + width)
        frames.append(np.ascontiguousarray(full_image[tuple(window)]))
        labels.append(full[tuple(window)])
    return frames, labels


def write_youtube_vis(root: Path, names=("astronaut", "coffee"), categories=VIS_CATEGORIES) -> Path:
    """root/annotations/youtube_vis_2019_train.json and root/train/JPEGImages/<video>/*.jpg: the
    3 largest regions of each pan are tracks, the first absent from the last frame."""
    by_name = {name: i for i, name in categories}
    track_categories = [by_name[n] for n in TRACK_NAMES if n in by_name]
    videos, annotations = [], []
    for vid, name in enumerate(names, start=1):
        frames, labels = video_truth(name)
        files = [f"{name}/{t:05d}.jpg" for t in range(len(frames))]
        for file, frame in zip(files, frames, strict=True):
            write_jpeg(root / "train" / "JPEGImages" / file, frame)
        videos.append({"id": vid, "file_names": files, "height": VIDEO_SIZE[0], "width": VIDEO_SIZE[1],
                       "length": len(files)})  # fmt: skip
        largest = np.argsort(-np.bincount(np.concatenate([lab.ravel() for lab in labels])))[:3]
        for rank, k in enumerate(largest):
            segmentations, areas = [], []
            for t, lab in enumerate(labels):
                mask = lab == k
                if not mask.any() or (rank == 0 and t == len(labels) - 1):
                    segmentations.append(None)
                    areas.append(None)
                    continue
                rle = encode(mask[None])[0]
                segmentations.append({"size": rle["size"], "counts": rle["counts"].decode()})
                areas.append(int(mask.sum()))
            annotations.append({"id": len(annotations) + 1, "video_id": vid, "iscrowd": 0,
                                "category_id": track_categories[(vid + rank) % len(track_categories)],
                                "segmentations": segmentations, "areas": areas})  # fmt: skip
    categories = [{"id": i, "name": n, "supercategory": "object"} for i, n in categories]
    path = root / "annotations" / "youtube_vis_2019_train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"videos": videos, "annotations": annotations, "categories": categories}))
    return path


def test_panoptic_ground_truth_reads_back_and_scores_perfect_and_empty(tmp_path):
    dataset = CocoPanoptic(find_annotations(tmp_path, "panoptic") if write_coco_panoptic(tmp_path) else None)
    assert dataset.images == tmp_path / "val2017" and len(dataset.samples) == 3
    perfect, empty = PanopticQuality(dataset.categories), PanopticQuality(dataset.categories)
    for sample, name in zip(dataset.samples, PHOTOS, strict=True):
        truth = dataset.truth(sample)
        id_map, segments = panoptic_truth(name)
        np.testing.assert_array_equal(truth.id_map, id_map)
        assert truth.categories == {s["id"]: s["category_id"] for s in segments}
        perfect.add(truth, Segmentation(truth.id_map, truth.categories))
        empty.add(truth, Segmentation(np.zeros_like(truth.id_map), {}))
    assert dataset.truth(dataset.samples[0]).crowd  # the astronaut's person is a crowd region
    assert perfect.compute()["all"]["pq"] == 1.0 and empty.compute()["all"]["pq"] == 0.0
    assert len(CocoPanoptic(tmp_path / "annotations" / "panoptic_val2017.json", limit=2).samples) == 2


def test_instances_objects_skip_crowd_and_decode_polygons(tmp_path):
    dataset = CocoInstances(write_coco_instances(tmp_path))
    objects = dataset.objects(dataset.samples[0])
    id_map, segments = panoptic_truth(PHOTOS[0])
    assert len(objects.masks) == len(segments) + 1  # the polygon, not the crowd
    np.testing.assert_array_equal(objects.masks[0], id_map == segments[0]["id"])
    assert objects.masks[-1].sum() > 100 and objects.category_ids[-1] == 17


def test_youtube_vis_tracks_read_back(tmp_path):
    dataset = YouTubeVIS(write_youtube_vis(tmp_path))
    assert dataset.images == tmp_path / "train" / "JPEGImages"
    video = dataset.samples[0]
    assert video.name == "astronaut" and len(video.frames) == VIDEO_FRAMES and len(video.tracks) == 3
    first = video.tracks[0]
    assert first.rles[-1] is None and all(r is not None for r in first.rles[:-1])
    _, labels = video_truth("astronaut")
    from pycocotools import mask as mask_utils

    decoded = mask_utils.decode(first.rles[0]).astype(bool)
    k = np.argsort(-np.bincount(np.concatenate([lab.ravel() for lab in labels])))[0]
    np.testing.assert_array_equal(decoded, labels[0] == k)
    assert first.avg_area == pytest.approx(np.mean([(lab == k).sum() for lab in labels[:-1]]))


def test_category_mapping_by_name_order_and_the_official_merged_vocabulary():
    coco = vocabulary_for(133)
    categories = [Category(c["id"], c["name"], bool(c["isthing"])) for c in PANOPTIC_CATEGORIES]
    mapping = map_categories(coco, categories)
    assert mapping.method == "names" and mapping.unpredictable == ()
    assert mapping.dataset_id(COCO_THINGS.index("cat")) == 17
    assert mapping.dataset_id(80 + COCO_STUFF.index("sky")) == 187  # "sky-other-merged"
    # The 155-class vocabulary of the official model: YouTube-VIS names map to the merged classes.
    merged = vocabulary_for(155)
    assert merged.num_things == 102 and merged.classes[80] == "giant panda" and merged.classes[102] == "banner"
    vis = [Category(i, n, True) for i, n in VIS_CATEGORIES]
    mapping = map_categories(merged, vis)
    assert mapping.unpredictable == () and mapping.dataset_id(0) == 1 and mapping.dataset_id(80) == 2
    assert mapping.dataset_id(101) == 39 and mapping.dataset_id(COCO_THINGS.index("tennis racket")) == 40
    on_coco = map_categories(coco, vis)
    assert len(on_coco.unpredictable) == 22 and "earless_seal" in on_coco.unpredictable
    # Generic class names (an unknown embedding file): in order when the counts agree.
    generic = vocabulary_for(6)
    generic = type(generic)(generic.name, generic.classes, 3)
    assert map_categories(generic, categories).to_dataset == {i: c.id for i, c in enumerate(categories)}
    with pytest.raises(RapSamError, match="none of the dataset's"):
        map_categories(vocabulary_for(7), categories)


def _rewrite(path: Path, change) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


def test_missing_image_is_a_clear_error(tmp_path):
    path = write_coco_panoptic(tmp_path)
    (tmp_path / "val2017" / "chelsea.jpg").unlink()
    with pytest.raises(RapSamError, match=r"image .*chelsea.jpg does not exist(.|\n)*--images"):
        CocoPanoptic(path)
    vis = write_youtube_vis(tmp_path / "vis")
    (tmp_path / "vis" / "train" / "JPEGImages" / "coffee" / "00002.jpg").unlink()
    with pytest.raises(RapSamError, match=r"frame .*00002.jpg does not exist"):
        YouTubeVIS(vis)


def test_png_whose_ids_do_not_match_its_json_is_a_clear_error(tmp_path):
    path = write_coco_panoptic(tmp_path)
    _rewrite(path, lambda c: c["annotations"][1]["segments_info"].pop())
    dataset = CocoPanoptic(path)
    dataset.truth(dataset.samples[0])
    with pytest.raises(RapSamError, match=r"chelsea.png: its segment ids do not match(.|\n)*only in the PNG: \[\d+"):
        dataset.truth(dataset.samples[1])


def test_unknown_category_is_a_clear_error(tmp_path):
    path = write_coco_panoptic(tmp_path)
    _rewrite(path, lambda c: c["annotations"][2]["segments_info"][0].update(category_id=555))
    with pytest.raises(RapSamError, match="has category 555, which is not in the JSON's categories"):
        CocoPanoptic(path)
    vis = write_youtube_vis(tmp_path / "vis")
    _rewrite(vis, lambda c: c["annotations"][0].update(category_id=41))
    with pytest.raises(RapSamError, match="category 41"):
        YouTubeVIS(vis)


def test_other_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(RapSamError, match="does not exist"):
        find_annotations(tmp_path / "nowhere", "panoptic")
    with pytest.raises(RapSamError, match="no panoptic_"):
        find_annotations(tmp_path, "panoptic")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RapSamError, match="not valid JSON"):
        CocoPanoptic(tmp_path / "bad.json")
    vis = write_youtube_vis(tmp_path / "vis")
    _rewrite(vis, lambda c: c["annotations"][0]["segmentations"].pop())
    with pytest.raises(RapSamError, match="3 segmentations for 4 frames"):
        YouTubeVIS(vis)
