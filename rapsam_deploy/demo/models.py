"""What computes the page's results: the predictors over a local runtime, or a Triton server
through its client (``--server``). Both give what ``rapsam-infer`` writes: prompt masks as a
:class:`PromptPrediction`, panoptic results as an id map and ``panoptic_json``, video frames as
:class:`FramePrediction` (local only: the served repository segments images)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import RapSamError
from ..predict import results
from ..predict.panoptic import PanopticPredictor
from ..predict.postprocess import PanopticConfig
from ..predict.preprocess import ResizePolicy
from ..predict.prompt import PromptPrediction, PromptPredictor
from ..predict.runtime import Runtime
from ..predict.video import FramePrediction, VideoPredictor
from ..serve.client import TritonClient
from .inputs import Photo

UNTRAINED_NOTE = "random weights, untrained: the masks show that the pipeline runs, not what the model can do"


@dataclass(frozen=True)
class ModelLine:
    """The page's line saying what runs: the model (backbone, and its checkpoint or "random
    weights, untrained"), where it runs (backend and device, or the server) and in which
    precision (None: the server's, which its API does not say)."""

    model: str
    runs_on: str
    precision: str | None
    trained: bool | None  # None: a server, whose API does not say

    def text(self) -> str:
        """The line for a terminal."""
        precision = f"; precision: {self.precision}" if self.precision else ""
        return f"model: {self.model}; runs on: {self.runs_on}{precision}"

    def markdown(self) -> str:
        notes = {
            True: "",
            False: f"  \n⚠️ {UNTRAINED_NOTE}.",
            None: "  \nThe served repository's rapsam_serve.json names the model, its weights, backend and "
            "precision: random weights make random masks.",
        }
        precision = f" · **precision:** {self.precision}" if self.precision else ""
        return f"**Model:** {self.model} · **runs on:** {self.runs_on}{precision}{notes[self.trained]}"


class LocalModel:
    """The predictors over one runtime, shared by every visitor of the page. Calls are serialised
    (one lock): the prompt predictor holds the image it prompts, and the backend's threads are
    the CPU's anyway. ``resize``: every task's resize (None: each task's test pipeline's)."""

    # The page's score sliders reach the predictors (a server merges with its repository's).
    tunable = True
    encodes_on_open = True
    click_parts = "prompt encoder, decoder, prompt adapter"

    def __init__(self, runtime: Runtime, resize: ResizePolicy | None = None, score_thr: float = 0.3) -> None:
        self.runtime, self.resize, self.score_thr = runtime, resize, score_thr
        self.prompts = PromptPredictor(runtime, resize)
        self.names = runtime.vocabulary.classes
        self.lock = threading.Lock()
        trained = bool(runtime.export.manifest.model.get("trained", False))
        info = runtime.backend.info
        detail = f", {info.detail}" if info.detail else ""
        precision = f"{info.precision} ({info.variant} graphs{detail})"
        self.line = ModelLine(runtime.label, f"{info.name} on {info.device}", precision, trained)

    def encode(self, photo: Photo) -> object:
        """The encoder, once per photo: what :meth:`prompt` takes (an ``EncodedImage``)."""
        with self.lock:
            return self.prompts.set_image(photo.rgb)

    def prompt(self, photo: Photo, encoded: object, points: np.ndarray, boxes: np.ndarray) -> PromptPrediction:
        """Masks for points [P,2] and boxes [Q,4] (original pixels) on a photo encoded before
        (``encoded``; ``photo`` is what a server would be sent)."""
        with self.lock:
            self.prompts.use_image(encoded)
            return self.prompts.predict(points, boxes)

    def panoptic(self, photo: Photo, config: PanopticConfig) -> tuple[np.ndarray, dict]:
        """The panoptic id map [H,W] int32 and ``panoptic_json`` of a photo, merged with
        ``config`` (the page's thresholds), instances kept above ``score_thr``."""
        predictor = PanopticPredictor(self.runtime, self.resize, config, score_thr=self.score_thr)
        with self.lock:
            (found,) = predictor.predict(photo.rgb)
        return found.panoptic.id_map, results.panoptic_json(found, self.names)

    def video(self, frames: list[np.ndarray], score_thr: float) -> list[FramePrediction]:
        """Tracked instances scoring above ``score_thr`` in each RGB uint8 [H,W,3] frame of one clip."""
        predictor = VideoPredictor(self.runtime, resize=self.resize, score_thr=score_thr)
        with self.lock:
            return predictor.predict(frames)


class ServedModel:
    """A Triton server's models (``rapsam-serve``), through :class:`TritonClient`; the server
    keeps each image it encoded, so a click sends the prompts and the image's id only."""

    tunable = False
    encodes_on_open = False  # the first click sends the photo (TritonClient.click)
    click_parts = "a round trip to the server; the first also sends the photo and encodes it"

    def __init__(self, client: TritonClient, score_thr: float = 0.3) -> None:
        self.client = client
        self.score_thr = score_thr
        self.line = ModelLine(client.label, f"the Triton server at {client.url}", precision=None, trained=None)

    def encode(self, photo: Photo) -> object:
        """Nothing runs until the first click, which sends the photo; its id is its sha256."""
        return hashlib.sha256(photo.data).hexdigest()

    def prompt(self, photo: Photo, encoded: object, points: np.ndarray, boxes: np.ndarray) -> PromptPrediction:
        return self.client.click(points, boxes, image=photo.data, image_id=str(encoded))

    def panoptic(self, photo: Photo, config: PanopticConfig) -> tuple[np.ndarray, dict]:
        """As :meth:`LocalModel.panoptic`, but merged as the server's post-processing model does."""
        return self.client.panoptic(photo.data, self.score_thr)

    def video(self, frames: list[np.ndarray], score_thr: float) -> list[FramePrediction]:
        raise RapSamError(
            "the served repository segments images, not videos",
            "start rapsam-demo with --export-dir (without --server) for the video tab",
        )
