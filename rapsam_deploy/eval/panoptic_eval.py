"""The panoptic task: ``PanopticPredictor`` on each COCO panoptic image, PQ against its PNG."""

from __future__ import annotations

from ..predict.panoptic import PanopticPrediction, PanopticPredictor
from ..predict.preprocess import ResizePolicy, load_image
from ..predict.runtime import Runtime
from .agreement import panoptic_agreement
from .categories import CategoryMap
from .coco_panoptic import CocoPanoptic
from .panoptic_quality import PanopticQuality, Segmentation
from .samples import ImageSample
from .task import EvalTask, check_size


def to_segmentation(prediction: PanopticPrediction, category_map: CategoryMap) -> Segmentation:
    """A prediction in dataset categories; segments of classes the dataset lacks become void."""
    id_map = prediction.panoptic.id_map.copy()
    categories = {}
    for segment in prediction.panoptic.segments:
        category = category_map.dataset_id(segment.label)
        if category is None:
            id_map[id_map == segment.id] = 0
        else:
            categories[segment.id] = category
    return Segmentation(id_map, categories)


class PanopticEval(EvalTask):
    name = "panoptic"
    headline = ("pq", "sq", "rq", "pq_things", "sq_things", "rq_things", "pq_stuff", "sq_stuff", "rq_stuff")

    def __init__(self, dataset: CocoPanoptic, runtimes: list[Runtime], resize: ResizePolicy) -> None:
        super().__init__(runtimes, dataset.categories)
        self.dataset, self.resize = dataset, resize
        self.predictors = [PanopticPredictor(runtime, resize) for runtime in runtimes]
        self.quality = [PanopticQuality(dataset.categories) for _ in runtimes]

    def evaluate(self, index: int, sample: ImageSample) -> dict:
        image = load_image(sample.image)
        check_size(image, sample.size, sample.image)
        truth = self.dataset.truth(sample)
        results = []
        for i, predictor in enumerate(self.predictors):
            (prediction,) = self.timed(i, lambda predictor=predictor: predictor.predict(image))
            results.append(to_segmentation(prediction, self.category_map))
            self.quality[i].add(truth, results[-1])
        record = {"id": sample.id, "file": sample.image.name, "segments": [len(r.categories) for r in results],
                  "truth_segments": len(truth.categories)}  # fmt: skip
        if len(results) == 2:
            record["agreement"] = panoptic_agreement(results[0], results[1])
        return record

    def metrics(self) -> list[dict]:
        rows = []
        for quality in self.quality:
            summary = quality.compute()
            row = {k: summary["all"][k] for k in ("pq", "sq", "rq")}
            for group in ("things", "stuff"):
                row |= {f"{k}_{group}": summary[group][k] for k in ("pq", "sq", "rq")}
            row["categories"] = summary["all"]["n"]
            row["per_class"] = summary["per_class"]
            rows.append(row)
        return rows

    def protocol(self) -> dict:
        config = self.predictors[0].config
        return {
            "resize": self.resize.describe(),
            "post_processing": {"object_mask_thr": config.object_mask_thr, "iou_thr": config.iou_thr,
                                "filter_low_score": config.filter_low_score},
            "metric": "COCO panoptic PQ (panopticapi's rules), in dataset categories; predicted segments of classes "
                      "the dataset lacks count as void",
        }  # fmt: skip
