"""The fp16 precision policy, applied to a copy of the model before export so that the
precision lives in the graph (TensorRT 11 builds strongly typed networks only).

fp16: backbone, neck convolutions, attention matmuls, FFNs and the mask products. Kept fp32:
the fused mask-pooling + dynamic-conv blocks (pooled sums over up to 65,536 pixels overflow
fp16, and their sigmoid gates and LayerNorms follow), the deformable convolutions (their
sampling positions, pixel index + offset, lose up to 1/8 pixel in fp16 on large maps), every
LayerNorm (fp16 LayerNorm overflow is the
best-known way SAM-family engines lose all accuracy), the softmax (in the attention code), the
cosine classifier, and the image normalisation. Graph inputs and outputs stay fp32.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from . import RapSam
from .classifier import CosineClassifier
from .deform_conv import ModulatedDeformConv2d
from .kernel_updator import MaskPoolDynConv

FP32_MODULES: tuple[type[nn.Module], ...] = (MaskPoolDynConv, ModulatedDeformConv2d, nn.LayerNorm, CosineClassifier)
# fp32 islands whose result stays fp32 (class scores are compared across classes).
FP32_OUTPUT_MODULES: tuple[type[nn.Module], ...] = (CosineClassifier,)


def _cast_inputs(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args)

    return hook


def _cast_output(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        return output.to(dtype)

    return hook


def half_precision(model: RapSam) -> RapSam:
    """A copy of ``model`` computing in fp16 with the fp32 islands of the policy."""
    half = copy.deepcopy(model).half()
    half.pixel_mean = model.pixel_mean.float()
    half.pixel_std = model.pixel_std.float()
    half.backbone.register_forward_pre_hook(_cast_inputs(torch.float16))
    for module in half.modules():
        if isinstance(module, FP32_MODULES):
            module.float()
            module.register_forward_pre_hook(_cast_inputs(torch.float32))
            if not isinstance(module, FP32_OUTPUT_MODULES):
                module.register_forward_hook(_cast_output(torch.float16))
    return half
