"""The panoptic ensemble's first step: an encoded image in; the encoder's input, the object
queries and their attention mask (the decoder's other inputs), and the image's meta out. The
same decoding, resize and padding as the local runtime (``predict.preprocess``)."""

from __future__ import annotations

import numpy as np

from ...artifacts.export_dir import ExportDir
from ...predict.preprocess import load_image, parse_resize, preprocess
from .. import names
from .base import PythonModel, as_bytes
from .meta import meta_to_array


class PreprocessModel(PythonModel):
    """Parameter ``resize`` (``coco``, ``ytvis`` or ``long:N``; COCO's test size by default).
    ``manifest.json`` and ``object_queries.npy`` of the export lie beside this model."""

    def setup(self) -> None:
        queries = ExportDir.open(self.directory).object_queries()
        self.queries = np.ascontiguousarray(queries[None])
        self.attn_mask = np.zeros((queries.shape[0], queries.shape[0]), dtype=bool)
        self.resize = parse_resize(self.parameter("resize") or None)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        image = load_image(as_bytes(inputs[names.IMAGE]))
        batch, (meta,) = preprocess([image], self.resize)
        return {
            names.PIXELS: batch.numpy(),
            names.OBJECT_QUERIES: self.queries,
            names.OBJECT_ATTN_MASK: self.attn_mask,
            names.META: meta_to_array(meta),
        }
