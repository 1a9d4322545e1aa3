"""The official ``RapSAMVideoHead`` at inference: prompt encoder, shared decoder and the two
adapters, with the official state-dict names (``panoptic_head.*``).

- prompt encoder: boxes + kinds -> queries;
- shared decoder: initial masks from queries . features, then 3 ``CrossAttenHead`` stages;
  outputs those of the last stage (class scores divided by the temperature 0.1);
- object adapter: one more mask pooling + ``KernelUpdator`` (``panoptic_attn``), new masks and
  cosine class scores (no temperature);
- prompt adapter: cross-attention from the prompt kernels to every pixel feature, identity
  residual, LayerNorm, new masks and IoU.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..artifacts.contract import PROMPT_KINDS
from .attention import ResidualCrossAttention
from .classifier import CosineClassifier
from .cross_atten_head import CrossAttenHead
from .kernel_updator import MaskPoolDynConv
from .mask_pool import masks_from_kernels
from .prompt_encoding import box_code

TEMPERATURE = 0.1


class RapSamHead(nn.Module):
    """Decoder-side parameters and computation of RAP-SAM. Shapes: see each method."""

    def __init__(
        self,
        class_embed: Tensor,
        channels: int = 256,
        num_queries: int = 100,
        num_stages: int = 3,
        num_heads: int = 8,
    ) -> None:
        super().__init__()
        self.classifier = CosineClassifier(class_embed)
        self.mask_tokens = nn.Embedding(1, channels)
        self.pb_embedding = nn.Embedding(PROMPT_KINDS, channels)
        self.pos_linear = nn.Linear(2 * channels, channels)
        self.kernels = nn.Embedding(num_queries, channels)
        self.mask_heads = nn.ModuleList(CrossAttenHead(self.classifier, channels, num_heads) for _ in range(num_stages))
        self.panoptic_attn = MaskPoolDynConv(channels)
        self.panoptic_cls = nn.Sequential(nn.Linear(channels, self.classifier.embed_dim))
        self.prompt_attn = ResidualCrossAttention(channels, num_heads)
        self.prompt_norm = nn.LayerNorm(channels)
        self.prompt_iou = nn.Linear(channels, 1)
        self.temperature = TEMPERATURE

    def encode_prompts(self, prompt_boxes: Tensor, prompt_kinds: Tensor) -> Tensor:
        """prompt_boxes [B,N,4] xyxy in [0,1] of the resized image, prompt_kinds [B,N] int64
        (``pb_embedding`` index) -> queries [B,N,C]."""
        label = self.pb_embedding(prompt_kinds) + self.mask_tokens.weight
        return label + self.pos_linear(box_code(prompt_boxes))

    def decode(
        self, features: Tensor, queries: Tensor, attn_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """features [B,C,Hq,W], queries [B,N,C], attn_mask [N,N] bool (True = may not attend)
        -> (kernels [B,N,C], mask_logits [B,N,Hq,W], class_logits [B,N,K+1], iou [B,N,1])."""
        kernels = queries
        mask_logits = masks_from_kernels(kernels, features)
        for stage in self.mask_heads:
            class_scores, mask_logits, iou, kernels = stage(features, kernels, mask_logits, attn_mask)
        return kernels, mask_logits, class_scores / self.temperature, iou

    def adapt_object(self, features: Tensor, kernels: Tensor, mask_logits: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """features [B,C,Hq,W], kernels [B,N,C], mask_logits [B,N,Hq,W]
        -> (mask_logits [B,N,Hq,W], class_logits [B,N,K+1], adapted kernels [B,N,C])."""
        kernels = self.panoptic_attn(mask_logits, features, kernels)
        return masks_from_kernels(kernels, features), self.classifier(self.panoptic_cls(kernels)), kernels

    def adapt_prompt(self, features: Tensor, kernels: Tensor) -> tuple[Tensor, Tensor]:
        """features [B,C,Hq,W], kernels [B,N,C] -> (mask_logits [B,N,Hq,W], iou [B,N,1])."""
        keys = features.flatten(2).transpose(1, 2)
        kernels = self.prompt_norm(self.prompt_attn(kernels, keys))
        return masks_from_kernels(kernels, features), self.prompt_iou(kernels)

    def init_official(self) -> None:
        """The official initialisation of the stages (the rest keeps PyTorch's defaults)."""
        for stage in self.mask_heads:
            stage.init_official()
