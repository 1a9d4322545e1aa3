"""RAP-SAM: backbone + neck + head, with one forward entry point per graph of the contract
(DESIGN.md, "Graph contract") and convenience forwards for whole tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..artifacts.contract import CHANNELS, IMAGE_MEAN, IMAGE_STD, PROMPT_KIND_DEFAULT
from .backbones import get_backbone_spec
from .head import RapSamHead
from .neck import YOSONeck
from .video import stack_frames, unstack_masks


@dataclass
class ModelInfo:
    """Where the weights came from; reports and manifests print this."""

    backbone: str
    trained: bool = False
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    class_embed: str | None = None
    class_embed_sha256: str | None = None
    seed: int | None = None
    skipped_checkpoint_entries: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """One line for humans, e.g. 'r18, random weights (seed 0), untrained'."""
        if not self.trained:
            return f"{self.backbone}, random weights (seed {self.seed}), untrained"
        classes = "class embeddings from " + self.class_embed if self.class_embed else "random class embeddings"
        return f"{self.backbone}, weights from {self.checkpoint}, {classes}"


class RapSam(nn.Module):
    """The whole model; state-dict keys ``backbone.*``, ``neck.*``, ``panoptic_head.*``.

    ``class_embed`` [K,P,D] gives the classes (K), prototypes per class (P) and embedding dim (D).
    """

    def __init__(self, backbone: str, class_embed: Tensor, num_queries: int = 100) -> None:
        super().__init__()
        spec = get_backbone_spec(backbone)
        self.backbone = spec.build()
        self.neck = YOSONeck(spec.out_channels, agg_dim=128, hidden_dim=CHANNELS)
        self.panoptic_head = RapSamHead(class_embed, channels=CHANNELS, num_queries=num_queries)
        self.register_buffer("pixel_mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1), persistent=False)
        self.info = ModelInfo(backbone=backbone)

    @property
    def num_classes(self) -> int:
        """K, classes without no-object."""
        return self.panoptic_head.classifier.num_classes

    @property
    def object_queries(self) -> Tensor:
        """The learned object queries [N,C] (N = 100 in the official model)."""
        return self.panoptic_head.kernels.weight

    @property
    def compute_dtype(self) -> torch.dtype:
        """float16 in a ``precision.half_precision`` copy (outside its fp32 islands), else float32."""
        return self.object_queries.dtype

    # ---- one entry point per graph of the contract -------------------------------------
    def forward_encoder(self, image: Tensor) -> Tensor:
        """``encoder``: image [B,3,H,W] RGB 0..255 (H, W multiples of 32) -> features [B,C,H/4,W/4]."""
        x = (image - self.pixel_mean) / self.pixel_std
        return self.neck(self.backbone(x))

    def forward_prompt_encoder(self, prompt_boxes: Tensor, prompt_kinds: Tensor) -> Tensor:
        """``prompt_encoder``: prompt_boxes [B,N,4] (xyxy in [0,1] of the resized image),
        prompt_kinds [B,N] int64 -> queries [B,N,C]."""
        return self.panoptic_head.encode_prompts(prompt_boxes, prompt_kinds)

    def forward_decoder(
        self, features: Tensor, queries: Tensor, attn_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``decoder``: features [B,C,Hq,Wf], queries [B,N,C], attn_mask [N,N] bool ->
        (kernels [B,N,C], mask_logits [B,N,Hq,Wf], class_logits [B,N,K+1], iou [B,N,1])."""
        return self.panoptic_head.decode(features, queries, attn_mask)

    def forward_adapter_object(
        self, features: Tensor, kernels: Tensor, mask_logits: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``adapter_object``: -> (mask_logits [B,N,Hq,Wf], class_logits [B,N,K+1], the adapted
        kernels [B,N,C], which the official video inference matches clips with)."""
        return self.panoptic_head.adapt_object(features, kernels, mask_logits)

    def forward_adapter_prompt(self, features: Tensor, kernels: Tensor) -> tuple[Tensor, Tensor]:
        """``adapter_prompt``: -> (mask_logits [B,N,Hq,Wf], iou [B,N,1])."""
        return self.panoptic_head.adapt_prompt(features, kernels)

    # ---- whole tasks -----------------------------------------------------------------------
    def object_attn_mask(self, num_queries: int | None = None) -> Tensor:
        """All-False [N,N] mask: object queries see each other."""
        n = self.object_queries.shape[0] if num_queries is None else num_queries
        return torch.zeros(n, n, dtype=torch.bool, device=self.object_queries.device)

    @staticmethod
    def prompt_attn_mask(num_prompts: int, device: torch.device | str = "cpu") -> Tensor:
        """[N,N] mask where each prompt sees only itself (official inference)."""
        return ~torch.eye(num_prompts, dtype=torch.bool, device=device)

    def _decode_objects(self, features: Tensor) -> tuple[Tensor, Tensor]:
        queries = self.object_queries.unsqueeze(0).expand(features.shape[0], -1, -1)
        kernels, mask_logits, _, _ = self.forward_decoder(features, queries, self.object_attn_mask())
        mask_logits, class_logits, _ = self.forward_adapter_object(features, kernels, mask_logits)
        return mask_logits, class_logits

    def forward_panoptic(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """image [B,3,H,W] -> (mask_logits [B,N,H/4,W/4], class_logits [B,N,K+1]) for the
        object queries, after the object adapter (what the panoptic merge takes)."""
        return self._decode_objects(self.forward_encoder(image))

    def forward_prompts(
        self, image: Tensor, prompt_boxes: Tensor, prompt_kinds: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """image [B,3,H,W], prompt_boxes [B,N,4] normalised xyxy, prompt_kinds [B,N] (default
        all 1) -> (mask_logits [B,N,H/4,W/4], iou [B,N,1]) after the prompt adapter."""
        if prompt_kinds is None:
            prompt_kinds = torch.full(prompt_boxes.shape[:2], PROMPT_KIND_DEFAULT, device=prompt_boxes.device)
        features = self.forward_encoder(image)
        queries = self.forward_prompt_encoder(prompt_boxes, prompt_kinds)
        attn_mask = self.prompt_attn_mask(prompt_boxes.shape[1], features.device)
        kernels, _, _, _ = self.forward_decoder(features, queries, attn_mask)
        return self.forward_adapter_prompt(features, kernels)

    def forward_video(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """frames [B,T,3,H,W] -> (mask_logits [B,N,T,H/4,W/4], class_logits [B,N,K+1]): one
        set of object queries per clip, pooled over all T frames (tube pooling)."""
        num_frames = frames.shape[1]
        features = stack_frames(self.forward_encoder(frames.flatten(0, 1)), num_frames)
        mask_logits, class_logits = self._decode_objects(features)
        return unstack_masks(mask_logits, num_frames), class_logits
