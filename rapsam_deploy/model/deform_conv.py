"""Modulated deformable convolution (DCNv2) with mmcv's semantics, without mmcv or torchvision.

Semantics (mmcv ``ModulatedDeformConv2d``, deform_groups = groups = 1, no bias): for output
pixel (y, x) and kernel tap k = (i, j), sample the input bilinearly at
``(y*stride - pad + i*dilation + dy_k, x*stride - pad + j*dilation + dx_k)`` (samples outside
the image read 0), multiply by the modulation ``mask_k`` and convolve with the weight.

- ``offset`` [B, 2*kh*kw, Ho, Wo]: (dy, dx) pairs per tap, the layout shared by mmcv,
  torchvision and ONNX ``DeformConv``;
- ``mask`` [B, kh*kw, Ho, Wo]: modulation, already through the sigmoid.

Two forms, selected per module by ``ModulatedDeformConv2d.impl``:

- ``"op"``: the ``rapsam::modulated_deform_conv2d`` custom op. Its PyTorch body is the
  decomposition below; ONNX export maps it to one native ``DeformConv`` node (opset 19).
- ``"decomposed"``: the same computation inlined as plain ops (``grid_sample`` + 1x1 conv), the
  fallback for TensorRT versions that cannot parse ``DeformConv`` and runtimes without it.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import register_flop_formula

DeformImpl = Literal["op", "decomposed"]
DEFORM_IMPLS: tuple[str, ...] = ("op", "decomposed")


def deform_conv2d_decomposed(
    x: Tensor,
    offset: Tensor,
    mask: Tensor,
    weight: Tensor,
    stride: int = 1,
    padding: int = 1,
    dilation: int = 1,
) -> Tensor:
    """DCNv2 as ``grid_sample`` (bilinear, zero padding) + one 1x1 convolution.

    Shapes: x [B,C,H,W], offset [B,2K,Ho,Wo], mask [B,K,Ho,Wo], weight [O,C,kh,kw] with
    K = kh*kw; returns [B,O,Ho,Wo].

    Every size comes from the tensors and no reshape names B, so that ``torch.export`` keeps B,
    H and W symbolic: ONNX graphs traced at batch 1 must run at any batch and size.
    """
    height, width = x.shape[-2:]
    out_ch, channels, kh, kw = weight.shape
    taps = kh * kw
    out_h, out_w = offset.shape[-2:]
    # Strided channel slices, not a reshape to [B, K, 2, Ho, Wo]: ``offset`` is usually a channel
    # slice of the offset conv's output, and reshaping that non-contiguous view guards B == 1.
    offset_y, offset_x = offset[:, 0::2], offset[:, 1::2]  # [B, K, Ho, Wo] each

    rows = torch.arange(out_h, device=x.device, dtype=x.dtype) * stride - padding
    cols = torch.arange(out_w, device=x.device, dtype=x.dtype) * stride - padding
    tap_rows = (torch.arange(kh, device=x.device, dtype=x.dtype) * dilation).repeat_interleave(kw)
    tap_cols = (torch.arange(kw, device=x.device, dtype=x.dtype) * dilation).repeat(kh)
    sample_y = rows.view(1, 1, out_h, 1) + tap_rows.view(1, taps, 1, 1) + offset_y
    sample_x = cols.view(1, 1, 1, out_w) + tap_cols.view(1, taps, 1, 1) + offset_x

    # grid_sample with align_corners=False maps normalised g to pixel ((g + 1) * size - 1) / 2.
    grid = torch.stack(((2 * sample_x + 1) / width - 1, (2 * sample_y + 1) / height - 1), dim=-1)  # [B, K, Ho, Wo, 2]
    sampled = F.grid_sample(
        x, grid.flatten(1, 2), mode="bilinear", padding_mode="zeros", align_corners=False
    )  # [B, C, K*Ho, Wo]
    columns = (sampled.unflatten(2, (taps, out_h)) * mask.unsqueeze(1)).flatten(1, 2)  # [B, C*K, Ho, Wo]
    # A 1x1 convolution, not matmul(weight [O, C*K], columns [B, C*K, Ho*Wo]): the broadcast
    # matmul's decomposition reshapes the weight expanded to B, which guards B == 1 too.
    return F.conv2d(columns, weight.reshape(out_ch, channels * taps, 1, 1))


@torch.library.custom_op("rapsam::modulated_deform_conv2d", mutates_args=())
def modulated_deform_conv2d(
    x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, stride: int, padding: int, dilation: int
) -> Tensor:
    """Custom-op form of :func:`deform_conv2d_decomposed` (one node when exported)."""
    return deform_conv2d_decomposed(x, offset, mask, weight, stride, padding, dilation)


@modulated_deform_conv2d.register_fake
def _(x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, stride: int, padding: int, dilation: int) -> Tensor:
    return x.new_empty((x.shape[0], weight.shape[0], offset.shape[2], offset.shape[3]))


@register_flop_formula(torch.ops.rapsam.modulated_deform_conv2d)
def _flops(x_shape, offset_shape, mask_shape, weight_shape, *args, out_shape=None, **kwargs) -> int:
    """Counted as the equivalent dense convolution (2 FLOPs per multiply-add), as mmcv and
    fvcore count DCN; the bilinear sampling is not counted."""
    batch, _, out_h, out_w = offset_shape
    out_ch, in_ch, kh, kw = weight_shape
    return 2 * batch * out_ch * in_ch * kh * kw * out_h * out_w


class ModulatedDeformConv2d(nn.Module):
    """mmcv-compatible DCNv2 layer (parameter ``weight`` [O,C,k,k], no bias).

    ``forward(x [B,C,H,W], offset [B,2k*k,Ho,Wo], mask [B,k*k,Ho,Wo]) -> [B,O,Ho,Wo]``.
    """

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, padding: int = 1, dilation: int = 1
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_ch, in_ch, kernel, kernel))
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.impl: DeformImpl = "op"

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        if self.impl == "op":
            return modulated_deform_conv2d(x, offset, mask, self.weight, self.stride, self.padding, self.dilation)
        return deform_conv2d_decomposed(x, offset, mask, self.weight, self.stride, self.padding, self.dilation)


def set_deform_impl(module: nn.Module, impl: DeformImpl) -> None:
    """Select the form of every deformable convolution inside ``module``."""
    if impl not in DEFORM_IMPLS:
        raise ValueError(f"deformable-convolution form must be one of {DEFORM_IMPLS}, not {impl!r}")
    for m in module.modules():
        if isinstance(m, ModulatedDeformConv2d):
            m.impl = impl
