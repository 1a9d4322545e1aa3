"""One decoder stage: the official ``CrossAttenHead`` (with kernel updator, cosine classifier
and IoU branch).

Per stage: pool the features under each query's hard mask, update the query kernels with the
gated dynamic convolution, self-attention between queries (optionally masked), FFN, then three
branches: class scores (cosine against the class embeddings), new mask logits (kernel . pixel
feature) and an IoU estimate.
"""

from __future__ import annotations

from torch import Tensor, nn

from .attention import MultiheadAttention
from .classifier import CosineClassifier
from .kernel_updator import MaskPoolDynConv
from .mask_pool import masks_from_kernels


class FFN(nn.Module):
    """mmcv-style FFN with identity: ``x + Linear(ReLU(Linear(x)))``; names ``layers.0.0``,
    ``layers.1``."""

    def __init__(self, channels: int = 256, hidden: int = 2048) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Dropout(0.0)),
            nn.Linear(hidden, channels),
            nn.Dropout(0.0),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


def _linear_norm_relu(channels: int) -> nn.ModuleList:
    return nn.ModuleList([nn.Linear(channels, channels, bias=False), nn.LayerNorm(channels), nn.ReLU(inplace=True)])


def _mlp3(channels: int, out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(channels, channels),
        nn.ReLU(inplace=True),
        nn.Linear(channels, channels),
        nn.ReLU(inplace=True),
        nn.Linear(channels, out),
    )


class CrossAttenHead(nn.Module):
    """A decoder stage.

    ``forward(features [B,C,Hq,W], kernels [B,N,C], mask_logits [B,N,Hq,W],
    attn_mask [N,N] bool | None)`` returns ``(class_scores [B,N,K+1], mask_logits [B,N,Hq,W],
    iou [B,N,1], obj_feat [B,N,C])``. Class scores are not yet divided by the temperature.
    """

    def __init__(self, classifier: CosineClassifier, channels: int = 256, num_heads: int = 8) -> None:
        super().__init__()
        self.kernel_update = MaskPoolDynConv(channels)
        self.s_atten = MultiheadAttention(channels, num_heads)
        self.s_atten_norm = nn.LayerNorm(channels)
        self.ffn = FFN(channels, 2048)
        self.ffn_norm = nn.LayerNorm(channels)
        self.cls_fcs = _linear_norm_relu(channels)
        self.cls_proj = _mlp3(channels, classifier.embed_dim)
        self.mask_fcs = _linear_norm_relu(channels)
        self.fc_mask = nn.Linear(channels, channels)
        self.iou_embed = _mlp3(channels, 1)
        # Shared by every stage and the object adapter; buffers only, not in the state dict.
        self.classifier = classifier

    def forward(
        self, features: Tensor, kernels: Tensor, mask_logits: Tensor, attn_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        k = self.kernel_update(mask_logits, features, kernels)
        k = self.s_atten_norm(k + self.s_atten(k, attn_mask=attn_mask))
        obj_feat = self.ffn_norm(self.ffn(k))

        cls_feat = obj_feat
        for layer in self.cls_fcs:
            cls_feat = layer(cls_feat)
        class_scores = self.classifier(self.cls_proj(cls_feat))

        mask_feat = obj_feat
        for layer in self.mask_fcs:
            mask_feat = layer(mask_feat)
        new_mask_logits = masks_from_kernels(self.fc_mask(mask_feat), features)
        iou = self.iou_embed(mask_feat)
        return class_scores, new_mask_logits, iou, obj_feat

    def init_official(self) -> None:
        """The official initialisation: truncated-normal(0.02) weights and zero biases for every
        Linear (attention out-projection included), unit LayerNorms; the packed attention
        in-projection keeps its Xavier initialisation."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
