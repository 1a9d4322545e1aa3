"""Where an image's pixels went (``ImageMeta``) as the INT64 [6] tensor that travels from the
preprocessing model to post-processing: original, resized and padded (H, W)."""

from __future__ import annotations

import numpy as np

from ...predict.preprocess import ImageMeta


def meta_to_array(meta: ImageMeta) -> np.ndarray:
    return np.array([*meta.ori_shape, *meta.img_shape, *meta.pad_shape], dtype=np.int64)


def meta_from_array(values: np.ndarray) -> ImageMeta:
    v = [int(x) for x in np.asarray(values).reshape(-1)]
    return ImageMeta((v[0], v[1]), (v[2], v[3]), (v[4], v[5]))
