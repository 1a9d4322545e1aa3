"""Cosine classification against the CLIP text embeddings of the class names.

The official heads project each query to the embedding dimension D, L2-normalise it, take the
cosine with every class prototype, keep the best prototype per class and multiply by
``exp(logit_scale)`` with ``logit_scale = 4.6052`` (= log 100). A zero embedding is appended as
the no-object class, so its score is always 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LOGIT_SCALE = 4.6052


class CosineClassifier(nn.Module):
    """``forward(embedding [B,N,D]) -> class scores [B,N,K+1]`` (the last is no-object).

    Holds non-persistent buffers only (they are not in official checkpoints): ``fc_cls``
    [D,K+1,P] (the official layout) and ``logit_scale``.
    """

    def __init__(self, class_embed: Tensor) -> None:
        super().__init__()
        self.register_buffer("fc_cls", self.layout(class_embed), persistent=False)
        self.register_buffer("logit_scale", torch.tensor(LOGIT_SCALE, dtype=torch.float32), persistent=False)

    @staticmethod
    def layout(class_embed: Tensor) -> Tensor:
        """[K,P,D] unit-norm class embeddings -> [D,K+1,P] with the zero no-object class."""
        _, prototypes, dim = class_embed.shape
        background = class_embed.new_zeros(1, prototypes, dim)
        return torch.cat([class_embed.float(), background], dim=0).permute(2, 0, 1).contiguous()

    @property
    def num_classes(self) -> int:
        """K, the number of classes without no-object."""
        return self.fc_cls.shape[1] - 1

    @property
    def embed_dim(self) -> int:
        return self.fc_cls.shape[0]

    def forward(self, embedding: Tensor) -> Tensor:
        dim, classes, prototypes = self.fc_cls.shape
        cosine = torch.matmul(F.normalize(embedding, dim=-1), self.fc_cls.reshape(dim, classes * prototypes))
        cosine = cosine.unflatten(-1, (classes, prototypes)).amax(dim=-1)
        return self.logit_scale.exp() * cosine
