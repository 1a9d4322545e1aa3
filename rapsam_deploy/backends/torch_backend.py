"""The PyTorch backend: the reference model itself, on CPU or CUDA, in fp32 or in fp16 under the
exported fp16 graphs' policy (``model.precision``: the fused pooling blocks, deformable
convolutions, LayerNorms and classifier stay fp32). Not autocast: it runs the unnormalised
pooled sums in fp16, where they overflow (NaN masks from 512x512 up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..artifacts import contract
from ..artifacts.contract import GraphSpec
from ..artifacts.export_dir import ExportDir
from ..errors import RapSamError
from ..model import RapSam, build_model
from ..model.graphs import GRAPH_MODULES
from ..model.precision import half_precision
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
        if precision not in contract.PRECISIONS:
            raise RapSamError(f"unknown precision {precision!r}", f"use one of {', '.join(contract.PRECISIONS)}")
        if precision == "int8":
            raise RapSamError(
                "the torch backend has no int8 form: int8 exists as quantized ONNX graphs only",
                "use --backend onnxruntime for the int8 graphs (or TensorRT engines of them)",
            )
        self.model = (half_precision(model) if precision == "fp16" else model).to(device).eval()
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

    @torch.no_grad()
    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        outputs = self._graphs[spec.name](*inputs.values())
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return {name: out.float() for name, out in zip(spec.output_names, outputs, strict=True)}
