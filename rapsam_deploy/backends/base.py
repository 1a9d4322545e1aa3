"""The one backend interface: run a graph of the contract on tensors.

Every backend (PyTorch, ONNX Runtime, TensorRT) takes and returns ``torch.Tensor`` s on its own
``device``, keyed by the contract's tensor names, so that the predictors move the big feature
maps between graphs without copies, whatever runs them. Inputs and outputs are fp32 (bool and
int64 where the contract says so) whatever the precision the graphs compute in.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch

from ..artifacts.contract import FEATURE_STRIDE, GRAPHS, GraphSpec

GRAPH_SPECS: dict[str, GraphSpec] = {spec.name: spec for spec in GRAPHS}


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

    def run(self, graph: str, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run ``graph`` on ``inputs`` (tensors on :attr:`device`, named as the contract);
        returns every output by name, on :attr:`device`."""
        spec = GRAPH_SPECS[graph]
        missing = [name for name in spec.input_names if name not in inputs]
        if missing:
            raise KeyError(f"{graph} needs inputs {missing}")
        return self._run(spec, {name: inputs[name] for name in spec.input_names})

    @abc.abstractmethod
    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...

    def synchronize(self) -> None:
        """Wait for queued device work (timing needs it)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.label}>"


def output_shapes(spec: GraphSpec, inputs: dict[str, torch.Tensor], num_classes: int) -> dict[str, tuple[int, ...]]:
    """Every output's shape from the inputs' shapes and the contract's symbols (``Hf``/``Wf`` are
    a quarter of ``H``/``W``; ``K1`` is classes + 1): backends allocate outputs up front."""
    sizes: dict[str, int] = {"K1": num_classes + 1}
    for tensor in spec.inputs:
        for symbol, size in zip(tensor.shape, inputs[tensor.name].shape, strict=True):
            if isinstance(symbol, str):
                sizes[symbol] = int(size)
    if "H" in sizes:
        sizes["Hf"], sizes["Wf"] = sizes["H"] // FEATURE_STRIDE, sizes["W"] // FEATURE_STRIDE
    return {t.name: tuple(sizes[d] if isinstance(d, str) else d for d in t.shape) for t in spec.outputs}
