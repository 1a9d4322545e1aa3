"""The PyTorch backend: the reference model itself, on CPU or CUDA, fp32 or fp16 (autocast on CUDA)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from ..artifacts.contract import GraphSpec
from ..artifacts.export_dir import ExportDir
from ..errors import RapSamError
from ..model import RapSam, build_model
from ..model.graphs import GRAPH_MODULES
from .base import Backend, BackendInfo


def model_from_export(export: ExportDir) -> RapSam:
    """Rebuild the exported model (same checkpoint or same random seed) and check that it is the
    same weights: its object queries must equal the export's."""
    info = export.manifest.model
    checkpoint = info.get("checkpoint")
    if checkpoint and not Path(checkpoint).is_file():
        raise RapSamError(
            f"the export was made from {checkpoint}, which is not on this machine",
            "pass the checkpoint to the torch backend yourself, or use the onnxruntime backend",
        )
    model = build_model(info["backbone"], checkpoint, info.get("class_embed"), info.get("seed") or 0)
    if not np.array_equal(export.object_queries(), model.object_queries.detach().float().numpy()):
        raise RapSamError(
            f"the rebuilt {info['backbone']} model does not have the exported weights",
            "pass the same --checkpoint/--class-embed/--seed as the export, or re-export",
        )
    return model


class TorchBackend(Backend):
    """Graphs as the reference model's graph modules (``model.graphs``)."""

    def __init__(self, model: RapSam, device: str = "cpu", precision: str = "fp32", compile: bool = False) -> None:
        if precision not in ("fp32", "fp16"):
            raise RapSamError(f"unknown precision {precision!r}", "use fp32 or fp16")
        if precision == "fp16" and not str(device).startswith("cuda"):
            raise RapSamError("the torch backend runs fp16 on CUDA only (autocast)", "use --precision fp32 on CPU")
        self.model = model.to(device).eval()
        self.precision = precision
        name = "torch-compile" if compile else "torch"
        self.info = BackendInfo(name, str(torch.device(device)), precision, "standard")
        self._graphs = {graph: module(self.model) for graph, module in GRAPH_MODULES.items()}
        if compile:
            # Static shapes: inductor recompiles per input shape, as engines need profiles.
            self._graphs = {graph: torch.compile(module, dynamic=False) for graph, module in self._graphs.items()}

    @classmethod
    def from_export(
        cls, export: ExportDir, device: str = "cpu", precision: str = "fp32", compile: bool = False
    ) -> TorchBackend:
        return cls(model_from_export(export), device, precision, compile)

    def _autocast(self):
        if self.precision == "fp16":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with self._autocast():
            outputs = self._graphs[spec.name](*inputs.values())
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return {name: out.float() for name, out in zip(spec.output_names, outputs, strict=True)}
