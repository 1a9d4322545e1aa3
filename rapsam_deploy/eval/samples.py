"""What the image tasks evaluate on: an image of a dataset and its ground-truth objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ImageSample:
    """One image of a dataset: its id, file, size (H, W) and its raw annotation entries."""

    id: int | str
    image: Path
    size: tuple[int, int]
    annotations: tuple[dict, ...]


@dataclass(frozen=True)
class Objects:
    """Ground-truth objects of one image: bool masks [M,H,W] at the original size and their
    dataset category ids [M]."""

    masks: np.ndarray
    category_ids: np.ndarray
