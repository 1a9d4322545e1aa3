"""Parameter counts and FLOPs of the model, per part.

FLOPs come from PyTorch's own counter (``torch.utils.flop_counter``): 2 FLOPs per
multiply-add of every convolution and matrix product (the deformable convolution counted as the
dense convolution it modulates); element-wise ops, norms and softmax are not counted. Papers
often quote multiply-adds as "FLOPs": that is half these figures (``macs``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..artifacts import contract
from .attention import fold_key_projections
from .rapsam import RapSam

# Parts by state-dict prefix; every parameter belongs to exactly one. The encoder graph is the
# backbone and the neck; the other parts are the graphs of their names.
PARTS: dict[str, tuple[str, ...]] = {
    "backbone": ("backbone.",),
    "neck": ("neck.",),
    contract.PROMPT_ENCODER.name: (
        "panoptic_head.mask_tokens.",
        "panoptic_head.pb_embedding.",
        "panoptic_head.pos_linear.",
    ),
    contract.DECODER.name: ("panoptic_head.kernels.", "panoptic_head.mask_heads."),
    contract.ADAPTER_OBJECT.name: ("panoptic_head.panoptic_attn.", "panoptic_head.panoptic_cls."),
    contract.ADAPTER_PROMPT.name: (
        "panoptic_head.prompt_attn.",
        "panoptic_head.prompt_norm.",
        "panoptic_head.prompt_iou.",
    ),
}

# The decoder's second run, on the prompts after the image (FlopReport.prompt_extra).
DECODER_PROMPTS = f"{contract.DECODER.name}_prompts"


def parameter_counts(model: RapSam) -> dict[str, int]:
    """Parameters per part (``PARTS``) and ``total``; BatchNorm running statistics excluded."""
    counts = dict.fromkeys(PARTS, 0)
    for name, param in model.named_parameters():
        part = next(p for p, prefixes in PARTS.items() if name.startswith(prefixes))
        counts[part] += param.numel()
    counts["total"] = sum(counts.values())
    return counts


@dataclass(frozen=True)
class FlopReport:
    """FLOPs per part for one image size; ``panoptic`` is one image through
    encoder + decoder + object adapter, ``prompt_extra`` what each prompt batch adds after
    the image is encoded (prompt encoder + decoder + prompt adapter)."""

    image_size: tuple[int, int]
    num_prompts: int
    flops: dict[str, int]

    @property
    def panoptic(self) -> int:
        return sum(self.flops[p] for p in ("backbone", "neck", contract.DECODER.name, contract.ADAPTER_OBJECT.name))

    @property
    def prompt_extra(self) -> int:
        return sum(self.flops[p] for p in (contract.PROMPT_ENCODER.name, DECODER_PROMPTS, contract.ADAPTER_PROMPT.name))


def _count(fn, *args) -> tuple[int, object]:
    with FlopCounterMode(display=False) as counter:
        out = fn(*args)
    return counter.get_total_flops(), out


@torch.no_grad()
def flop_counts(model: RapSam, image_size: tuple[int, int] = (1024, 1024), num_prompts: int = 1) -> FlopReport:
    """FLOPs of every part for one image of ``image_size`` (H, W; multiples of 32), the 100
    object queries, and ``num_prompts`` prompts; the prompt adapter in the form the exported
    graphs run (``attention.folded_attention``)."""
    device = model.object_queries.device
    image = torch.zeros(1, 3, *image_size, device=device)
    flops: dict[str, int] = {}
    x = (image - model.pixel_mean) / model.pixel_std
    flops["backbone"], feats = _count(model.backbone, x)
    flops["neck"], features = _count(model.neck, feats)
    queries = model.object_queries.unsqueeze(0)
    flops[contract.DECODER.name], (kernels, masks, _, _) = _count(
        model.forward_decoder, features, queries, model.object_attn_mask()
    )
    flops[contract.ADAPTER_OBJECT.name], _ = _count(model.forward_adapter_object, features, kernels, masks)

    boxes = torch.tensor([[[0.25, 0.25, 0.75, 0.75]]], device=device).expand(1, num_prompts, 4)
    kinds = torch.ones(1, num_prompts, dtype=torch.long, device=device)
    flops[contract.PROMPT_ENCODER.name], prompt_queries = _count(model.forward_prompt_encoder, boxes, kinds)
    flops[DECODER_PROMPTS], (prompt_kernels, _, _, _) = _count(
        model.forward_decoder, features, prompt_queries, model.prompt_attn_mask(num_prompts, device)
    )
    # As the exported graph computes it (keys folded): projecting every pixel instead would
    # count 17.2 GFLOPs at 1024x1024 that no graph runs.
    fold_key_projections(model, True)
    try:
        flops[contract.ADAPTER_PROMPT.name], _ = _count(model.forward_adapter_prompt, features, prompt_kernels)
    finally:
        fold_key_projections(model, False)
    return FlopReport(tuple(image_size), num_prompts, flops)
