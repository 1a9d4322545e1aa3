"""A backend whose graphs are the repository's graph models, called from inside the server
(Triton's business-logic scripting): the prompt model runs the local runtime's
``PromptPredictor`` over it, so served prompts take the same pre- and post-processing path."""

from __future__ import annotations

import torch

from ...artifacts.contract import GraphSpec
from ...backends.base import Backend, BackendInfo
from ...errors import RapSamError
from ..names import model_name
from .base import to_numpy, to_triton


class BlsBackend(Backend):
    """``pb``: ``triton_python_backend_utils``; ``prefix``: the repository's model-name prefix."""

    def __init__(self, pb, prefix: str, precision: str, variant: str) -> None:
        self.pb = pb
        self.prefix = prefix
        self.info = BackendInfo("triton", "cpu", precision, variant, "graph models called in the server")

    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        pb = self.pb
        request = pb.InferenceRequest(
            model_name=model_name(self.prefix, spec.name),
            inputs=[to_triton(pb, name, tensor.cpu().numpy()) for name, tensor in inputs.items()],
            requested_output_names=spec.output_names,
        )
        response = request.exec()
        if response.has_error():
            raise RapSamError(f"the {spec.name} model failed: {response.error().message()}")
        return {
            name: torch.from_numpy(to_numpy(pb.get_output_tensor_by_name(response, name))) for name in spec.output_names
        }
