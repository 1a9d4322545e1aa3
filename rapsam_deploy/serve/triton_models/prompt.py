"""The interactive model: an image once, then any number of prompt batches by the image's id.
The encoder runs when an image comes (its features are kept in a small least-recently-used
cache per model instance); each prompt batch runs only the prompt encoder, decoder and prompt
adapter, through the repository's graph models, with the local ``PromptPredictor``."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from ...artifacts.export_dir import ExportDir
from ...predict.preprocess import load_image, parse_resize
from ...predict.prompt import EncodedImage, PromptPredictor
from ...predict.runtime import Runtime
from .. import names
from .base import NotFound, PythonModel, as_bytes
from .bls_backend import BlsBackend


class PromptModel(PythonModel):
    """Parameters: ``prefix`` (of the graph models' names), ``resize``, ``cache_images`` (how
    many encoded images each instance keeps), ``precision`` and ``variant`` (of the graph
    models, for reports). ``manifest.json`` and ``object_queries.npy`` lie beside this model."""

    def setup(self) -> None:
        export = ExportDir.open(self.directory)
        backend = BlsBackend(self.pb, self.parameter("prefix"), self.parameter("precision"), self.parameter("variant"))
        runtime = Runtime(backend, export, torch.from_numpy(export.object_queries()))
        self.predictor = PromptPredictor(runtime, parse_resize(self.parameter("resize") or None))
        self.cache_images = int(self.parameter("cache_images", "8"))
        self.cache: OrderedDict[str, EncodedImage] = OrderedDict()

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        image_id = as_bytes(inputs[names.IMAGE_ID]).decode(errors="replace")
        if names.IMAGE in inputs:
            self.cache[image_id] = self.predictor.set_image(load_image(as_bytes(inputs[names.IMAGE])))
            while len(self.cache) > self.cache_images:
                self.cache.popitem(last=False)
        elif image_id in self.cache:
            self.predictor.use_image(self.cache[image_id])
        else:
            raise NotFound(
                f"image {image_id!r} is not in the server's cache (it keeps the last {self.cache_images} images "
                "per instance)",
                f"send the image ({names.IMAGE}) with the prompts again",
            )
        self.cache.move_to_end(image_id)
        prediction = self.predictor.predict(inputs.get(names.POINTS), inputs.get(names.BOXES))
        return {names.MASKS: prediction.masks, names.IOU: prediction.iou, names.PROMPT_INDEX: prediction.prompts}
