"""The official ``KernelUpdator`` (gated dynamic convolution) and the fused op built on it:
hard-mask pooling + ``KernelUpdator`` (DESIGN.md, "The fused op").

The updator updates each query's kernel with the feature pooled under its mask: two linear maps
give (in, out) halves for the pooled feature and for the kernel, a gate feature
``in_kernel * in_pooled`` drives two sigmoid gates through LayerNorms, and
``update_gate * LN(out_pooled) + input_gate * LN(out_kernel)`` goes through Linear, LayerNorm
and ReLU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..artifacts.contract import FUSED_OP_EPS, FUSED_OP_WEIGHTS
from .mask_pool import mask_pool

FusedImpl = Literal["torch", "op"]


def kernel_update(update_feature: Tensor, input_feature: Tensor, weights: Sequence[Tensor], eps: float) -> Tensor:
    """The updator as a function of its 20 tensors (``FUSED_OP_WEIGHTS`` order).

    update_feature [B,N,C] (pooled feature), input_feature [B,N,C] (kernel) -> [B,N,C].
    """
    (w_dyn, b_dyn, w_in, b_in, w_ig, b_ig, w_ug, b_ug, g_ni, b_ni, g_no, b_no, g_ini, b_ini, g_ino, b_ino) = weights[
        :16
    ]
    w_fc, b_fc, g_fc, b_fcn = weights[16:]
    channels = w_ig.shape[0]
    norm = (channels,)
    parameters = F.linear(update_feature, w_dyn, b_dyn)
    param_in, param_out = parameters[..., :channels], parameters[..., -channels:]
    input_feats = F.linear(input_feature, w_in, b_in)
    input_in, input_out = input_feats[..., :channels], input_feats[..., -channels:]

    gate_feats = input_in * param_in
    input_gate = F.layer_norm(F.linear(gate_feats, w_ig, b_ig), norm, g_ini, b_ini, eps).sigmoid()
    update_gate = F.layer_norm(F.linear(gate_feats, w_ug, b_ug), norm, g_ni, b_ni, eps).sigmoid()
    param_out = F.layer_norm(param_out, norm, g_no, b_no, eps)
    input_out = F.layer_norm(input_out, norm, g_ino, b_ino, eps)

    features = update_gate * param_out + input_gate * input_out
    return F.layer_norm(F.linear(features, w_fc, b_fc), norm, g_fc, b_fcn, eps).relu()


def mask_pool_dynconv(
    mask_logits: Tensor, features: Tensor, kernels: Tensor, weights: Sequence[Tensor], eps: float = FUSED_OP_EPS
) -> Tensor:
    """The fused op by definition: ``kernel_update(mask_pool(mask_logits, features), kernels)``.

    mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C] -> new kernels [B,N,C].
    """
    return kernel_update(mask_pool(mask_logits, features), kernels, weights, eps)


@torch.library.custom_op("rapsam::mask_pool_dynconv", mutates_args=())
def mask_pool_dynconv_op(
    mask_logits: Tensor, features: Tensor, kernels: Tensor, weights: list[Tensor], eps: float
) -> Tensor:
    """Custom-op form of :func:`mask_pool_dynconv`: one ``rapsam::RapSamMaskPoolDynConv`` node
    when exported (the ``plugin`` variant)."""
    return mask_pool_dynconv(mask_logits, features, kernels, weights, eps)


@mask_pool_dynconv_op.register_fake
def _(mask_logits: Tensor, features: Tensor, kernels: Tensor, weights: list[Tensor], eps: float) -> Tensor:
    return torch.empty_like(kernels)


class KernelUpdator(nn.Module):
    """``forward(update_feature [B,N,C], input_feature [B,N,C]) -> [B,N,C]``.

    ``update_feature`` is the mask-pooled feature, ``input_feature`` the current kernel (the
    official argument order). State-dict names as the official module.
    """

    def __init__(self, channels: int = 256) -> None:
        super().__init__()
        self.dynamic_layer = nn.Linear(channels, 2 * channels)
        self.input_layer = nn.Linear(channels, 2 * channels)
        self.input_gate = nn.Linear(channels, channels)
        self.update_gate = nn.Linear(channels, channels)
        self.norm_in = nn.LayerNorm(channels, eps=FUSED_OP_EPS)
        self.norm_out = nn.LayerNorm(channels, eps=FUSED_OP_EPS)
        self.input_norm_in = nn.LayerNorm(channels, eps=FUSED_OP_EPS)
        self.input_norm_out = nn.LayerNorm(channels, eps=FUSED_OP_EPS)
        self.fc_layer = nn.Linear(channels, channels)
        self.fc_norm = nn.LayerNorm(channels, eps=FUSED_OP_EPS)

    def weights(self) -> list[Tensor]:
        """The 20 tensors in ``FUSED_OP_WEIGHTS`` order (the fused op's weight inputs)."""
        params = dict(self.named_parameters())
        return [params[name] for name in FUSED_OP_WEIGHTS]

    def forward(self, update_feature: Tensor, input_feature: Tensor) -> Tensor:
        return kernel_update(update_feature, input_feature, self.weights(), FUSED_OP_EPS)


class MaskPoolDynConv(KernelUpdator):
    """The fused op as a module (state dict of the ``KernelUpdator`` it extends).

    ``forward(mask_logits [B,N,H,W], features [B,C,H,W], kernels [B,N,C]) -> [B,N,C]``.
    ``impl`` is ``"torch"`` (plain ops) or ``"op"`` (the custom op, for the plugin export).
    """

    def __init__(self, channels: int = 256) -> None:
        super().__init__(channels)
        self.impl: FusedImpl = "torch"

    def forward(self, mask_logits: Tensor, features: Tensor, kernels: Tensor) -> Tensor:
        if self.impl == "op":
            return mask_pool_dynconv_op(mask_logits, features, kernels, self.weights(), FUSED_OP_EPS)
        return mask_pool_dynconv(mask_logits, features, kernels, self.weights())


def set_fused_impl(module: nn.Module, impl: FusedImpl) -> None:
    """Select the form of every fused mask-pooling + dynamic-conv block inside ``module``."""
    if impl not in ("torch", "op"):
        raise ValueError(f"fused-op form must be 'torch' or 'op', not {impl!r}")
    for m in module.modules():
        if isinstance(m, MaskPoolDynConv):
            m.impl = impl
