"""COCO run-length encoding of masks, as pycocotools writes it (``{"size": [H, W], "counts":
str}``), without pycocotools: the results JSON of ``rapsam-infer`` (and the C++ demo's) need
only the encoder."""

from __future__ import annotations

import numpy as np


def run_lengths(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of a [H,W] bool mask in column-major order, starting with a run of
    zeros (0 long where the first pixel is set)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(edges).tolist()
    return [0, *runs] if flat[0] else runs


def encode_counts(counts: list[int]) -> str:
    """pycocotools' compressed counts string: each count (from the third on, less the count two
    before) in 5-bit groups, low first, with a continuation bit, as characters from '0'."""
    chars = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            chars.append(chr((c | 0x20 if more else c) + 48))
    return "".join(chars)


def mask_rle(mask: np.ndarray) -> dict:
    """COCO RLE of a [H,W] bool mask, JSON-ready."""
    height, width = mask.shape
    return {"size": [int(height), int(width)], "counts": encode_counts(run_lengths(mask))}
