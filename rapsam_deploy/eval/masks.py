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


# OpenCV's limit on an image's pixels (CV_IO_MAX_IMAGE_PIXELS): pycocotools allocates a mask of
# the segmentation's size without checking that it could.
MAX_PIXELS = 1 << 30


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _runs(counts: str) -> list[int] | None:
    """The run lengths in COCO's compressed RLE text, decoded as pycocotools' rleFrString does
    (5 bits a character from "0", 0x20 to continue, 0x10 for negative, each run after the second
    relative to the one two before); None where it is not such text."""
    runs, value, shift = [], 0, 0
    for char in counts:
        code = ord(char) - 48
        if not 0 <= code < 64:
            return None
        value |= (code & 0x1F) << shift
        shift += 5
        if code & 0x20:
            continue
        if code & 0x10:
            value -= 1 << shift
        runs.append(value + (runs[-2] if len(runs) > 2 else 0))
        value, shift = 0, 0
    return runs if shift == 0 else None


def _rle_problem(segmentation: dict, height: int, width: int) -> str | None:
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if not (isinstance(size, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in size)):
        return "has no size [height, width]"
    if size != [height, width]:
        return f"has size {size}, not its image's [{height}, {width}]"
    if isinstance(counts, str):
        counts = _runs(counts)
    elif not (isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts)):
        counts = None
    # Runs past the mask's end would be written past pycocotools' buffer.
    if counts is None or any(not 0 <= c < 1 << 31 for c in counts) or sum(counts) != height * width:
        return f"has counts that are not run lengths adding up to {height} x {width}"
    return None


def segmentation_problem(segmentation: object, height: int, width: int) -> str | None:
    """What is wrong with a COCO segmentation (polygons, uncompressed or compressed RLE) of an
    image of ``height`` x ``width``, or None: what pycocotools' C code would read or write out of
    bounds on, or allocate without limit for, is refused."""
    if height * width > MAX_PIXELS:
        return f"is for an image of {height} x {width}, over {MAX_PIXELS} pixels"
    if isinstance(segmentation, dict):
        return _rle_problem(segmentation, height, width)
    if not isinstance(segmentation, list) or not segmentation:
        return "is neither polygons nor a run-length encoding"
    # Coordinates far outside the image would make rleFrPoly's int overflow or its buffers huge.
    low, high = -max(height, width), 2 * max(height, width)
    for polygon in segmentation:
        if not (
            isinstance(polygon, list)
            and len(polygon) >= 6
            and len(polygon) % 2 == 0
            and all(_is_number(c) and low <= c <= high for c in polygon)
        ):
            return "has a polygon that is not 3 or more x, y points in or near the image"
    return None


def to_rle(segmentation: dict | list, height: int, width: int, where: str = "a segmentation") -> dict:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed RLE; a clear
    error naming ``where`` for a malformed one."""
    problem = segmentation_problem(segmentation, height, width)
    if problem:
        raise RapSamError(f"{where} {problem}", "give each object COCO polygons or a run-length encoding")
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation.get("counts"), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    counts = segmentation["counts"]
    return {"size": list(segmentation["size"]), "counts": counts.encode() if isinstance(counts, str) else counts}


def decode(segmentation: dict | list, height: int, width: int, where: str = "a segmentation") -> np.ndarray:
    """A COCO segmentation -> bool mask [H,W]."""
    return mask_utils.decode(to_rle(segmentation, height, width, where)).astype(bool)


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
