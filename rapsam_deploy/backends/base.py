"""The one backend interface: run a graph of the contract on tensors.

Every backend (PyTorch, ONNX Runtime, TensorRT) takes and returns ``torch.Tensor`` s on its own
``device``, so that the predictors move the big feature maps between graphs without copies,
whatever runs them. Inputs and outputs are fp32 (bool and int64 where the contract says so)
whatever the precision the graphs compute in. Callers use :meth:`Backend.call`: a graph's
inputs and outputs in the contract's order, no tensor names spelled.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from ..artifacts import contract
from ..artifacts.contract import GraphSpec

# Runs one graph: (spec, *inputs in the contract's order) -> outputs in the contract's order, as
# ``Backend.call`` does; chain checks take any such function (``export.reference_cases``).
GraphRun = Callable[..., tuple[torch.Tensor, ...]]


@dataclass(frozen=True)
class BackendInfo:
    """What a backend is, for reports: e.g. ('onnxruntime', 'cpu', 'fp32', 'standard')."""

    name: str
    device: str
    precision: str
    variant: str
    detail: str = ""

    @property
    def label(self) -> str:
        extra = f", {self.detail}" if self.detail else ""
        return f"{self.name} ({self.device}, {self.precision}, {self.variant}{extra})"


class Backend(abc.ABC):
    """Runs the contract's graphs. Subclasses implement :meth:`_run`."""

    info: BackendInfo

    @property
    def device(self) -> torch.device:
        return torch.device(self.info.device)

    def call(self, spec: GraphSpec, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run ``spec`` on its inputs in the contract's order (tensors on :attr:`device`);
        returns its outputs in the contract's order, on :attr:`device`."""
        return spec.unpack(self.run(spec, spec.bind(*inputs)))

    def run(self, spec: GraphSpec, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run ``spec`` on ``inputs`` by name; returns every output by name."""
        missing = [name for name in spec.input_names if name not in inputs]
        if missing:
            raise KeyError(f"{spec.name} needs inputs {missing}")
        return self._run(spec, {name: inputs[name] for name in spec.input_names})

    @abc.abstractmethod
    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...

    def synchronize(self) -> None:
        """Wait for queued device work (timing needs it)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.label}>"


def output_shapes(spec: GraphSpec, inputs: Mapping[str, torch.Tensor], num_classes: int) -> dict[str, tuple[int, ...]]:
    """Every output's shape from the inputs' shapes (the contract's shape rule): backends
    allocate outputs up front."""
    sizes = spec.input_sizes({name: tuple(tensor.shape) for name, tensor in inputs.items()})
    return spec.shapes(contract.dimensions(num_classes, **sizes))
