"""Choosing a backend by name: ``create_backend("auto", export)``.

``auto`` picks the fastest backend available here, in this order: TensorRT (engines built by
``rapsam-build``), ONNX Runtime CUDA, PyTorch CUDA, ONNX Runtime CPU, PyTorch CPU; it says which
it picked and why the faster ones were skipped. Each backend's module is imported only when
it is asked for.
"""

from __future__ import annotations

import logging

import torch

from ..artifacts import contract
from ..artifacts.export_dir import ExportDir
from ..errors import RapSamError
from .base import Backend
from .onnxruntime_session import available_providers

log = logging.getLogger(__name__)
BACKENDS = ("auto", "tensorrt", "onnxruntime-cuda", "torch-cuda", "onnxruntime", "torch")
DEFAULT_BACKEND = "auto"


def _tensorrt(export: ExportDir, precision: str, variant: str, threads: int | None) -> Backend:
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend(export, precision=precision, variant=variant)


def _onnxruntime(provider: str):
    def make(export: ExportDir, precision: str, variant: str, threads: int | None) -> Backend:
        from .onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(export, provider, precision, variant, threads)

    return make


def _torch(device: str):
    def make(export: ExportDir, precision: str, variant: str, threads: int | None) -> Backend:
        from .torch_backend import TorchBackend

        return TorchBackend.from_export(export, device, precision)

    return make


# Fastest first: the order ``auto`` tries them in.
_MAKERS = {
    "tensorrt": _tensorrt,
    "onnxruntime-cuda": _onnxruntime("cuda"),
    "torch-cuda": _torch("cuda"),
    "onnxruntime": _onnxruntime("cpu"),
    "torch": _torch("cpu"),
}


def create_backend(
    name: str,
    export: ExportDir,
    precision: str = contract.DEFAULT_PRECISION,
    variant: str = contract.DEFAULT_VARIANT,
    threads: int | None = None,
) -> Backend:
    """One of ``BACKENDS`` over the opened ``export``; ``auto`` tries them fastest first."""
    if name not in BACKENDS:
        raise RapSamError(f"unknown backend {name!r}", f"use one of {', '.join(BACKENDS)}")
    if name != "auto":
        return _MAKERS[name](export, precision, variant, threads)
    skipped = []
    for candidate, make in _MAKERS.items():
        if candidate.endswith("cuda") and not _cuda_usable(candidate):
            skipped.append(f"{candidate}: no CUDA device or provider")
            continue
        try:
            backend = make(export, precision, variant, threads)
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
