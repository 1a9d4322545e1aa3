"""The ONNX Runtime backend: the exported graphs on the CPU, CUDA or TensorRT execution
providers, with I/O binding to torch tensors on CUDA (no host copies of the feature maps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..artifacts.contract import GraphSpec
from ..artifacts.export_dir import ExportDir
from ..errors import RapSamError
from .base import Backend, BackendInfo, output_shapes
from .onnxruntime_session import available_providers, create_session

_PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
_NUMPY_TO_TORCH = {np.float32: torch.float32, np.bool_: torch.bool, np.int64: torch.int64}


class OnnxRuntimeBackend(Backend):
    """``provider``: ``cpu``, ``cuda`` or ``tensorrt`` (the last two need onnxruntime-gpu).
    ``profile_dir``: record ONNX Runtime's per-node profile of each graph there (see
    :meth:`end_profiling`)."""

    def __init__(
        self,
        export: ExportDir,
        provider: str = "cpu",
        precision: str = "fp32",
        variant: str = "standard",
        threads: int | None = None,
        profile_dir: str | Path | None = None,
    ) -> None:
        self.export = export
        if provider not in _PROVIDERS:
            raise RapSamError(f"unknown ONNX Runtime provider {provider!r}", f"use one of {sorted(_PROVIDERS)}")
        if _PROVIDERS[provider][0] not in available_providers():
            raise RapSamError(
                f"ONNX Runtime's {_PROVIDERS[provider][0]} is not available here",
                "pip install onnxruntime-gpu (with a matching CUDA) for cuda/tensorrt, or use provider cpu",
            )
        self.provider, self.precision, self.variant, self.threads = provider, precision, variant, threads
        device = "cpu" if provider == "cpu" else "cuda"
        self.info = BackendInfo(
            f"onnxruntime-{provider}" if provider != "cpu" else "onnxruntime", device, precision, variant
        )
        self.profile_dir = Path(profile_dir) if profile_dir is not None else None
        self._sessions: dict[str, object] = {}

    def session(self, graph: str):
        """The graph's session, created (and its file verified) on first use."""
        if graph not in self._sessions:
            path = self.export.graph_file(graph, self.variant, self.precision)
            profile = self.profile_dir / graph if self.profile_dir is not None else None
            self._sessions[graph] = create_session(path, _PROVIDERS[self.provider], self.threads, profile)
        return self._sessions[graph]

    def end_profiling(self) -> dict[str, Path]:
        """Each profiled graph's ONNX Runtime profile (Chrome trace JSON), written now."""
        if self.profile_dir is None:
            raise RapSamError("this backend was not created with profile_dir", "pass profile_dir=DIR")
        return {graph: Path(session.end_profiling()) for graph, session in self._sessions.items()}

    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        session = self.session(spec.name)
        if self.device.type == "cpu":
            outputs = session.run(spec.output_names, {k: v.contiguous().numpy() for k, v in inputs.items()})
            return {k: torch.from_numpy(v) for k, v in zip(spec.output_names, outputs, strict=True)}
        return self._run_bound(session, spec, inputs)

    def _run_bound(self, session, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        binding = session.io_binding()
        device_id = self.device.index or 0
        for name, tensor in inputs.items():
            tensor = tensor.contiguous()
            inputs[name] = tensor
            dtype = next(k for k, v in _NUMPY_TO_TORCH.items() if v == tensor.dtype)
            binding.bind_input(name, "cuda", device_id, dtype, list(tensor.shape), tensor.data_ptr())
        outputs = {}
        for name, shape in output_shapes(spec, inputs, self.export.num_classes).items():
            out = torch.empty(shape, dtype=torch.float32, device=self.device)
            binding.bind_output(name, "cuda", device_id, np.float32, list(shape), out.data_ptr())
            outputs[name] = out
        torch.cuda.current_stream(self.device).synchronize()
        session.run_with_iobinding(binding)
        return outputs
