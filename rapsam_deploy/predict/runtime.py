"""Opening an export directory with a backend: ``load(export_dir, backend="auto")``.

``auto`` picks the fastest backend available here, in this order: TensorRT (engines built by
``rapsam-build``), ONNX Runtime CUDA, PyTorch CUDA, ONNX Runtime CPU, PyTorch CPU; it says which
it picked and why the faster ones were skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts.contract import Manifest, read_manifest
from ..artifacts.vocabulary import Vocabulary
from ..backends.base import Backend
from ..backends.onnxruntime_session import available_providers
from ..errors import RapSamError

log = logging.getLogger(__name__)
BACKENDS = ("auto", "tensorrt", "onnxruntime-cuda", "torch-cuda", "onnxruntime", "torch")


@dataclass
class Runtime:
    """A backend over one export directory, with what the predictors need from its manifest."""

    backend: Backend
    manifest: Manifest
    object_queries: torch.Tensor  # [N,C] on the backend's device

    @property
    def vocabulary(self) -> Vocabulary:
        v = self.manifest.vocabulary
        return Vocabulary(v["name"], tuple(v["classes"]), v["num_things"])


def _tensorrt(export_dir: Path, precision: str, variant: str) -> Backend:
    from ..backends.tensorrt_backend import TensorRTBackend

    return TensorRTBackend(export_dir, precision=precision, variant=variant)


def _onnxruntime(export_dir: Path, provider: str, precision: str, variant: str, threads: int | None) -> Backend:
    from ..backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(export_dir, provider, precision, variant, threads)


def _torch(export_dir: Path, device: str, precision: str) -> Backend:
    from ..backends.torch_backend import TorchBackend

    return TorchBackend.from_export(export_dir, device, precision)


def create_backend(
    name: str, export_dir: str | Path, precision: str = "fp32", variant: str = "standard", threads: int | None = None
) -> Backend:
    """One of ``BACKENDS``; ``auto`` tries them fastest first."""
    export_dir = Path(export_dir)
    makers = {
        "tensorrt": lambda: _tensorrt(export_dir, precision, variant),
        "onnxruntime-cuda": lambda: _onnxruntime(export_dir, "cuda", precision, variant, threads),
        "torch-cuda": lambda: _torch(export_dir, "cuda", precision),
        "onnxruntime": lambda: _onnxruntime(export_dir, "cpu", precision, variant, threads),
        "torch": lambda: _torch(export_dir, "cpu", precision),
    }
    if name not in BACKENDS:
        raise RapSamError(f"unknown backend {name!r}", f"use one of {', '.join(BACKENDS)}")
    if name != "auto":
        return makers[name]()
    skipped = []
    for candidate, make in makers.items():
        if candidate.endswith("cuda") and not _cuda_usable(candidate):
            skipped.append(f"{candidate}: no CUDA device or provider")
            continue
        try:
            backend = make()
        except (RapSamError, ImportError) as err:
            skipped.append(f"{candidate}: {str(err).splitlines()[0]}")
            continue
        log.warning("backend: %s%s", backend.info.label, f" (skipped {'; '.join(skipped)})" if skipped else "")
        return backend
    raise RapSamError("no backend can run this export here:\n  " + "\n  ".join(skipped))


def _cuda_usable(candidate: str) -> bool:
    if candidate == "onnxruntime-cuda":
        return "CUDAExecutionProvider" in available_providers()
    return torch.cuda.is_available()


def load(
    export_dir: str | Path,
    backend: str | Backend = "auto",
    precision: str = "fp32",
    variant: str = "standard",
    threads: int | None = None,
) -> Runtime:
    """Open ``export_dir`` (written by ``rapsam-export``) with ``backend``."""
    export_dir = Path(export_dir)
    manifest = read_manifest(export_dir)
    if not isinstance(backend, Backend):
        backend = create_backend(backend, export_dir, precision, variant, threads)
    queries = np.load(export_dir / manifest.object_queries["file"])
    return Runtime(backend, manifest, torch.from_numpy(queries).to(backend.device))
