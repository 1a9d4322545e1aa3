"""COCO panoptic (``panoptic_val2017.json`` + its PNG folder + the images): the ground truth of
the panoptic task, and of the prompt task as the official COCO-SAM evaluation reads it (every
segment, things and stuff, is an object to prompt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RapSamError
from .categories import Category, check_category, read_categories
from .data import ID, INTEGER, OBJECTS, SIZE, TEXT, check_file, images_folder, read_json, require_fields, require_keys
from .masks import read_id_png
from .panoptic_quality import Segmentation
from .samples import ImageSample, Objects

FIX = "pass a COCO panoptic annotation JSON"


class CocoPanoptic:
    """The images of a COCO panoptic JSON (its order; the first ``limit``), each checked for its
    image file, PNG and known categories; :meth:`truth` reads one image's PNG."""

    def __init__(
        self, annotations: Path, images: Path | None = None, masks: Path | None = None, limit: int | None = None
    ) -> None:
        content = read_json(annotations)
        require_keys(content, ("categories",), str(annotations), FIX)
        require_fields(content, {"images": OBJECTS, "annotations": OBJECTS}, str(annotations), FIX)
        self.annotations = annotations
        self.categories: tuple[Category, ...] = read_categories(content["categories"], str(annotations))
        self.images = images_folder(annotations, images)
        # panopticapi's convention: the PNGs of x.json are in the folder x/.
        self.masks = masks or annotations.with_suffix("")
        self.total = len(content["images"])
        self._known = {c.id: c for c in self.categories}
        for index, annotation in enumerate(content["annotations"]):
            require_fields(annotation, {"image_id": ID}, f"annotation {index}", FIX)
        by_image = {a["image_id"]: a for a in content["annotations"]}
        self.samples = [self._sample(index, entry, by_image) for index, entry in enumerate(content["images"][:limit])]

    def _sample(self, index: int, entry: dict, by_image: dict) -> ImageSample:
        require_fields(entry, {"id": ID, "file_name": TEXT, "height": SIZE, "width": SIZE}, f"image entry {index}", FIX)
        annotation = by_image.get(entry["id"])
        if annotation is None:
            raise RapSamError(f"image {entry['file_name']} has no panoptic annotation", "check the annotation JSON")
        where = f"the annotation of image {entry['id']}"
        require_fields(annotation, {"file_name": TEXT, "segments_info": OBJECTS}, where, FIX)
        for segment in annotation["segments_info"]:
            require_fields(segment, {"id": INTEGER, "category_id": INTEGER}, f"a segment of {where}", FIX)
            check_category(segment["category_id"], self._known, f"segment {segment['id']} of {annotation['file_name']}")
        check_file(self.images / entry["file_name"], "image", "--images")
        check_file(self.masks / annotation["file_name"], "panoptic PNG", "--panoptic-masks")
        return ImageSample(
            entry["id"], self.images / entry["file_name"], (entry["height"], entry["width"]), (annotation,)
        )

    def truth(self, sample: ImageSample) -> Segmentation:
        """The image's PNG and segments, checked against each other and the image size."""
        (annotation,) = sample.annotations
        png = self.masks / annotation["file_name"]
        id_map = read_id_png(png)
        if id_map.shape != sample.size:
            raise RapSamError(
                f"{png} is {id_map.shape[1]}x{id_map.shape[0]} but its image is {sample.size[1]}x{sample.size[0]}",
                "use the PNGs that belong to this annotation JSON",
            )
        segments = {int(s["id"]): int(s["category_id"]) for s in annotation["segments_info"]}
        in_png = set(np.unique(id_map).tolist()) - {0}
        if in_png != set(segments):
            only_png, only_json = sorted(in_png - set(segments)), sorted(set(segments) - in_png)
            raise RapSamError(
                f"{png}: its segment ids do not match its JSON segments_info "
                f"(only in the PNG: {only_png[:10]}; only in the JSON: {only_json[:10]})",
                "use the PNGs that belong to this annotation JSON",
            )
        crowd = frozenset(int(s["id"]) for s in annotation["segments_info"] if s.get("iscrowd", 0))
        return Segmentation(id_map, segments, crowd)

    def objects(self, sample: ImageSample) -> Objects:
        """Every segment (crowd regions too, as the official prompt evaluation) as an object."""
        truth = self.truth(sample)
        ids = list(truth.categories)
        masks = np.stack([truth.id_map == i for i in ids]) if ids else np.zeros((0, *sample.size), bool)
        return Objects(masks, np.array([truth.categories[i] for i in ids], dtype=np.int64))
