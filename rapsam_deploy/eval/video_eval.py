"""The video task (YouTube-VIS): ``VideoPredictor`` on each video's frames; a track is a track ID
of the predictor (a query and class), with the mean of its per-frame scores as its score and its
masks as RLE per frame, as MMDetection's YouTube-VIS metric gathers them; AP against the
ground-truth tracks by spatio-temporal IoU."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..predict.preprocess import ResizePolicy, load_image
from ..predict.runtime import Runtime
from ..predict.video import VideoPredictor
from .agreement import track_agreement
from .masks import areas, encode
from .task import EvalTask, check_size
from .video_ap import Overlap, TrackSummary, VideoAP
from .youtube_vis import VideoSample, YouTubeVIS


@dataclass
class PredictedTracks:
    """One video's predicted tracks: per frame the RLEs and track indices present, and per track
    its category, per-frame scores and areas."""

    frames: list[tuple[list[dict], list[int]]] = field(default_factory=list)
    index: dict[int, int] = field(default_factory=dict)  # track ID -> index
    categories: list[int] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)
    areas: list[list[int]] = field(default_factory=list)

    def add_frame(self, rles: list[dict], track_ids: list[int], categories: list[int], scores: list[float]) -> None:
        indices = []
        for track, category, score, area in zip(track_ids, categories, scores, areas(rles), strict=True):
            if track not in self.index:
                self.index[track] = len(self.categories)
                self.categories.append(category)
                self.scores.append([])
                self.areas.append([])
            k = self.index[track]
            self.scores[k].append(score)
            self.areas[k].append(int(area))
            indices.append(k)
        self.frames.append((rles, indices))

    def summaries(self) -> list[TrackSummary]:
        return [
            TrackSummary(c, float(np.mean([a for a in areas if a] or [0])), float(np.mean(s)))
            for c, s, areas in zip(self.categories, self.scores, self.areas, strict=True)
        ]


def overlap(a: list[tuple[list[dict], list[int]]], a_count: int, b: list[tuple[list[dict], list[int]]],
            b_count: int) -> np.ndarray:  # fmt: skip
    """Spatio-temporal IoU [A,B] of two sets of tracks given frame by frame as (RLEs, indices)."""
    result = Overlap(a_count, b_count)
    for (rles_a, index_a), (rles_b, index_b) in zip(a, b, strict=True):
        result.add_frame(rles_a, index_a, rles_b, index_b)
    return result.iou()


def truth_frames(video: VideoSample) -> list[tuple[list[dict], list[int]]]:
    """The ground-truth tracks frame by frame as (RLEs, track indices)."""
    frames = []
    for t in range(len(video.frames)):
        present = [k for k, track in enumerate(video.tracks) if track.rles[t] is not None]
        frames.append(([video.tracks[k].rles[t] for k in present], present))
    return frames


class VideoEval(EvalTask):
    name = "video"
    headline = ("ap", "ap50", "ap75", "ar1", "ar10")

    def __init__(
        self,
        dataset: YouTubeVIS,
        runtimes: list[Runtime],
        resize: ResizePolicy,
        clip_size: int | None = None,
        stride: int | None = None,
    ) -> None:
        super().__init__(runtimes, dataset.categories)
        self.dataset, self.resize = dataset, resize
        # Every track is kept (score > 0), as the official evaluation keeps the top 100.
        self.predictors = [VideoPredictor(r, clip_size, stride, resize, score_thr=0.0) for r in runtimes]
        self.ap = [VideoAP() for _ in runtimes]

    def _predict(self, predictor: VideoPredictor, frames: list[np.ndarray]) -> PredictedTracks:
        batch, meta = predictor.prepare(frames)
        classes, masks = predictor.decode(predictor.encode(batch))
        tracks = PredictedTracks()
        for t in range(masks.shape[1]):
            # One frame at a time: all frames' masks at the original size would not fit in memory.
            (frame,) = predictor.finish(classes, masks[:, t : t + 1], meta)
            found = frame.instances
            categories = [self.category_map.dataset_id(label) for label in found.labels]
            keep = [i for i, c in enumerate(categories) if c is not None]
            tracks.add_frame(encode(found.masks[keep]), [int(frame.track_ids[i]) for i in keep],
                             [categories[i] for i in keep], [float(found.scores[i]) for i in keep])  # fmt: skip
        return tracks

    def evaluate(self, index: int, sample: VideoSample) -> dict:
        frames = [load_image(path) for path in sample.frames]
        for frame, path in zip(frames, sample.frames, strict=True):
            check_size(frame, sample.size, path)
        truth = truth_frames(sample)
        truths = [TrackSummary(t.category_id, t.avg_area, iscrowd=t.iscrowd) for t in sample.tracks]
        predicted = []
        for i, predictor in enumerate(self.predictors):
            tracks = self.timed(i, lambda predictor=predictor: self._predict(predictor, frames))
            iou = overlap(tracks.frames, len(tracks.categories), truth, len(truths))
            self.ap[i].add(truths, tracks.summaries(), iou)
            predicted.append(tracks)
        record = {"id": sample.id, "file": sample.name, "frames": len(frames), "truth_tracks": len(truths),
                  "tracks": [len(p.categories) for p in predicted]}  # fmt: skip
        if len(predicted) == 2:
            ours, reference = predicted
            iou = overlap(ours.frames, len(ours.categories), reference.frames, len(reference.categories))
            scores = [float(np.mean(s)) for s in ours.scores]
            record["agreement"] = track_agreement(iou, ours.categories, reference.categories, scores)
        return record

    def metrics(self) -> list[dict]:
        return [ap.compute() for ap in self.ap]

    def protocol(self) -> dict:
        predictor = self.predictors[0]
        return {
            "resize": self.resize.describe(),
            "clip_size": predictor.clip_size or "5 (3 for videos of at most 15 frames)",
            "stride": predictor.stride or "clip size (no overlap)",
            "metric": "YouTube-VIS AP/AR (spatio-temporal mask IoU, COCO matching), in dataset categories",
        }
