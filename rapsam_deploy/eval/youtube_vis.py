"""YouTube-VIS 2019 (``youtube_vis_2019_train.json`` + ``JPEGImages/<video>/*.jpg``): videos, and
per video the ground-truth tracks with one segmentation (RLE or polygons) or null per frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RapSamError
from .categories import Category, check_category, read_categories
from .data import ID, INTEGER, OBJECTS, SIZE, TEXTS, check_file, images_folder, read_json, require_fields, require_keys
from .masks import areas, to_rle


@dataclass(frozen=True)
class Track:
    """A ground-truth track: RLE per frame (None where absent) and its mean area over the frames
    where it is present (the JSON's ``areas``, as the official evaluation, else the masks')."""

    id: int
    category_id: int
    iscrowd: bool
    rles: tuple[dict | None, ...]
    avg_area: float


@dataclass(frozen=True)
class VideoSample:
    """One video: its frames' files, size (H, W) and ground-truth tracks."""

    id: int
    name: str
    frames: tuple[Path, ...]
    size: tuple[int, int]
    tracks: tuple[Track, ...]


FIX = "pass a YouTube-VIS annotation JSON"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _avg_area(annotation: dict, rles: list[dict | None]) -> float:
    """Mean of the non-zero per-frame areas: the JSON's ``areas`` where given, else the masks'."""
    given = annotation.get("areas")
    if given and not (isinstance(given, list) and all(a is None or _is_number(a) for a in given)):
        raise RapSamError(f"annotation {annotation['id']}: areas is not a list of numbers or nulls", FIX)
    values = given or [int(areas([r])[0]) if r else 0 for r in rles]
    present = [a for a in values if a]
    return float(np.mean(present)) if present else 0.0


class YouTubeVIS:
    """The videos of a YouTube-VIS JSON (JSON order; the first ``limit``), each checked for its
    frame files, the number of segmentations per track and known categories."""

    def __init__(self, annotations: Path, images: Path | None = None, limit: int | None = None) -> None:
        content = read_json(annotations)
        require_keys(content, ("videos", "annotations", "categories"), str(annotations), FIX)
        content["annotations"] = content["annotations"] or []  # a test split's are null
        require_fields(content, {"videos": OBJECTS, "annotations": OBJECTS}, str(annotations), FIX)
        self.annotations = annotations
        self.categories: tuple[Category, ...] = read_categories(content["categories"], str(annotations), True)
        self.images = images_folder(annotations, images)
        self.total = len(content["videos"])
        known = {c.id: c for c in self.categories}
        for index, video in enumerate(content["videos"]):
            require_fields(video, {"id": ID, "height": SIZE, "width": SIZE}, f"video {index}", FIX)
        by_video: dict[int, list[dict]] = {}
        for index, annotation in enumerate(content["annotations"]):
            kinds = {"id": INTEGER, "video_id": ID, "category_id": INTEGER}
            require_fields(annotation, kinds, f"annotation {index}", FIX)
            check_category(annotation["category_id"], known, f"annotation {annotation.get('id')}")
            by_video.setdefault(annotation["video_id"], []).append(annotation)
        self.samples = [self._video(v, by_video.get(v["id"], [])) for v in content["videos"][:limit]]

    def _video(self, entry: dict, annotations: list[dict]) -> VideoSample:
        files = entry.get("file_names") or []
        if not files:
            raise RapSamError(f"video {entry.get('id')} lists no frames (file_names)", "check the annotation JSON")
        require_fields(entry, {"file_names": TEXTS}, f"video {entry['id']}", FIX)
        height, width = entry["height"], entry["width"]
        tracks = []
        for annotation in annotations:
            segmentations = annotation.get("segmentations") or []
            if not isinstance(segmentations, list) or len(segmentations) != len(files):
                count = len(segmentations) if isinstance(segmentations, list) else "no list of"
                raise RapSamError(
                    f"annotation {annotation.get('id')} of video {entry['id']} has {count} "
                    f"segmentations for {len(files)} frames",
                    "give one segmentation (or null) per frame of the video",
                )
            where = f"the segmentation of annotation {annotation['id']} in frame"
            rles = [to_rle(s, height, width, f"{where} {t}") if s else None for t, s in enumerate(segmentations)]
            tracks.append(
                Track(annotation["id"], annotation["category_id"], bool(annotation.get("iscrowd", 0)),
                      tuple(rles), _avg_area(annotation, rles))
            )  # fmt: skip
        frames = tuple(check_file(self.images / f, "frame", "--images") for f in files)
        return VideoSample(entry["id"], Path(files[0]).parent.name or str(entry["id"]), frames, (height, width),
                           tuple(tracks))  # fmt: skip
