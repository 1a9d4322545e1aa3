"""Masks as the datasets store them: COCO-panoptic PNGs, polygons and run-length encodings
(pycocotools), and the pixel counts the metrics need."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import RapSamError

try:
    from pycocotools import mask as mask_utils
except ImportError as err:  # an install without the [eval] extra
    raise RapSamError(
        "rapsam-eval needs pycocotools, which is not installed", "pip install 'rapsam-deploy[eval]'"
    ) from err


def rgb_to_id(png: np.ndarray) -> np.ndarray:
    """COCO-panoptic colours [H,W,3] RGB uint8 -> segment ids [H,W] int64 (id = R + 256 G + 256^2 B)."""
    rgb = png.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def read_id_png(path: Path) -> np.ndarray:
    """A COCO-panoptic PNG -> segment ids [H,W] int64, or a clear error."""
    if not path.is_file():
        raise RapSamError(f"panoptic PNG {path} does not exist", "pass the PNG folder with --panoptic-masks")
    # IMREAD_UNCHANGED: the ids are in the exact 8-bit RGB values, nothing may convert them.
    png = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if png is None or png.ndim != 3 or png.shape[2] != 3 or png.dtype != np.uint8:
        raise RapSamError(f"{path} is not an 8-bit RGB PNG", "COCO-panoptic PNGs encode id = R + 256 G + 256^2 B")
    return rgb_to_id(png[..., ::-1])


def to_rle(segmentation: dict | list, height: int, width: int) -> dict:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed RLE."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation.get("counts"), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    counts = segmentation["counts"]
    return {"size": list(segmentation["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}


def decode(segmentation: dict | list, height: int, width: int) -> np.ndarray:
    """A COCO segmentation -> bool mask [H,W]."""
    return mask_utils.decode(to_rle(segmentation, height, width)).astype(bool)


def encode(masks: np.ndarray) -> list[dict]:
    """bool masks [M,H,W] -> compressed RLEs."""
    if len(masks) == 0:
        return []
    return mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


def areas(rles: list[dict]) -> np.ndarray:
    """Pixel count of each RLE -> [M] int64."""
    if not rles:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(mask_utils.area(rles), dtype=np.int64).reshape(len(rles))


def intersections(a: list[dict], b: list[dict]) -> np.ndarray:
    """Pixel count of every intersection of RLEs ``a`` and ``b`` of one frame -> [A,B] int64.

    pycocotools gives IoU = I / (|a| + |b| - I); I = IoU (|a| + |b|) / (1 + IoU) is exact after
    rounding, as every count is an integer far below 2^52."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.int64)
    iou = np.asarray(mask_utils.iou(a, b, [0] * len(b)), dtype=np.float64).reshape(len(a), len(b))
    total = areas(a)[:, None] + areas(b)[None, :]
    return np.rint(iou * total / (1 + iou)).astype(np.int64)
