"""``VideoPredictor``: frames (or a video file) -> per-frame instances with stable track IDs,
as the official near-online inference (``Mask2formerVideoMinVIS`` with RAP-SAM's YouTube-VIS
config) does it: the video is cut into clips of T frames (``video_split``: 5 frames for videos
longer than 15 frames, else 3), each clip goes through the tube path (frames stacked along
height, one set of object queries per clip), each clip's queries are matched to the previous
clip's by the Hungarian algorithm on the cosine distance of the adapted kernels, class logits are
averaged over clips and masks concatenated. Every frame then gets the instance post-processing
with the video's class scores, so a (query, class) pair is one track across the whole video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..artifacts import contract
from ..errors import RapSamError
from ..model.video import stack_frames, unstack_masks
from .panoptic import decode_objects
from .postprocess import Instances, PanopticConfig, instances
from .preprocess import YOUTUBE_VIS_SCALE, ImageMeta, ResizePolicy, preprocess
from .runtime import Runtime

CLIP_SIZE, CLIP_SIZE_SMALL, SMALL_VIDEO_FRAMES = 5, 3, 15
ENCODER_BATCH = 8


@dataclass
class FramePrediction:
    """One frame's instances; ``track_ids[i]`` is the video-wide ID of ``instances[i]``."""

    instances: Instances
    track_ids: np.ndarray  # [M] int64, 1-based
    meta: ImageMeta


def video_split(total: int, clip: int, overlap: int = 0) -> list[int]:
    """End indices (exclusive) of the clips covering ``total`` frames, each ``clip`` long and
    overlapping the previous by ``overlap`` (the official rule: the last clips shrink so that
    they end at the video's end)."""
    if not 0 <= overlap < clip:
        raise RapSamError(f"clip overlap {overlap} must be in [0, {clip})", "use a stride between 1 and T")
    total, step = total - overlap, clip - overlap
    splits = -(-total // step)
    ends = [(i + 1) * step for i in range(splits)]
    diff = ends[-1] - total
    if diff < splits:
        for i in range(diff):
            ends[splits - 1 - i] -= diff - i
    else:
        ends[-1] -= diff
    return [end + overlap for end in ends]


def match_queries(previous: torch.Tensor, current: torch.Tensor) -> np.ndarray:
    """Permutation of ``current`` [N,C] that aligns it to ``previous`` [N,C] (Hungarian on 1 - cosine)."""
    prev = previous / previous.norm(dim=-1, keepdim=True)
    cur = current / current.norm(dim=-1, keepdim=True)
    cost = (1 - cur @ prev.T).T.cpu().double().numpy()  # target x current
    return linear_sum_assignment(cost)[1]


def read_video(path: str | Path) -> Iterator[np.ndarray]:
    """Frames of a video file as RGB uint8 arrays; a clear error if it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise RapSamError(f"video {path} does not exist", "check the path")
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read()
        if not ok:
            raise RapSamError(f"{path} cannot be decoded as a video", "pass an MP4/AVI/MOV file that OpenCV can read")
        while ok:
            yield np.ascontiguousarray(frame[..., ::-1])
            ok, frame = capture.read()
    finally:
        capture.release()


class VideoPredictor:
    """``predict(frames)``: RGB uint8 frames of one video -> a :class:`FramePrediction` per frame.

    ``clip_size`` T (default: 5, or 3 for videos of at most 15 frames) and ``stride`` (default T:
    no overlap) set the clips; ``score_thr`` drops low-scoring instances per frame."""

    def __init__(
        self,
        runtime: Runtime,
        clip_size: int | None = None,
        stride: int | None = None,
        resize: ResizePolicy | None = None,
        score_thr: float = 0.0,
        config: PanopticConfig | None = None,
    ) -> None:
        self.runtime = runtime
        self.clip_size, self.stride = clip_size, stride
        self.resize = resize or ResizePolicy(YOUTUBE_VIS_SCALE)
        self.score_thr = score_thr
        self.config = config or PanopticConfig()

    def prepare(self, frames: list[np.ndarray]) -> tuple[torch.Tensor, ImageMeta]:
        """Pre-processing: [T,3,Hp,Wp] (on the CPU) and the frames' common meta."""
        if not frames:
            raise RapSamError("the video has no frames")
        batch, metas = preprocess(frames, self.resize)
        if len({m.ori_shape for m in metas}) > 1:
            raise RapSamError("the frames of a video must all have one size")
        return batch, metas[0]

    def encode(self, batch: torch.Tensor) -> torch.Tensor:
        """The encoder graph on every frame, a few at a time: [T,3,Hp,Wp] -> [T,C,Hf,Wf]."""
        backend = self.runtime.backend
        parts = [
            backend.call(contract.ENCODER, batch[i : i + ENCODER_BATCH].to(backend.device))[0]
            for i in range(0, len(batch), ENCODER_BATCH)
        ]
        return torch.cat(parts)

    def decode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips through the tube path, matched and stitched: video class logits [N,K+1] and
        masks [N,T,Hf,Wf]."""
        total = features.shape[0]
        clip = self.clip_size or (CLIP_SIZE if total > SMALL_VIDEO_FRAMES else CLIP_SIZE_SMALL)
        clip = min(clip, total)
        overlap = clip - (self.stride or clip)
        return self._clips(features, video_split(total, clip, overlap), overlap)

    def predict(self, frames: Iterable[np.ndarray]) -> list[FramePrediction]:
        batch, meta = self.prepare(list(frames))
        classes, masks = self.decode(self.encode(batch))
        return self.finish(classes, masks, meta)

    def _clips(self, features: torch.Tensor, ends: list[int], overlap: int) -> tuple[torch.Tensor, torch.Tensor]:
        """features [T,C,Hf,Wf] -> video class logits [N,K+1] and masks [N,T,Hf,Wf] in the first
        clip's query order."""
        class_sum, mask_parts, previous, start = None, [], None, 0
        for index, end in enumerate(ends):
            frames = end - start
            stacked = stack_frames(features[start:end], frames)  # [1,C,T*Hf,Wf]
            out = decode_objects(self.runtime, stacked)
            classes, kernels = out.class_logits[0], out.kernels[0]
            masks = unstack_masks(out.mask_logits, frames)[0]  # [N,T,Hf,Wf]
            if previous is not None:
                order = torch.as_tensor(match_queries(previous, kernels), device=classes.device)
                classes, kernels, masks = classes[order], kernels[order], masks[order]
            mask_parts.append(masks if index == 0 else masks[:, overlap:])
            class_sum = classes if class_sum is None else class_sum + classes
            previous, start = kernels, end - overlap
        return class_sum / len(ends), torch.cat(mask_parts, dim=1)

    def finish(self, classes: torch.Tensor, masks: torch.Tensor, meta: ImageMeta) -> list[FramePrediction]:
        """Post-processing: each frame's instances at the original size, with track IDs."""
        num_things = self.runtime.vocabulary.num_things
        num_classes = classes.shape[-1] - 1
        results = []
        for t in range(masks.shape[1]):
            found = instances(classes, masks[:, t], meta, num_things, self.config, min_score=self.score_thr)
            empty = found.boxes[:, 2] <= found.boxes[:, 0]  # only possible with a negative score_thr
            if empty.any():
                found = found.select(~empty)
            results.append(FramePrediction(found, found.queries * num_classes + found.labels + 1, meta))
        return results
