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

``mixed_precision`` is the measuring form of the same rules: the fp32 model with only some named
blocks (``BLOCKS``) in a lower precision (fp16 or bf16), their fp32 islands kept, so that each
block's share of the error can be measured (``benchmarks/precision_blocks.py``).

int8 (``export.quantize``, on the fp32 ONNX graphs): the weights and inputs of the graphs'
convolutions and matrix products (``INT8_OPS``) in symmetric int8, calibrated on sample photos;
the same fp32 islands and graphs as fp16, plus the blocks in ``INT8_FP32_BLOCKS``
(:func:`int8_keeps_fp32` decides per module).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

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
# Graphs with no reduced-precision form: the fp16 and int8 sets of an export share their fp32 file.
FP32_GRAPHS = {
    contract.PROMPT_ENCODER.name: "computes in fp32: [B,N,4] -> [B,N,256] costs nothing and its sine code needs fp32"
}


# Blocks (``BLOCKS``) an fp16 export keeps in fp32 beyond the islands: none. Measured with
# ``benchmarks/precision_blocks.py`` (README, "Reduced precision, block by block"): fp16 everywhere
# else keeps the chain within the model's own response to 8-bit rounding noise for r18 and r50
# at 512 and 1024, and meets the absolute gates where that floor can tell (r18 at 1024).
FP16_FP32_BLOCKS: tuple[str, ...] = ()


# int8: the ONNX op types quantized (weights per output channel, inputs per tensor; biases stay
# fp32, as TensorRT takes them), and the calibration: the inputs each graph sees in the fp32
# PyTorch chain on these scikit-image photos, none of them a validation photo (``data.cat`` is
# ``data.chelsea``, which the validation uses), batch 1 at the export's size.
INT8_OPS = ("Conv", "MatMul", "Gemm")
INT8_CALIBRATION_PHOTOS = ("rocket", "immunohistochemistry", "hubble_deep_field", "colorwheel", "stereo_motorcycle",
                           "retina")  # fmt: skip
# Percentile (99.999%, ``quantize_static``'s default) over MinMax and Entropy: the closest chain
# to fp32 at 1024x1024 (r18, every block in int8: mask IoU mean 0.875 against MinMax's 0.854,
# prompt IoU 0.865 against 0.765), level with MinMax at 512; Entropy is the furthest at 512.
INT8_CALIBRATION_METHOD = "percentile"
# Blocks (``BLOCKS``) an int8 export keeps in fp32 beyond the islands: the backbone and the neck's
# offset and fusion convs, so int8 covers the neck's lateral convs, the decoder, the adapters and
# the mask products. Measured with ``benchmarks/int8_blocks.py`` (README, "int8"), r18 with
# random weights, against the gates for untrained weights (the fp32 model's response to 8-bit
# rounding noise on the photos): every block in int8 misses them at 512 and 1024 (mask IoU mean
# 0.80 and 0.88), and every backbone stage alone misses them at 512 (the stem's int8 input step
# is 1.2 gray levels, coarser than the photo's own). The greedy search and its pruning pass keep
# these blocks fp32 at 512 and all but neck.offsets at 1024; this union meets the gates at 512
# and misses class agreement at 1024 by 3 of 200 queries. Trained weights need measuring again.
INT8_FP32_BLOCKS: tuple[str, ...] = (
    "backbone.stem",
    "backbone.layer1",
    "backbone.layer2",
    "backbone.layer3",
    "backbone.layer4",
    "neck.offsets",
    "neck.fusion",
)


def policy(precision: str) -> dict:
    """What ``precision``'s graphs compute in, as the manifest records it."""
    if precision == "fp32":
        return {"compute": "fp32"}
    if precision == "int8":
        return {
            "compute": "int8 (QDQ: symmetric, zero points 0, weights per output channel, biases fp32)",
            "quantized_ops": list(INT8_OPS),
            "inputs_outputs": "fp32",
            "fp32_modules": [cls.__name__ for cls in FP32_MODULES],
            "fp32_blocks": list(INT8_FP32_BLOCKS),
            "fp32_graphs": sorted(FP32_GRAPHS),
            "calibration": {
                "method": INT8_CALIBRATION_METHOD,
                "photos": [f"skimage.data.{name}" for name in INT8_CALIBRATION_PHOTOS],
                "inputs": "each graph's inputs in the fp32 PyTorch chain, batch 1 at the export's size",
            },
            "measured_by": "benchmarks/int8_blocks.py",
        }
    return {
        "compute": precision,
        "inputs_outputs": "fp32",
        "fp32_modules": [cls.__name__ for cls in FP32_MODULES],
        "fp32_blocks": list(FP16_FP32_BLOCKS),
        "fp32_graphs": sorted(FP32_GRAPHS),
        "softmax": "fp32",
        "measured_by": "benchmarks/precision_blocks.py",
    }


def _cast_inputs(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: tuple) -> tuple:
        return tuple(a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args)

    return hook


def _cast_output(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: tuple, output: Tensor | tuple) -> Tensor | tuple:
        if isinstance(output, tuple):
            return tuple(o.to(dtype) if isinstance(o, Tensor) and o.is_floating_point() else o for o in output)
        return output.to(dtype) if output.is_floating_point() else output

    return hook


