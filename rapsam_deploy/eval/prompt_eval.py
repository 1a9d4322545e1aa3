"""The prompt task (COCO-SAM): one prompt per ground-truth object from its mask, all of an
image's prompts in one ``PromptPredictor.predict`` call (they do not see each other), each
object's IoU with the mask its prompt gave."""

from __future__ import annotations

import numpy as np

from ..parity import mask_iou
from ..predict.preprocess import ResizePolicy, load_image
from ..predict.prompt import PromptPredictor
from ..predict.runtime import Runtime
from .agreement import prompt_agreement
from .coco_instances import CocoInstances
from .coco_panoptic import CocoPanoptic
from .prompt_iou import PromptIoU
from .prompts import make_prompts
from .samples import ImageSample
from .task import EvalTask, check_size


class PromptEval(EvalTask):
    name = "prompt"
    headline = ("miou", "miou_small", "miou_medium", "miou_large")

    def __init__(
        self, dataset: CocoPanoptic | CocoInstances, runtimes: list[Runtime], resize: ResizePolicy, mode: str, seed: int
    ) -> None:
        super().__init__(runtimes, dataset.categories)
        self.dataset, self.resize, self.mode, self.seed = dataset, resize, mode, seed
        self.predictors = [PromptPredictor(runtime, resize) for runtime in runtimes]
        self.scores = [PromptIoU() for _ in runtimes]

    def _predict(self, predictor: PromptPredictor, image: np.ndarray, prompts: dict) -> np.ndarray:
        """Masks [M,H,W] in prompt order (the predictor gives them best predicted IoU first)."""
        predictor.set_image(image)
        found = predictor.predict(**prompts)
        return found.masks[np.argsort(found.prompts)]

    def evaluate(self, index: int, sample: ImageSample) -> dict:
        image = load_image(sample.image)
        check_size(image, sample.size, sample.image)
        objects = self.dataset.objects(sample)
        areas = objects.masks.reshape(len(objects.masks), -1).sum(axis=1)
        masks = objects.masks[areas > 0]
        record = {"id": sample.id, "file": sample.image.name, "objects": len(masks)}
        if len(masks) == 0:
            return record
        # Seeded by image position: the same prompts whatever --limit and on every backend.
        prompts = make_prompts(masks, self.mode, self.resize, np.random.default_rng([self.seed, index]))
        predicted = []
        for i, predictor in enumerate(self.predictors):
            predicted.append(self.timed(i, lambda predictor=predictor: self._predict(predictor, image, prompts)))
            ious = np.array([mask_iou(p, t) for p, t in zip(predicted[-1], masks, strict=True)])
            self.scores[i].add(ious, areas[areas > 0])
        if len(predicted) == 2:
            record["agreement"] = prompt_agreement(predicted[0], predicted[1])
        return record

    def metrics(self) -> list[dict]:
        return [score.compute() for score in self.scores]

    def protocol(self) -> dict:
        return {
            "resize": self.resize.describe(),
            "prompt": self.mode,
            "seed": self.seed,
            "metric": "mean IoU over every ground-truth object at the original image size; size by object area",
        }
