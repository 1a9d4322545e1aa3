"""What every Python-backend model here shares: Triton's calls (``initialize``, ``execute``),
the model's folder and parameters, tensors in and out by name, and errors as Triton errors.

Tensors cross into and out of Triton through DLPack (torch), never through the backend's numpy
calls (``as_numpy``, ``Tensor(name, array)``): the nvidia-pytriton wheel's Python-backend stub
was built for numpy 1, and under numpy 2 the arrays it makes repeat their first element and the
tensors it makes from arrays are empty."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.utils.dlpack

from ...errors import RapSamError


class NotFound(RapSamError):
    """Something a request names that the model does not hold (answered NOT_FOUND)."""


class PythonModel:
    """Base of the models: a subclass sets itself up in :meth:`setup` and answers one request
    in :meth:`run`, numpy arrays by tensor name in and out."""

    def initialize(self, args: dict) -> None:
        # Only the server's embedded interpreter has this module.
        self.pb = importlib.import_module("triton_python_backend_utils")
        self.config = json.loads(args["model_config"])
        self.directory = Path(args["model_repository"]) / args["model_version"]
        self.setup()

    def setup(self) -> None:
        """Load what the model needs (files in :attr:`directory`, :meth:`parameter` s)."""

    def parameter(self, key: str, default: str = "") -> str:
        """A string parameter of the model's config.pbtxt."""
        return self.config.get("parameters", {}).get(key, {}).get("string_value", default)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def execute(self, requests: list) -> list:
        return [self._respond(request) for request in requests]

    def _respond(self, request):
        pb = self.pb
        try:
            outputs = self.run({tensor.name(): to_numpy(tensor) for tensor in request.inputs()})
        except RapSamError as err:
            code = pb.TritonError.NOT_FOUND if isinstance(err, NotFound) else pb.TritonError.INVALID_ARG
            return pb.InferenceResponse(error=pb.TritonError(str(err), code))
        return pb.InferenceResponse([to_triton(pb, name, value) for name, value in outputs.items()])


def to_numpy(tensor) -> np.ndarray:
    """A Triton tensor (of a request or a response) as a numpy array of its own."""
    return torch.from_dlpack(tensor.to_dlpack()).numpy().copy()


def to_triton(pb, name: str, value: np.ndarray):
    """A numpy array as the Triton tensor ``name``."""
    return pb.Tensor.from_dlpack(name, torch.utils.dlpack.to_dlpack(torch.from_numpy(np.ascontiguousarray(value))))


def as_bytes(value: np.ndarray) -> bytes:
    """The bytes a UINT8 vector carries (an encoded image, an id, JSON)."""
    return np.ascontiguousarray(value, dtype=np.uint8).reshape(-1).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    """Bytes as the UINT8 vector that carries them."""
    return np.frombuffer(data, dtype=np.uint8).copy()
