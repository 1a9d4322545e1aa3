"""Backbones and their registry.

ResNets with MMDetection's state-dict names (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0`` ...), ``style='pytorch'`` (stride on the 3x3 conv of a bottleneck),
BatchNorm in eval mode, no classifier. Each backbone returns 4 feature maps at strides
4, 8, 16, 32, which is what the neck takes.

Adding a backbone is one ``@register_backbone`` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from ..errors import UnknownBackboneError


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: how to build it and the channels of its 4 outputs."""

    name: str
    build: Callable[[], nn.Module]
    out_channels: tuple[int, int, int, int]


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(
    name: str, out_channels: tuple[int, int, int, int]
) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    """Decorator: register a zero-argument backbone factory under ``name``."""

    def wrap(factory: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        _REGISTRY[name] = BackboneSpec(name, factory, out_channels)
        return factory

    return wrap


def backbone_names() -> list[str]:
    """Names of every registered backbone, e.g. ``['r18', 'r50']``."""
    return sorted(_REGISTRY)


def get_backbone_spec(name: str) -> BackboneSpec:
    """The registry entry for ``name``; a clear error listing the choices otherwise."""
    if name not in _REGISTRY:
        raise UnknownBackboneError(
            f"unknown backbone {name!r}",
            f"use one of: {', '.join(backbone_names())}",
        )
    return _REGISTRY[name]


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = _conv(in_ch, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 convolutions with a residual connection (ResNet-50+)."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = _conv(in_ch, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, planes * self.expansion, 1)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet trunk: stem (7x7/2 conv, max-pool) and 4 stages.

    ``forward(image [B,3,H,W])`` returns 4 maps ``[B,C_i,H/s,W/s]`` for s = 4, 8, 16, 32.
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], depths: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_ch = 64
        for index, depth in enumerate(depths):
            planes = 64 * 2**index
            stride = 1 if index == 0 else 2
            layer, in_ch = self._make_layer(block, in_ch, planes, depth, stride)
            self.add_module(f"layer{index + 1}", layer)

    @staticmethod
    def _make_layer(
        block: type[BasicBlock] | type[Bottleneck], in_ch: int, planes: int, depth: int, stride: int
    ) -> tuple[nn.Sequential, int]:
        out_ch = planes * block.expansion
        downsample = None
        if stride != 1 or in_ch != out_ch:
            downsample = nn.Sequential(_conv(in_ch, out_ch, 1, stride), nn.BatchNorm2d(out_ch))
        blocks = [block(in_ch, planes, stride, downsample)]
        blocks += [block(out_ch, planes, 1, None) for _ in range(depth - 1)]
        return nn.Sequential(*blocks), out_ch

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return c2, c3, c4, c5


def init_resnet(module: nn.Module) -> None:
    """Random initialisation as torchvision's ResNet (He-normal convs, unit BatchNorm)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


@register_backbone("r18", out_channels=(64, 128, 256, 512))
def resnet18() -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2))


@register_backbone("r50", out_channels=(256, 512, 1024, 2048))
def resnet50() -> nn.Module:
    return ResNet(Bottleneck, (3, 4, 6, 3))
