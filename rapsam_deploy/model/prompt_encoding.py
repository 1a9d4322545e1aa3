"""Box prompts to query embeddings, as the official inference encodes them (no noise).

A prompt box (xyxy, normalised to [0, 1] by the resized image size) becomes (cx, cy, w, h),
goes through ``inverse_sigmoid`` and back through ``sigmoid`` (the official round trip, which
clamps to [1e-5, 1 - 1e-5]), and is sine-encoded (128 frequencies per coordinate, y/x/w/h
order), then ``pos_linear`` maps the 512-d code to a query that is added to the prompt-kind
embedding and the mask token.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """[..., 4] (x1, y1, x2, y2) -> [..., 4] (cx, cy, w, h)."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """log(x / (1 - x)) with x clamped to [0, 1] and both terms to >= eps (MMDetection's)."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def _sine(values: Tensor, dim_t: Tensor) -> Tensor:
    """[B,N] -> [B,N,F]: interleaved sin/cos of ``values / dim_t``."""
    pos = values[..., None] / dim_t
    return torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(2)


def coordinate_to_encoding(
    coords: Tensor, num_feats: int = 128, temperature: int = 10000, scale: float = 2 * math.pi
) -> Tensor:
    """Sine encoding of boxes (MMDetection's): [B,N,4] (cx, cy, w, h) -> [B,N,4*num_feats]
    in the order (y, x, w, h)."""
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=coords.device)
    dim_t = temperature ** (2 * torch.div(dim_t, 2, rounding_mode="floor") / num_feats)
    pos_x = _sine(coords[..., 0] * scale, dim_t)
    pos_y = _sine(coords[..., 1] * scale, dim_t)
    pos_w = _sine(coords[..., 2] * scale, dim_t)
    pos_h = _sine(coords[..., 3] * scale, dim_t)
    return torch.cat((pos_y, pos_x, pos_w, pos_h), dim=-1)


def box_code(prompt_boxes: Tensor) -> Tensor:
    """[B,N,4] normalised xyxy -> [B,N,512] sine code of the (clamped) cxcywh box."""
    return coordinate_to_encoding(inverse_sigmoid(xyxy_to_cxcywh(prompt_boxes)).sigmoid())
