"""The panoptic ensemble's last step: the object adapter's outputs and the image's meta in; the
panoptic id map and the results JSON out, computed by the local runtime's post-processing
(``predict.postprocess.segment``, ``predict.results.panoptic_json``)."""

from __future__ import annotations

import json

import numpy as np
import torch

from ...artifacts.export_dir import ExportDir
from ...predict.panoptic import PanopticPrediction
from ...predict.postprocess import PanopticConfig, segment
from ...predict.results import panoptic_json
from .. import names
from .base import PythonModel, from_bytes
from .meta import meta_from_array


class PanopticPostprocessModel(PythonModel):
    """``manifest.json`` of the export (the classes) lies beside this model."""

    def setup(self) -> None:
        self.vocabulary = ExportDir.open(self.directory).vocabulary
        self.merge = PanopticConfig()

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        meta = meta_from_array(inputs[names.META])
        classes = torch.from_numpy(inputs[names.CLASS_LOGITS][0])
        masks = torch.from_numpy(inputs[names.MASK_LOGITS][0])
        min_score = float(np.asarray(inputs[names.SCORE_THRESHOLD]).reshape(-1)[0])
        found = segment(classes, masks, meta, self.vocabulary.num_things, self.merge, min_score=min_score)
        prediction = PanopticPrediction(*found, meta)
        result = json.dumps(panoptic_json(prediction, self.vocabulary.classes)).encode()
        return {names.PANOPTIC_ID_MAP: prediction.panoptic.id_map, names.RESULT_JSON: from_bytes(result)}
