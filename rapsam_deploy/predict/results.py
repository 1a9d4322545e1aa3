"""Results as JSON (COCO RLE masks), COCO-panoptic PNGs and overlays, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..artifacts.files import write_atomic
from .panoptic import PanopticPrediction
from .postprocess import Instances, panoptic_png
from .prompt import PromptPrediction
from .rle import mask_rle
from .video import FramePrediction
from .visualize import overlay


def write_json(path: Path, value: dict) -> None:
    """Results JSON, written atomically (not flushed to disk: results are cheap to make again)."""
    write_atomic(path, (json.dumps(value, indent=1) + "\n").encode(), durable=False)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An RGB uint8 [H,W,3] image as PNG, written atomically (not flushed to disk)."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise OSError(f"cannot encode {path}")
    write_atomic(path, encoded.tobytes(), durable=False)


def instances_json(found: Instances, names: tuple[str, ...], track_ids: np.ndarray | None = None) -> list[dict]:
    rows = []
    for i in range(len(found)):
        row = {
            "label": int(found.labels[i]),
            "name": names[int(found.labels[i])],
            "score": round(float(found.scores[i]), 5),
            "box": [round(float(v), 1) for v in found.boxes[i]],
            "mask": mask_rle(found.masks[i]),
        }
        if track_ids is not None:
            row["track_id"] = int(track_ids[i])
        rows.append(row)
    return rows


def panoptic_json(prediction: PanopticPrediction, names: tuple[str, ...]) -> dict:
    segments = [
        {"id": s.id, "category_id": s.label, "name": names[s.label], "isthing": s.isthing, "score": round(s.score, 5),
         "area": s.area, "bbox": s.bbox, "iscrowd": 0}
        for s in prediction.panoptic.segments
    ]  # fmt: skip
    return {
        "size": list(prediction.meta.ori_shape),
        "segments_info": segments,
        "instances": instances_json(prediction.instances, names),
    }


def prompt_json(prediction: PromptPrediction) -> dict:
    return {
        "masks": [
            {"prompt": int(p), "iou": round(float(iou), 5), "mask": mask_rle(m)}
            for m, iou, p in zip(prediction.masks, prediction.iou, prediction.prompts, strict=True)
        ]
    }


def frame_json(index: int, frame: FramePrediction, names: tuple[str, ...]) -> dict:
    return {"frame": index, "instances": instances_json(frame.instances, names, frame.track_ids)}


def panoptic_overlay(image: np.ndarray, id_map: np.ndarray, result: dict) -> np.ndarray:
    """RGB uint8 [H,W,3] with each segment of ``id_map`` [H,W] (described by
    :func:`panoptic_json`'s ``segments_info``) in its class's colour, named."""
    segments = result["segments_info"]
    masks = np.stack([id_map == s["id"] for s in segments]) if segments else np.zeros((0, *id_map.shape), bool)
    return overlay(image, masks, [s["name"] for s in segments], [s["category_id"] for s in segments])


def prompt_overlay(image: np.ndarray, prediction: PromptPrediction) -> np.ndarray:
    """RGB uint8 [H,W,3] with each prompt's mask in the prompt's colour, labelled with its predicted IoU."""
    return overlay(image, prediction.masks, [f"{i:.2f}" for i in prediction.iou], list(prediction.prompts))


def frame_overlay(frame: np.ndarray, found: FramePrediction, names: tuple[str, ...]) -> np.ndarray:
    """A video frame RGB uint8 [H,W,3] with each instance in its track's colour, labelled
    "class #track": a track keeps its colour and ID in every frame."""
    texts = [f"{names[label]} #{track}" for label, track in zip(found.instances.labels, found.track_ids, strict=True)]
    return overlay(frame, found.instances.masks, texts, [int(t) for t in found.track_ids])


def panoptic_files(stem: Path) -> tuple[Path, Path, Path]:
    """The files :func:`write_panoptic` writes for ``stem``: ``STEM_panoptic.png``, ``STEM.json``
    and ``STEM.png``."""
    return stem.with_name(f"{stem.name}_panoptic.png"), stem.with_suffix(".json"), stem.with_suffix(".png")


def write_panoptic(stem: Path, image: np.ndarray, source: str, id_map: np.ndarray, result: dict) -> np.ndarray:
    """One image's panoptic results, from its id map [H,W] and :func:`panoptic_json` (computed
    here or by a server): the COCO-panoptic PNG, the JSON ({"image": source, ...}) and the
    overlay (:func:`panoptic_files`), which is returned (RGB uint8 [H,W,3])."""
    drawn = panoptic_overlay(image, id_map, result)
    png, json_file, overlay_file = panoptic_files(stem)
    write_png(png, panoptic_png(id_map))
    write_json(json_file, {"image": source, **result})
    write_png(overlay_file, drawn)
    return drawn


def write_prompt(stem: Path, image: np.ndarray, source: str, prediction: PromptPrediction) -> None:
    """One image's prompt masks: ``STEM.json`` and the overlay ``STEM.png`` (masks labelled
    with their predicted IoU)."""
    write_json(stem.with_suffix(".json"), {"image": source, **prompt_json(prediction)})
    write_png(stem.with_suffix(".png"), prompt_overlay(image, prediction))
