"""One graph of the export run by ONNX Runtime: the ``python`` graph form, for servers without
the onnxruntime or tensorrt backends and for CPU serving."""

from __future__ import annotations

import numpy as np

from ...artifacts import contract
from ...backends.onnxruntime_session import create_session
from .base import PythonModel


class GraphModel(PythonModel):
    """Parameters: ``graph`` (its contract name), ``threads`` (ONNX Runtime's intra-op threads;
    empty: its own choice). The graph file is ``model.onnx`` beside this model."""

    def setup(self) -> None:
        self.spec = contract.graph(self.parameter("graph"))
        threads = self.parameter("threads")
        self.session = create_session(self.directory / "model.onnx", threads=int(threads) if threads else None)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.spec.output_names, {name: inputs[name] for name in self.spec.input_names})
        return dict(zip(self.spec.output_names, outputs, strict=True))
