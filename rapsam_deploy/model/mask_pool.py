"""Hard-mask sum pooling, the first half of the fused op (DESIGN.md, "The fused op")."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

_observers: list[Callable[[Tensor], None]] = []


@contextlib.contextmanager
def observe_hard_masks(observer: Callable[[Tensor], None]) -> Iterator[None]:
    """Call ``observer`` with each hard mask (bool [B,N,H,W]) computed inside the block, in
    order: the export's validation feeds the reference's own masks to the graphs with them."""
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


def hard_masks(mask_logits: Tensor) -> Tensor:
    """Binary masks from logits: 1 where logit > 0 (sigmoid > 0.5), else 0; same dtype."""
    above = mask_logits > 0
    for observer in _observers:
        observer(above)
    return above.to(mask_logits.dtype)


def mask_pool(mask_logits: Tensor, features: Tensor) -> Tensor:
    """Sum of the features under each hard mask, not divided by the area (as the official).

    mask_logits [B,N,H,W], features [B,C,H,W] -> pooled [B,N,C].
    """
    masks = hard_masks(mask_logits).to(features.dtype)
    return torch.matmul(masks.flatten(2), features.flatten(2).transpose(1, 2))


def masks_from_kernels(kernels: Tensor, features: Tensor) -> Tensor:
    """Mask logits as the dot product of each kernel with every pixel's feature.

    kernels [B,N,C], features [B,C,H,W] -> mask logits [B,N,H,W].
    """
    batch, channels, height, width = features.shape
    logits = torch.matmul(kernels, features.reshape(batch, channels, height * width))
    return logits.reshape(batch, kernels.shape[1], height, width)
