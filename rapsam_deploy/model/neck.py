"""The official ``YOSONeck``: a lite deformable FPN that turns the 4 backbone maps into one
stride-4 feature map with coordinate channels.

Top-down: each level goes through a modulated deformable 3x3 conv, BatchNorm, ReLU, a 2x
transposed-conv upsampling, BatchNorm, ReLU, and is added to the next lateral 1x1 conv. CFA
fusion then projects the 4 levels to ``agg_dim`` channels, upsamples them bilinearly to stride 4,
sums them with a learned bias and applies a 3x3 conv; two coordinate channels (x, y in [-1, 1])
are appended and ``loc_conv`` (1x1) gives the ``hidden_dim`` output.

State-dict names follow the official module (``deconv.lateral_conv0``, ``deconv.deform_conv1
.dcn_offset`` ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .deform_conv import ModulatedDeformConv2d


class DeformLayer(nn.Module):
    """DCNv2 3x3 -> BN -> ReLU -> ConvTranspose 4x4/2 -> BN -> ReLU: [B,Ci,h,w] -> [B,Co,2h,2w]."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        # 27 = 9 taps x (dy, dx, modulation).
        self.dcn_offset = nn.Conv2d(in_ch, 27, kernel_size=3, padding=1)
        self.dcn = ModulatedDeformConv2d(in_ch, out_ch, kernel=3, stride=1, padding=1)
        self.dcn_bn = nn.BatchNorm2d(out_ch)
        self.up_sample = nn.ConvTranspose2d(out_ch, out_ch, kernel_size=4, stride=2, padding=1, bias=False)
        self.up_bn = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        offset_mask = self.dcn_offset(x)
        # The official code chunks into 3 and re-concatenates the first two: the same channels.
        offset = offset_mask[:, :18]
        mask = offset_mask[:, 18:].sigmoid()
        x = self.relu(self.dcn_bn(self.dcn(x, offset, mask)))
        return self.relu(self.up_bn(self.up_sample(x)))


class LiteDeformConv(nn.Module):
    """Top-down deformable FPN + CFA fusion: 4 maps (strides 4..32) -> [B, agg_dim, H/4, W/4]."""

    def __init__(self, agg_dim: int, backbone_channels: tuple[int, int, int, int]) -> None:
        super().__init__()
        c2, c3, c4, c5 = backbone_channels
        # Each level keeps half its backbone channels; the top level is agg_dim*2 wide.
        o5, o4, o3, o2 = c5 // 2, c4 // 2, c3 // 2, c2 // 2
        self.lateral_conv0 = nn.Conv2d(c5, o5, kernel_size=1)
        self.deform_conv1 = DeformLayer(o5, o4)
        self.lateral_conv1 = nn.Conv2d(c4, o4, kernel_size=1)
        self.deform_conv2 = DeformLayer(o4, o3)
        self.lateral_conv2 = nn.Conv2d(c3, o3, kernel_size=1)
        self.deform_conv3 = DeformLayer(o3, o2)
        self.lateral_conv3 = nn.Conv2d(c2, o2, kernel_size=1)
        self.output_conv = nn.Conv2d(agg_dim, agg_dim, kernel_size=3, padding=1)
        self.bias = nn.Parameter(torch.zeros(1, agg_dim, 1, 1))
        self.conv_a5 = nn.Conv2d(o5, agg_dim, kernel_size=1, bias=False)
        self.conv_a4 = nn.Conv2d(o4, agg_dim, kernel_size=1, bias=False)
        self.conv_a3 = nn.Conv2d(o3, agg_dim, kernel_size=1, bias=False)
        self.conv_a2 = nn.Conv2d(o2, agg_dim, kernel_size=1, bias=False)

    def forward(self, feats: tuple[Tensor, Tensor, Tensor, Tensor]) -> Tensor:
        c2, c3, c4, c5 = feats
        x5 = self.lateral_conv0(c5)
        x4 = self.lateral_conv1(c4) + self.deform_conv1(x5)
        x3 = self.lateral_conv2(c3) + self.deform_conv2(x4)
        x2 = self.lateral_conv3(c2) + self.deform_conv3(x3)

        up5 = F.interpolate(self.conv_a5(x5), scale_factor=8, mode="bilinear", align_corners=False)
        up4 = F.interpolate(self.conv_a4(x4), scale_factor=4, mode="bilinear", align_corners=False)
        up3 = F.interpolate(self.conv_a3(x3), scale_factor=2, mode="bilinear", align_corners=False)
        fused = up5 + up4 + up3 + self.conv_a2(x2) + self.bias
        return self.output_conv(fused)


def _linspace_m1_1(steps: int, like: Tensor) -> Tensor:
    """``torch.linspace(-1, 1, steps)`` (ATen's two-sided formula: exact endpoints, symmetric)
    written with ``arange`` so that exported graphs keep ``steps`` dynamic. It can differ from
    ``linspace`` in the last bit, where ATen fuses the multiply-add."""
    index = torch.arange(steps, device=like.device, dtype=like.dtype)
    last = index[-1]
    step = 2.0 / last
    from_start = -1.0 + step * index
    from_end = 1.0 - step * (last - index)
    return torch.where(index < torch.floor((last + 1) / 2), from_start, from_end)


def coordinate_channels(features: Tensor) -> Tensor:
    """x and y coordinates in [-1, 1] of every pixel: [B,*,H,W] -> [B,2,H,W] (x first)."""
    batch, _, height, width = features.shape
    xs = _linspace_m1_1(width, features).view(1, 1, 1, width).expand(batch, 1, height, width)
    ys = _linspace_m1_1(height, features).view(1, 1, height, 1).expand(batch, 1, height, width)
    return torch.cat([xs, ys], dim=1)


class YOSONeck(nn.Module):
    """4 backbone maps -> features [B, hidden_dim, H/4, W/4]."""

    def __init__(self, backbone_channels: tuple[int, int, int, int], agg_dim: int = 128, hidden_dim: int = 256) -> None:
        super().__init__()
        self.deconv = LiteDeformConv(agg_dim, backbone_channels)
        self.loc_conv = nn.Conv2d(agg_dim + 2, hidden_dim, kernel_size=1)

    def forward(self, feats: tuple[Tensor, Tensor, Tensor, Tensor]) -> Tensor:
        x = self.deconv(feats)
        return self.loc_conv(torch.cat([x, coordinate_channels(x)], dim=1))

    def init_official(self) -> None:
        """The official initialisation: Xavier-uniform for every parameter of rank > 1
        (including the offset convs and the CFA bias), zero offset biases, PyTorch defaults
        otherwise."""
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for layer in (self.deconv.deform_conv1, self.deconv.deform_conv2, self.deconv.deform_conv3):
            nn.init.zeros_(layer.dcn_offset.bias)
