"""``PromptPredictor``: ``set_image`` once, then ``predict(points=..., boxes=...)`` many times;
only the prompt encoder, decoder and prompt adapter run per call.

Prompts are in original-image pixels. As the official evaluation: a point (x, y) becomes the box
[x-3, y-3, x+3, y+3] in resized-image pixels, every prompt has kind 1, and prompts do not see
each other. Points outside the image are rejected; boxes reaching outside are clipped to it
with a warning, boxes entirely outside or empty are rejected.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..artifacts import contract
from ..errors import RapSamError
from .postprocess import upsample_masks
from .preprocess import COCO_SCALE, ImageMeta, ResizePolicy, preprocess
from .runtime import Runtime


@dataclass
class PromptMasks:
    """The prompt adapter's outputs: mask logits [B,N,Hf,Wf] and predicted IoU [B,N,1]."""

    mask_logits: torch.Tensor
    iou: torch.Tensor


@dataclass
class PromptPrediction:
    """Masks at the original size, best predicted IoU first; ``prompts[i]`` is the index (in
    the order given: points, then boxes) of the prompt that made ``masks[i]``."""

    masks: np.ndarray  # [N,H,W] bool
    iou: np.ndarray  # [N] float32, the prompt adapter's IoU estimate
    prompts: np.ndarray  # [N] int64


def _as_array(values, width: int, what: str) -> np.ndarray:
    array = np.asarray(values if values is not None else [], dtype=np.float64)
    if array.size == 0:
        array = array.reshape(0, width)
    if array.ndim != 2 or array.shape[1] != width:
        raise RapSamError(f"{what} must be {width} numbers per prompt; got shape {array.shape}")
    if not np.isfinite(array).all():
        raise RapSamError(f"{what} must be finite numbers")
    return array


def check_prompts(points, boxes, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points [P,2] (x, y) and boxes [Q,4] (x1, y1, x2, y2) in the pixels of an image of
    ``height`` x ``width``, refused unless there is one, points lie inside and boxes reach into
    it with x2 > x1 and y2 > y1; returns the points, the boxes and the boxes clipped to the image."""
    points, boxes = _as_array(points, 2, "points"), _as_array(boxes, 4, "boxes")
    if len(points) + len(boxes) == 0:
        raise RapSamError("no prompts given", "pass at least one point (x,y) or box (x1,y1,x2,y2)")
    outside = (points[:, 0] < 0) | (points[:, 0] >= width) | (points[:, 1] < 0) | (points[:, 1] >= height)
    if outside.any():
        raise RapSamError(f"points {points[outside].tolist()} are outside the {width}x{height} image")
    if (boxes[:, 2] <= boxes[:, 0]).any() or (boxes[:, 3] <= boxes[:, 1]).any():
        raise RapSamError("a box needs x2 > x1 and y2 > y1", "give boxes as x1,y1,x2,y2")
    clipped = np.clip(boxes, 0, [width, height, width, height])
    if ((clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])).any():
        raise RapSamError(f"a box lies entirely outside the {width}x{height} image")
    return points, boxes, clipped


def prompt_boxes(points, boxes, meta: ImageMeta) -> np.ndarray:
    """Points [P,2] (x, y) and boxes [Q,4] (x1, y1, x2, y2) in original pixels -> [P+Q,4] xyxy
    normalised by the resized image size, as the prompt encoder takes them."""
    points, boxes, clipped = check_prompts(points, boxes, *meta.ori_shape)
    if not np.array_equal(clipped, boxes):
        warnings.warn(f"boxes clipped to the {meta.ori_shape[1]}x{meta.ori_shape[0]} image", stacklevel=3)
    sy, sx = meta.scale
    img_h, img_w = meta.img_shape
    half = contract.POINT_BOX_HALF_SIZE
    centres = points * (sx, sy)
    from_points = np.concatenate([centres - half, centres + half], axis=1)
    from_boxes = clipped * (sx, sy, sx, sy)
    return np.concatenate([from_points, from_boxes]) / (img_w, img_h, img_w, img_h)


@dataclass
class EncodedImage:
    """What ``set_image`` computes once per image: the features [1,C,Hf,Wf] and where the
    image's pixels went. Keep several to switch between images without encoding them again."""

    features: torch.Tensor
    meta: ImageMeta


class PromptPredictor:
    """Interactive segmentation with point and box prompts (SAM-style API)."""

    def __init__(self, runtime: Runtime, resize: ResizePolicy | None = None) -> None:
        self.runtime = runtime
        self.resize = resize or ResizePolicy(COCO_SCALE)
        self._image: EncodedImage | None = None

    def set_image(self, image: np.ndarray) -> EncodedImage:
        """Encode an RGB uint8 [H,W,3] image once for the prompts that follow."""
        batch, (meta,) = preprocess([image], self.resize)
        return self.encode(batch.to(self.runtime.backend.device), meta)

    def encode(self, batch: torch.Tensor, meta: ImageMeta) -> EncodedImage:
        """The encoder graph on a pre-processed image [1,3,Hp,Wp]."""
        (features,) = self.runtime.backend.call(contract.ENCODER, batch)
        return self.use_image(EncodedImage(features, meta))

    def use_image(self, encoded: EncodedImage) -> EncodedImage:
        """Prompt an image encoded before (what ``set_image`` returned) from now on."""
        self._image = encoded
        return encoded

    def predict(self, points=None, boxes=None) -> PromptPrediction:
        """``points`` [P,2] (x, y) and/or ``boxes`` [Q,4] (x1, y1, x2, y2), original pixels."""
        return self.finish(self.infer(self.prompts(points, boxes)))

    def prompts(self, points=None, boxes=None) -> torch.Tensor:
        """Pre-processing of prompts: [1,N,4] normalised boxes on the backend's device."""
        if self._image is None:
            raise RapSamError("no image set", "call set_image(image) first")
        boxes = torch.from_numpy(prompt_boxes(points, boxes, self._image.meta)).float()[None]
        return boxes.to(self.runtime.backend.device)

    def infer(self, normalised: torch.Tensor) -> PromptMasks:
        """The graphs: prompt encoder, decoder (prompts see only themselves), prompt adapter."""
        backend = self.runtime.backend
        count = normalised.shape[1]
        kinds = torch.full((1, count), contract.PROMPT_KIND_DEFAULT, dtype=torch.int64, device=backend.device)
        (queries,) = backend.call(contract.PROMPT_ENCODER, normalised, kinds)
        attn_mask = ~torch.eye(count, dtype=torch.bool, device=backend.device)
        features = self._image.features
        kernels, _, _, _ = backend.call(contract.DECODER, features, queries, attn_mask)
        return PromptMasks(*backend.call(contract.ADAPTER_PROMPT, features, kernels))

    def finish(self, adapted: PromptMasks) -> PromptPrediction:
        """Post-processing: masks at the original size, best predicted IoU first."""
        iou = adapted.iou[0, :, 0].float().cpu()
        order = iou.argsort(descending=True)
        masks = upsample_masks(adapted.mask_logits[0][order], self._image.meta) > 0
        return PromptPrediction(masks.cpu().numpy(), iou[order].numpy(), order.numpy())
