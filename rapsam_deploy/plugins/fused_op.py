"""``RapSamMaskPoolDynConv`` on torch tensors through ``librapsam_ops``: the C++ reference for CPU
tensors, the CUDA kernels for CUDA tensors (DESIGN.md, "The fused op")."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..artifacts.contract import FUSED_OP_EPS, FUSED_OP_WEIGHTS
from .abi import DTYPE_FLOAT16, DTYPE_FLOAT32, STATUS_OK, Shape, UpdatorWeights, last_error, ops_library
from .errors import FusedOpError

_DTYPES = {torch.float32: DTYPE_FLOAT32, torch.float16: DTYPE_FLOAT16}

Updator = nn.Module | Sequence[Tensor]


def updator_tensors(updator: Updator) -> list[Tensor]:
    """The KernelUpdator's 20 tensors in the contract's ``FUSED_OP_WEIGHTS`` order.

    ``updator`` is a ``KernelUpdator`` (its state-dict names are the contract's) or the 20 tensors.
    """
    if isinstance(updator, nn.Module):
        state = updator.state_dict()
        missing = [name for name in FUSED_OP_WEIGHTS if name not in state]
        if missing:
            raise FusedOpError(f"the module has no {', '.join(missing)}", "pass a KernelUpdator or its 20 tensors")
        return [state[name] for name in FUSED_OP_WEIGHTS]
    tensors = list(updator)
    if len(tensors) != len(FUSED_OP_WEIGHTS):
        raise FusedOpError(
            f"expected {len(FUSED_OP_WEIGHTS)} KernelUpdator tensors, got {len(tensors)}",
            f"pass them in the order {', '.join(FUSED_OP_WEIGHTS)}",
        )
    return tensors


def _expected_weight_shape(name: str, channels: int) -> tuple[int, ...]:
    rows = 2 * channels if name.split(".")[0] in ("dynamic_layer", "input_layer") else channels
    return (rows, channels) if name.endswith("weight") and "norm" not in name else (rows,)


def _check_activations(mask_logits: Tensor, features: Tensor, kernels: Tensor) -> None:
    if mask_logits.dim() != 4 or features.dim() != 4 or kernels.dim() != 3:
        raise FusedOpError(
            "expected mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C], got "
            f"{tuple(mask_logits.shape)}, {tuple(features.shape)}, {tuple(kernels.shape)}"
        )
    batch, queries, height, width = mask_logits.shape
    if tuple(features.shape) != (batch, features.shape[1], height, width) or tuple(kernels.shape) != (
        batch,
        queries,
        features.shape[1],
    ):
        raise FusedOpError(
            "inconsistent shapes: mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C], got "
            f"{tuple(mask_logits.shape)}, {tuple(features.shape)}, {tuple(kernels.shape)}"
        )
    if not (mask_logits.dtype == features.dtype == kernels.dtype) or mask_logits.dtype not in _DTYPES:
        raise FusedOpError(
            f"mask_logits, features and kernels must all be float32 or all float16, got "
            f"{mask_logits.dtype}, {features.dtype}, {kernels.dtype}"
        )
    if not (mask_logits.device == features.device == kernels.device):
        raise FusedOpError("mask_logits, features and kernels must be on the same device")


def _prepare_weights(tensors: list[Tensor], channels: int, device: torch.device) -> list[Tensor]:
    prepared = []
    for name, tensor in zip(FUSED_OP_WEIGHTS, tensors, strict=True):
        expected = _expected_weight_shape(name, channels)
        if tuple(tensor.shape) != expected:
            raise FusedOpError(f"{name} has shape {tuple(tensor.shape)}, expected {expected} for C = {channels}")
        prepared.append(tensor.detach().to(device=device, dtype=torch.float32).contiguous())
    return prepared


def _shape(mask_logits: Tensor, channels: int) -> Shape:
    batch, queries, height, width = mask_logits.shape
    return Shape(batch, queries, channels, height, width)


def _pointer(tensor: Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(tensor.data_ptr())


def _run_cpu(args: tuple, out: Tensor) -> None:
    lib = ops_library()
    status = lib.rapsam_mask_pool_dynconv_cpu(*args, _pointer(out))
    if status != STATUS_OK:
        raise FusedOpError(f"CPU reference failed: {last_error(lib, status)}")


def _run_cuda(args: tuple, shape: Shape, out: Tensor) -> None:
    lib = ops_library()
    if not lib.rapsam_cuda_available():
        raise FusedOpError(
            "librapsam_ops was built without the CUDA kernels",
            "rebuild with nvcc on PATH: `bash .ci/build_plugins.sh`",
        )
    size = lib.rapsam_mask_pool_dynconv_cuda_workspace_size(ctypes.byref(shape))
    # Freed tensors go back to the caching allocator for this stream only, so the workspace and
    # converted weights stay valid for the kernels enqueued below.
    workspace = torch.empty(max(size, 1), dtype=torch.uint8, device=out.device)
    stream = ctypes.c_void_p(torch.cuda.current_stream(out.device).cuda_stream)
    with torch.cuda.device(out.device):
        status = lib.rapsam_mask_pool_dynconv_cuda(*args, _pointer(out), _pointer(workspace), size, stream)
    if status != STATUS_OK:
        raise FusedOpError(f"CUDA kernels failed: {last_error(lib, status)}")


def mask_pool_dynconv(
    mask_logits: Tensor, features: Tensor, kernels: Tensor, updator: Updator, eps: float = FUSED_OP_EPS
) -> Tensor:
    """Hard-mask sum pooling followed by the official KernelUpdator, fused.

    Same result as ``KernelUpdator()(mask_pool(mask_logits, features), kernels)``, with every sum
    accumulated in fp32 or wider (also for fp16 inputs, whose pooled sums would overflow fp16).

    Args:
        mask_logits: [B,N,H,W]; a pixel belongs to query n where its logit is > 0.
        features: [B,C,H,W] (H may be T*Hf for stacked video frames).
        kernels: [B,N,C], the current kernels (the updator's ``input_feature``).
        updator: a ``KernelUpdator`` or its 20 tensors in ``contract.FUSED_OP_WEIGHTS`` order (used as fp32).
        eps: LayerNorm epsilon.

    Returns:
        New kernels [B,N,C] in the activations' dtype (all three float32 or all float16). CPU tensors
        run the C++ reference, CUDA tensors the CUDA kernels on the current stream.
    """
    _check_activations(mask_logits, features, kernels)
    channels = features.shape[1]
    weights = _prepare_weights(updator_tensors(updator), channels, kernels.device)
    activations = [t.contiguous() for t in (mask_logits, features, kernels)]
    out = torch.empty_like(activations[2])
    shape = _shape(mask_logits, channels)
    args = (
        ctypes.byref(shape),
        _DTYPES[mask_logits.dtype],
        *(_pointer(t) for t in activations),
        ctypes.byref(UpdatorWeights(*(w.data_ptr() for w in weights))),
        eps,
    )
    if kernels.device.type == "cuda":
        _run_cuda(args, shape, out)
    elif kernels.device.type == "cpu":
        _run_cpu(args, out)
    else:
        raise FusedOpError(f"tensors on {kernels.device} are not supported", "use CPU or CUDA tensors")
    return out


def cuda_kernels_available() -> bool:
    """Whether ``librapsam_ops`` was built with the CUDA kernels (not whether a GPU is present)."""
    return bool(ops_library().rapsam_cuda_available())
