"""The three benchmarked tasks, each one iteration = what a user call costs, split into stages
(pre-processing, every graph, post-processing), on real photos resized to the bench size."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..eval.agreement import prompt_agreement
from ..parity import class_agreement
from ..predict.panoptic import PanopticPredictor
from ..predict.preprocess import ResizePolicy
from ..predict.prompt import PromptPredictor
from ..predict.runtime import Runtime
from ..predict.video import VideoPredictor
from .parity import raw_parity, segment_agreement
from .timing import StageTimer, TimedBackend

TASKS = ("panoptic", "prompt", "video")
_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def photos(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``count`` scikit-image sample photos resized to (H, W), RGB uint8."""
    from skimage import data

    images = []
    for i in range(count):
        image = getattr(data, _PHOTOS[i % len(_PHOTOS)])()[..., :3]
        images.append(cv2.resize(np.ascontiguousarray(image), size[::-1], interpolation=cv2.INTER_LINEAR))
    return images


def video_frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """A camera panning over a photo: crops moving 1% of the size per frame, resized to (H, W)."""
    (base,) = photos(1, (int(size[0] * 1.25), int(size[1] * 1.25)))
    step_y, step_x = max(1, size[0] // 100), max(1, size[1] // 100)
    return [
        np.ascontiguousarray(base[t * step_y : t * step_y + size[0], t * step_x : t * step_x + size[1]])
        for t in range(count)
    ]


@dataclass
class TaskConfig:
    image_size: tuple[int, int]
    batch: int = 1
    num_prompts: int = 5
    video_frames: int = 3

    @property
    def resize(self) -> ResizePolicy:
        # The photos are already the bench size: resizing keeps them, padding adds nothing.
        return ResizePolicy(long_side=max(self.image_size))


@dataclass
class Task:
    """One task on one runtime; ``step()`` runs an iteration and returns its stage times (ms)."""

    name: str
    runtime: Runtime
    config: TaskConfig
    last: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Subclasses build their predictor and inputs here."""

    @property
    def timed(self) -> TimedBackend:
        return self.runtime.backend  # type: ignore[return-value]

    def setup(self) -> dict[str, float]:
        """One-off work before the timed iterations (e.g. ``set_image``), with its stage times."""
        return {}

    def step(self) -> dict[str, float]:
        raise NotImplementedError

    def parity(self, reference: Task) -> dict:
        raise NotImplementedError


class PanopticTask(Task):
    def __post_init__(self) -> None:
        self.predictor = PanopticPredictor(self.runtime, self.config.resize)
        self.images = photos(self.config.batch, self.config.image_size)

    def step(self) -> dict[str, float]:
        timer = StageTimer(self.timed)
        with timer.stage("pre"):
            batch, metas = self.predictor.prepare(self.images)
        outputs = self.predictor.infer(batch)
        graphs = self.timed.take()
        with timer.stage("post"):
            results = self.predictor.finish(outputs, metas)
        self.last = {"raw": outputs, "results": results}
        return timer.stages | graphs

    def parity(self, reference: Task) -> dict:
        figures = raw_parity(self.last["raw"], reference.last["raw"])
        figures["class_agreement"] = class_agreement(self.last["raw"].class_logits, reference.last["raw"].class_logits)
        pairs = zip(self.last["results"], reference.last["results"], strict=True)
        figures["panoptic_segment_agreement"] = float(np.mean([segment_agreement(a, b) for a, b in pairs]))
        return figures


class PromptTask(Task):
    """Timed iteration = one extra prompt batch after ``set_image`` (what interactive use repeats)."""

    def __post_init__(self) -> None:
        self.predictor = PromptPredictor(self.runtime, self.config.resize)
        (self.image,) = photos(1, self.config.image_size)
        height, width = self.config.image_size
        rng = np.random.default_rng(0)
        self.points = np.stack(
            [rng.uniform(0, width - 1, self.config.num_prompts), rng.uniform(0, height - 1, self.config.num_prompts)], 1
        )

    def setup(self) -> dict[str, float]:
        timer = StageTimer(self.timed)
        with timer.stage("set_image"):
            self.predictor.set_image(self.image)
        return timer.stages | self.timed.take()

    def step(self) -> dict[str, float]:
        timer = StageTimer(self.timed)
        with timer.stage("pre"):
            boxes = self.predictor.prompts(self.points)
        outputs = self.predictor.infer(boxes)
        graphs = self.timed.take()
        with timer.stage("post"):
            result = self.predictor.finish(outputs)
        self.last = {"raw": outputs, "result": result}
        return timer.stages | graphs

    def parity(self, reference: Task) -> dict:
        figures = raw_parity(self.last["raw"], reference.last["raw"])
        ours, ref = self.last["result"], reference.last["result"]
        order = np.argsort(ours.prompts), np.argsort(ref.prompts)
        figures["prompt_mask_iou"] = prompt_agreement(ours.masks[order[0]], ref.masks[order[1]])["mask_iou"]
        return figures


@dataclass
class VideoOutputs:
    """A clip's stitched outputs: mask logits [1,N,T,Hf,Wf] and video class logits [1,N,K+1]."""

    mask_logits: torch.Tensor
    class_logits: torch.Tensor


class VideoTask(Task):
    """Timed iteration = one clip of T frames: pre-processing, T encoder runs, the tube decoder
    and object adapter, and per-frame post-processing."""

    def __post_init__(self) -> None:
        self.predictor = VideoPredictor(self.runtime, clip_size=self.config.video_frames, resize=self.config.resize)
        self.frames = video_frames(self.config.video_frames, self.config.image_size)

    def step(self) -> dict[str, float]:
        timer = StageTimer(self.timed)
        with timer.stage("pre"):
            batch, meta = self.predictor.prepare(self.frames)
        features = self.predictor.encode(batch)
        classes, masks = self.predictor.decode(features)
        graphs = self.timed.take()
        with timer.stage("post"):
            frames = self.predictor.finish(classes, masks, meta)
        self.last = {"raw": VideoOutputs(masks[None], classes[None]), "frames": frames}
        return timer.stages | graphs

    def parity(self, reference: Task) -> dict:
        figures = raw_parity(self.last["raw"], reference.last["raw"])
        figures["class_agreement"] = class_agreement(self.last["raw"].class_logits, reference.last["raw"].class_logits)
        ours = [set(f.track_ids.tolist()) for f in self.last["frames"]]
        theirs = [set(f.track_ids.tolist()) for f in reference.last["frames"]]
        figures["track_agreement"] = float(
            np.mean([len(a & b) / max(len(a | b), 1) for a, b in zip(ours, theirs, strict=True)])
        )
        return figures


TASK_CLASSES = {"panoptic": PanopticTask, "prompt": PromptTask, "video": VideoTask}


def make_task(name: str, runtime: Runtime, config: TaskConfig) -> Task:
    return TASK_CLASSES[name](name, runtime, config)


def flops_of_tasks(model, names: tuple[str, ...], config: TaskConfig) -> dict[str, float]:
    """GFLOPs of one iteration of each task (PyTorch's FLOP counter on the reference model; the
    image and prompt paths are counted once for both tasks that use them)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ..model.complexity import flop_counts

    gflops = {}
    if {"panoptic", "prompt"} & set(names):
        counts = flop_counts(model, config.image_size, config.num_prompts)
        gflops["panoptic"] = counts.panoptic * config.batch / 1e9
        gflops["prompt"] = counts.prompt_extra / 1e9
    if "video" in names:
        frames = torch.zeros(1, config.video_frames, 3, *config.image_size, device=model.object_queries.device)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model.forward_video(frames)
        gflops["video"] = counter.get_total_flops() / 1e9
    return {name: gflops[name] for name in names}
