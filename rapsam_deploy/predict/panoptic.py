"""``PanopticPredictor``: image -> panoptic segmentation + instances (encoder, decoder with the
100 object queries, object adapter, official post-processing)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..artifacts import contract
from .postprocess import Instances, PanopticConfig, PanopticResult, segment
from .preprocess import COCO_SCALE, ImageMeta, ResizePolicy, preprocess
from .runtime import Runtime


@dataclass
class PanopticPrediction:
    """One image's results at its original size."""

    panoptic: PanopticResult
    instances: Instances
    meta: ImageMeta


@dataclass
class Objects:
    """The object adapter's outputs for the object queries: mask logits [B,N,Hq,Wf], class
    logits [B,N,K+1] and the adapted kernels [B,N,C] (which video inference matches by)."""

    mask_logits: torch.Tensor
    class_logits: torch.Tensor
    kernels: torch.Tensor


def decode_objects(runtime: Runtime, features: torch.Tensor) -> Objects:
    """features [B,C,Hq,Wf] -> the decoder and object adapter on the object queries."""
    backend = runtime.backend
    queries = runtime.object_queries.unsqueeze(0).expand(features.shape[0], -1, -1).contiguous()
    attn_mask = torch.zeros(queries.shape[1], queries.shape[1], dtype=torch.bool, device=backend.device)
    kernels, mask_logits, _, _ = backend.call(contract.DECODER, features, queries, attn_mask)
    return Objects(*backend.call(contract.ADAPTER_OBJECT, features, kernels, mask_logits))


class PanopticPredictor:
    """``predict(images)``: RGB uint8 [H,W,3] images (see ``load_image``) -> one
    :class:`PanopticPrediction` each. Resize defaults to the COCO test pipeline's; ``score_thr``
    drops instances scoring at or below it (all kept by default, as the official model)."""

    def __init__(
        self,
        runtime: Runtime,
        resize: ResizePolicy | None = None,
        config: PanopticConfig | None = None,
        score_thr: float = -math.inf,
    ) -> None:
        self.runtime = runtime
        self.resize = resize or ResizePolicy(COCO_SCALE)
        self.config = config or PanopticConfig()
        self.score_thr = score_thr

    def predict(self, images: list[np.ndarray] | np.ndarray) -> list[PanopticPrediction]:
        batch, metas = self.prepare(images)
        return self.finish(self.infer(batch), metas)

    def prepare(self, images: list[np.ndarray] | np.ndarray) -> tuple[torch.Tensor, list[ImageMeta]]:
        """Pre-processing: the encoder's input [B,3,Hp,Wp] on the backend's device, and metas."""
        images = [images] if isinstance(images, np.ndarray) else list(images)
        batch, metas = preprocess(images, self.resize)
        return batch.to(self.runtime.backend.device), metas

    def infer(self, batch: torch.Tensor) -> Objects:
        """The graphs: encoder, decoder, object adapter."""
        (features,) = self.runtime.backend.call(contract.ENCODER, batch)
        return decode_objects(self.runtime, features)

    def finish(self, outputs: Objects, metas: list[ImageMeta]) -> list[PanopticPrediction]:
        """Post-processing of each image: panoptic merge and instances at the original size."""
        num_things = self.runtime.vocabulary.num_things
        results = []
        for i, meta in enumerate(metas):
            classes, masks = outputs.class_logits[i], outputs.mask_logits[i]
            panoptic, instances = segment(classes, masks, meta, num_things, self.config, min_score=self.score_thr)
            results.append(PanopticPrediction(panoptic, instances, meta))
        return results
