"""Prompts made from ground-truth masks, in original-image pixels for ``PromptPredictor``.

- ``center`` (the official COCO-SAM protocol, ``SAMDataPreprocessor``): the mask is resized to
  the network's input size as the image is (nearest neighbour, as MMDetection resizes masks), and
  the pixel farthest from the background (distance transform, with the image border counting as
  background; the first in row-major order on ties) is the point; the runtime turns it into the
  official 6-pixel box around it in resized pixels. The official code uses kornia's approximate
  distance transform, this one is exact (``scipy``), so on near-ties the point may differ.
- ``box``: the mask's bounding box.
- ``random``: a pixel of the mask drawn uniformly, from a generator seeded per image.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt

from ..predict.postprocess import mask_boxes
from ..predict.preprocess import ResizePolicy

PROMPT_MODES = ("center", "box", "random")


def _farthest_pixel(mask: np.ndarray) -> tuple[int, int]:
    """(row, col) of the pixel of ``mask`` [H,W] farthest from the background and the border."""
    distance = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    return divmod(int(np.argmax(distance)), mask.shape[1])


def center_point(mask: np.ndarray, policy: ResizePolicy) -> tuple[float, float]:
    """The official point of ``mask`` [H,W] bool as (x, y) in original pixels."""
    height, width = mask.shape
    new_h, new_w = policy.size(height, width)
    resized = cv2.resize(mask.astype(np.uint8), (new_w, new_h), interpolation=cv2.INTER_NEAREST).astype(bool)
    if not resized.any():
        # An object too thin to survive the resize: its own farthest pixel, scaled.
        row, col = _farthest_pixel(mask)
        return col, row
    row, col = _farthest_pixel(resized)
    # PromptPredictor multiplies by the same scale, giving back (col, row) in resized pixels.
    return col * width / new_w, row * height / new_h


def make_prompts(masks: np.ndarray, mode: str, policy: ResizePolicy, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ground-truth masks [M,H,W] -> ``PromptPredictor.predict`` keyword arguments: ``points``
    [M,2] (x, y) or ``boxes`` [M,4] (x1, y1, x2, y2), one prompt per mask, in mask order."""
    if mode == "center":
        return {"points": np.array([center_point(m, policy) for m in masks], dtype=np.float64).reshape(-1, 2)}
    if mode == "box":
        return {"boxes": mask_boxes(masks).astype(np.float64)}
    points = []
    for mask in masks:
        rows, cols = np.nonzero(mask)
        pick = rng.integers(len(rows))
        points.append((cols[pick], rows[pick]))
    return {"points": np.array(points, dtype=np.float64).reshape(-1, 2)}
