"""COCO instances (``instances_val2017.json``: polygons or RLE per object) as the prompt task's
ground truth. Crowd annotations are left out: a crowd region is not one object to prompt."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .categories import Category, check_category, read_categories
from .data import ID, INTEGER, OBJECTS, SIZE, TEXT, check_file, images_folder, read_json, require_fields, require_keys
from .masks import decode
from .samples import ImageSample, Objects

FIX = "pass a COCO instances annotation JSON"


class CocoInstances:
    """The images of a COCO instances JSON that have at least one non-crowd object (JSON order;
    the first ``limit``), each checked for its image file and known categories."""

    def __init__(self, annotations: Path, images: Path | None = None, limit: int | None = None) -> None:
        content = read_json(annotations)
        require_keys(content, ("categories",), str(annotations), FIX)
        require_fields(content, {"images": OBJECTS, "annotations": OBJECTS}, str(annotations), FIX)
        self.annotations = annotations
        self.categories: tuple[Category, ...] = read_categories(content["categories"], str(annotations), True)
        self.images = images_folder(annotations, images)
        known = {c.id: c for c in self.categories}
        by_image = defaultdict(list)
        for index, annotation in enumerate(content["annotations"]):
            if "segmentation" not in annotation or annotation.get("iscrowd", 0):
                continue
            require_fields(annotation, {"image_id": ID, "category_id": INTEGER}, f"annotation {index}", FIX)
            check_category(annotation["category_id"], known, f"annotation {annotation.get('id')}")
            by_image[annotation["image_id"]].append(annotation)
        for index, entry in enumerate(content["images"]):
            require_fields(entry, {"id": ID, "file_name": TEXT, "height": SIZE, "width": SIZE}, f"image {index}", FIX)
        entries = [e for e in content["images"] if by_image.get(e["id"])]
        self.total = len(entries)
        self.samples = [
            ImageSample(
                e["id"],
                check_file(self.images / e["file_name"], "image", "--images"),
                (e["height"], e["width"]),
                tuple(by_image[e["id"]]),
            )
            for e in entries[:limit]
        ]

    def objects(self, sample: ImageSample) -> Objects:
        height, width = sample.size
        masks = np.stack([decode(a["segmentation"], height, width) for a in sample.annotations])
        return Objects(masks, np.array([a["category_id"] for a in sample.annotations], dtype=np.int64))