def _keep_fp32(island: nn.Module, original: nn.Module) -> None:
    """Back to fp32 with the original's values, not their fp16 roundings."""
    island.float()
    values = dict(original.named_parameters()) | dict(original.named_buffers())
    with torch.no_grad():
        for name, tensor in [*island.named_parameters(), *island.named_buffers()]:
            tensor.copy_(values[name])


def _islands_fp32(part: nn.Module, originals: dict[int, nn.Module], dtype: torch.dtype) -> None:
    """The policy's fp32 islands inside ``part`` (a low-precision copy) back to fp32, with fp32
    inputs and ``dtype`` outputs; ``part`` itself is left as it is."""
    for name, module in part.named_modules():
        if name and isinstance(module, FP32_MODULES):
            _keep_fp32(module, originals[id(module)])
            module.register_forward_pre_hook(_cast_inputs(torch.float32))
            if not isinstance(module, FP32_OUTPUT_MODULES):
                module.register_forward_hook(_cast_output(dtype))


def _originals(copied: nn.Module, model: nn.Module) -> dict[int, nn.Module]:
    """Each module of ``copied`` (a deep copy of ``model``) by id -> the module it was copied from."""
    pairs = zip(copied.named_modules(remove_duplicate=False), model.named_modules(remove_duplicate=False), strict=True)
    return {id(copy_): original for (_, copy_), (_, original) in pairs}


def half_precision(model: RapSam) -> RapSam:
    """A copy of ``model`` computing in fp16 with the fp32 islands of the policy."""
    half = copy.deepcopy(model).half()
    half.pixel_mean = model.pixel_mean.float()
    half.pixel_std = model.pixel_std.float()
    half.backbone.register_forward_pre_hook(_cast_inputs(torch.float16))
    for name in ("pb_embedding", "mask_tokens", "pos_linear"):  # the prompt encoder (FP32_GRAPHS)
        _keep_fp32(getattr(half.panoptic_head, name), getattr(model.panoptic_head, name))
    _islands_fp32(half, _originals(half, model), torch.float16)
    return half


_LEVELS = (1, 2, 3)  # the neck's deformable levels (deform_conv1..3)
# The model's parts that a precision policy decides on, as the module paths they hold.
BLOCKS: dict[str, tuple[str, ...]] = {
    "backbone.stem": ("backbone.conv1", "backbone.bn1"),
    **{f"backbone.layer{i}": (f"backbone.layer{i}",) for i in (1, 2, 3, 4)},
    "neck.lateral": tuple(f"neck.deconv.lateral_conv{i}" for i in (0, 1, 2, 3)),
    "neck.offsets": tuple(f"neck.deconv.deform_conv{i}.dcn_offset" for i in _LEVELS),
    "neck.sampling": tuple(f"neck.deconv.deform_conv{i}.dcn" for i in _LEVELS),
    "neck.upsampling": tuple(
        f"neck.deconv.deform_conv{i}.{part}" for i in _LEVELS for part in ("dcn_bn", "up_sample", "up_bn")
    ),
    "neck.fusion": (*(f"neck.deconv.conv_a{i}" for i in (2, 3, 4, 5)), "neck.deconv.output_conv", "neck.loc_conv"),
    **{f"decoder.stage{i}": (f"panoptic_head.mask_heads.{i}",) for i in (0, 1, 2)},
    contract.ADAPTER_OBJECT.name: ("panoptic_head.panoptic_attn", "panoptic_head.panoptic_cls"),
    contract.ADAPTER_PROMPT.name: (
        "panoptic_head.prompt_attn",
        "panoptic_head.prompt_norm",
        "panoptic_head.prompt_iou",
    ),
}


def mixed_precision(model: RapSam, dtype: torch.dtype, blocks: Iterable[str]) -> RapSam:
    """A copy of ``model`` in fp32 but for ``blocks`` (names of ``BLOCKS``), which compute in
    ``dtype`` (float16 or bfloat16) from inputs rounded to it, with the policy's fp32 islands
    inside them kept. A block made of islands only (``neck.sampling``) is lowered whole: that is
    how its own share is measured. Outputs go on in fp32, as between the graphs of an export."""
    mixed = copy.deepcopy(model)
    modules = dict(mixed.named_modules())
    originals = _originals(mixed, model)
    for block in blocks:
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}: one of {sorted(BLOCKS)}")
        parts = [modules[path] for path in BLOCKS[block]]
        only_islands = all(isinstance(part, FP32_MODULES) for part in parts)
        for part in parts:
            if isinstance(part, FP32_MODULES) and not only_islands:
                continue
            part.to(dtype)
            part.register_forward_pre_hook(_cast_inputs(dtype))
            part.register_forward_hook(_cast_output(torch.float32))
            _islands_fp32(part, originals, dtype)
    return mixed


def int8_keeps_fp32(model: RapSam, path: str, blocks: Iterable[str] = INT8_FP32_BLOCKS) -> bool:
    """Whether the module at ``path`` (``panoptic_head.mask_heads.0.kernel_update.fc_layer``; ``""``
    is the model) computes in fp32 in int8 graphs: it is, or is inside, an fp32 island
    (``FP32_MODULES``) or a module of one of ``blocks`` (names of ``BLOCKS``)."""
    # Not deduplicated: a module shared by two parents (the classifier) is found by either path.
    modules = dict(model.named_modules(remove_duplicate=False))
    parts = path.split(".") if path else []
    enclosing = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    kept = {p for block in blocks for p in BLOCKS[block]}
    return any(p in kept or isinstance(modules.get(p), FP32_MODULES) for p in enclosing)
