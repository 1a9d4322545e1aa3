"""The fp16 precision policy, applied to a copy of the model before export so that the
precision lives in the graph (TensorRT 11 builds strongly typed networks only).

fp16: backbone, neck convolutions, attention matmuls, FFNs and the mask products. Kept fp32:
the fused mask-pooling + dynamic-conv blocks (pooled sums over up to 65,536 pixels overflow
fp16, and their sigmoid gates and LayerNorms follow), the deformable convolutions (their
sampling positions, pixel index + offset, lose up to 1/8 pixel in fp16 on large maps), every
LayerNorm (fp16 LayerNorm overflow is the
best-known way SAM-family engines lose all accuracy), the softmax (in the attention code), the
cosine classifier, the image normalisation, and the whole prompt encoder (``FP32_GRAPHS``).
Graph inputs and outputs stay fp32.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..artifacts import contract
from . import RapSam
from .classifier import CosineClassifier
from .deform_conv import ModulatedDeformConv2d
from .kernel_updator import MaskPoolDynConv

FP32_MODULES: tuple[type[nn.Module], ...] = (MaskPoolDynConv, ModulatedDeformConv2d, nn.LayerNorm, CosineClassifier)
# fp32 islands whose result stays fp32 (class scores are compared across classes).
FP32_OUTPUT_MODULES: tuple[type[nn.Module], ...] = (CosineClassifier,)
# Graphs with no fp16 form: the fp16 sets of an export share their fp32 file.
FP32_GRAPHS = {
    contract.PROMPT_ENCODER.name: "computes in fp32: [B,N,4] -> [B,N,256] costs nothing and its sine code needs fp32"
}


def _cast_inputs(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args)

    return hook


def _cast_output(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        return output.to(dtype)

    return hook


def _keep_fp32(island: nn.Module, original: nn.Module) -> None:
    """Back to fp32 with the original's values, not their fp16 roundings."""
    island.float()
    values = dict(original.named_parameters()) | dict(original.named_buffers())
    with torch.no_grad():
        for name, tensor in [*island.named_parameters(), *island.named_buffers()]:
            tensor.copy_(values[name])


def half_precision(model: RapSam) -> RapSam:
    """A copy of ``model`` computing in fp16 with the fp32 islands of the policy."""
    half = copy.deepcopy(model).half()
    half.pixel_mean = model.pixel_mean.float()
    half.pixel_std = model.pixel_std.float()
    half.backbone.register_forward_pre_hook(_cast_inputs(torch.float16))
    originals = dict(model.named_modules())
    for name in ("pb_embedding", "mask_tokens", "pos_linear"):  # the prompt encoder (FP32_GRAPHS)
        _keep_fp32(getattr(half.panoptic_head, name), getattr(model.panoptic_head, name))
    for name, module in half.named_modules():
        if isinstance(module, FP32_MODULES):
            _keep_fp32(module, originals[name])
            module.register_forward_pre_hook(_cast_inputs(torch.float32))
            if not isinstance(module, FP32_OUTPUT_MODULES):
                module.register_forward_hook(_cast_output(torch.float16))
    return half
