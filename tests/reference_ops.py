"""Direct references for tests, written from the operators' definitions (not from our model)."""

from __future__ import annotations

import torch
from torch import Tensor


def bilinear_zero_padded(image: Tensor, y: Tensor, x: Tensor) -> Tensor:
    """Sample image [C,H,W] at float pixel positions y, x (same shape S) -> [C,*S].

    mmcv's ``dmcn_im2col_bilinear``: positions with y <= -1, x <= -1, y >= H or x >= W read 0;
    otherwise the 4 neighbours, each outside the image reading 0.
    """
    channels, height, width = image.shape
    inside = (y > -1) & (x > -1) & (y < height) & (x < width)
    y0, x0 = torch.floor(y), torch.floor(x)
    ly, lx = y - y0, x - x0
    out = torch.zeros((channels, *y.shape), dtype=image.dtype)
    for dy, dx, weight in ((0, 0, (1 - ly) * (1 - lx)), (0, 1, (1 - ly) * lx), (1, 0, ly * (1 - lx)), (1, 1, ly * lx)):
        yy, xx = (y0 + dy).long(), (x0 + dx).long()
        valid = inside & (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        values = image[:, yy.clamp(0, height - 1), xx.clamp(0, width - 1)]
        out += torch.where(valid, weight, torch.zeros_like(weight)) * values
    return out


def modulated_deform_conv2d_direct(
    x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, stride: int = 1, padding: int = 1, dilation: int = 1
) -> Tensor:
    """DCNv2 by definition (mmcv's im2col loop, vectorised over pixels). offset channel 2k is
    dy and 2k+1 dx of tap k = i*kw + j; mask channel k its modulation."""
    batch, channels, _, _ = x.shape
    out_ch, _, kh, kw = weight.shape
    out_h, out_w = offset.shape[-2:]
    rows = (torch.arange(out_h) * stride - padding).view(out_h, 1).to(x.dtype)
    cols = (torch.arange(out_w) * stride - padding).view(1, out_w).to(x.dtype)
    out = torch.zeros(batch, out_ch, out_h, out_w, dtype=x.dtype)
    for b in range(batch):
        columns = []
        for i in range(kh):
            for j in range(kw):
                k = i * kw + j
                y = rows + i * dilation + offset[b, 2 * k]
                xx = cols + j * dilation + offset[b, 2 * k + 1]
                columns.append(bilinear_zero_padded(x[b], y, xx) * mask[b, k])
        sampled = torch.stack(columns, dim=1)  # [C, K, Ho, Wo]
        out[b] = torch.einsum(
            "ocij,cijhw->ohw", weight.double(), sampled.double().view(channels, kh, kw, out_h, out_w)
        ).to(x.dtype)
    return out
