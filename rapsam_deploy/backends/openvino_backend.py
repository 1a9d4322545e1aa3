"""The OpenVINO backend: the exported fp32 graphs compiled by OpenVINO's CPU plugin, in fp32 or
in bf16 where the CPU has bf16 hardware (AMX or AVX512-BF16).

OpenVINO converts every graph but the encoder with ONNX ``DeformConv`` (it has no conversion for
that op): the encoder needs an export with ``--deform-conv decomposed``. In bf16 the graphs of
``BF16_FP32_GRAPHS`` stay fp32: OpenVINO 2026.4's CPU plugin decides precision per compiled
model, not per node (it ignores the ``precise`` mark on nodes: measured), so the policy found by
measurement (``benchmarks/precision_blocks.py``) is applied graph by graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..artifacts import contract
from ..artifacts.contract import GraphSpec
from ..artifacts.export_dir import ExportDir
from ..errors import RapSamError
from ..machine import cpu_isa
from ..model.precision import FP32_GRAPHS
from .base import Backend, BackendInfo, GraphRun

PRECISIONS = ("fp32", "bf16")
_HINTS = {"fp32": "f32", "bf16": "bf16"}
# The CPU features whose bf16 kernels OpenVINO uses; without them it would emulate bf16 slower
# than fp32.
BF16_ISA = ("AMX-BF16", "AVX512-BF16")
# Graphs a bf16 run keeps in fp32: those with no reduced form in any precision (the prompt
# encoder's sine code), and no more: chosen by measurement (benchmarks/cpu_precision.py
# --bf16-search; README, "Reduced precision on the CPU").
BF16_FP32_GRAPHS: tuple[str, ...] = tuple(FP32_GRAPHS)


def import_openvino():
    """The ``openvino`` module, or one clear error saying how to install it."""
    try:
        import openvino
    except ImportError as err:
        raise RapSamError("OpenVINO is not installed", "pip install openvino (or rapsam-deploy[openvino])") from err
    return openvino


def bf16_supported() -> bool:
    """Whether this CPU has bf16 hardware OpenVINO uses."""
    return any(isa in cpu_isa() for isa in BF16_ISA)


class OpenVinoBackend(Backend):
    """``precision``: ``fp32`` or ``bf16`` (bf16 hardware only); ``threads``: OpenVINO's
    inference threads (default: its own choice); ``fp32_graphs``: the graphs a bf16 run keeps in
    fp32 (default ``BF16_FP32_GRAPHS``; other sets are for measuring the policy)."""

    def __init__(
        self,
        export: ExportDir,
        precision: str = "fp32",
        variant: str = "standard",
        threads: int | None = None,
        fp32_graphs: tuple[str, ...] = BF16_FP32_GRAPHS,
    ) -> None:
        if precision not in PRECISIONS:
            raise RapSamError(
                f"the openvino backend runs {' or '.join(PRECISIONS)}, not {precision}",
                "use --precision fp32 or bf16 with --backend openvino",
            )
        if precision == "bf16" and not bf16_supported():
            raise RapSamError(
                f"this CPU has no bf16 hardware ({', '.join(cpu_isa()) or 'no ISA list'}; needs one of "
                f"{', '.join(BF16_ISA)})",
                "use --precision fp32 here",
            )
        if export.manifest.model.get("deform_conv") != "decomposed":
            raise RapSamError(
                f"OpenVINO cannot convert the ONNX DeformConv op of {export.path}'s encoder",
                "re-export with --deform-conv decomposed for the openvino backend",
            )
        self.openvino = import_openvino()
        self.export, self.precision, self.threads, self.fp32_graphs = export, precision, threads, fp32_graphs
        self.info = BackendInfo("openvino", "cpu", precision, variant)
        self._core = self.openvino.Core()
        self._requests: dict[str, object] = {}

    def graph_precision(self, graph: str) -> str:
        """What ``graph`` computes in under this backend's precision."""
        return graph_precision(graph, self.precision, self.fp32_graphs)

    def request(self, graph: str):
        """The graph's compiled model's infer request, compiled on first use."""
        if graph not in self._requests:
            path = self.export.graph_file(graph, contract.DEFAULT_VARIANT, contract.DEFAULT_PRECISION)
            self._requests[graph] = compile_graph(self._core, path, self.graph_precision(graph), self.threads)
        return self._requests[graph]

    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return infer(self.request(spec.name), spec, inputs)


def graph_precision(graph: str, precision: str, fp32_graphs: tuple[str, ...] = BF16_FP32_GRAPHS) -> str:
    """What ``graph`` computes in when a run asks for ``precision``: fp32 for ``fp32_graphs``."""
    return "fp32" if graph in fp32_graphs else precision


def compile_graph(core, path: Path, precision: str, threads: int | None):
    """An infer request of the ONNX file ``path`` compiled for the CPU in ``precision``."""
    config = {"INFERENCE_PRECISION_HINT": _HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        return core.compile_model(core.read_model(path), "CPU", config).create_infer_request()
    except RuntimeError as err:
        raise RapSamError(
            f"OpenVINO cannot compile {path}: {str(err).splitlines()[0]}",
            "use --backend onnxruntime, or report this with the OpenVINO version",
        ) from err


def infer(request, spec: GraphSpec, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Run ``spec`` on ``inputs`` (CPU tensors by name); returns every output by name (copies:
    the request reuses its output buffers on its next inference)."""
    results = request.infer({name: np.ascontiguousarray(tensor.numpy()) for name, tensor in inputs.items()})
    by_name = {port.get_any_name(): value for port, value in results.items()}
    return {name: torch.from_numpy(np.array(by_name[name])) for name in spec.output_names}


def openvino_run(paths: Mapping[str, Path], precision: str, threads: int | None = None) -> GraphRun:
    """The ONNX files ``paths`` (graph name -> file; the encoder decomposed) compiled by OpenVINO
    as a ``GraphRun`` (the export's chain check), with ``BF16_FP32_GRAPHS`` kept fp32 in bf16."""
    core = import_openvino().Core()
    requests: dict[str, object] = {}

    def run_graph(spec: GraphSpec, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if spec.name not in requests:
            requests[spec.name] = compile_graph(core, paths[spec.name], graph_precision(spec.name, precision), threads)
        return spec.unpack(infer(requests[spec.name], spec, spec.bind(*tensors)))

    return run_graph
