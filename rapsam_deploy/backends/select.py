"""Choosing a backend by name: ``create_backend("auto", export)``.

``auto`` picks the fastest backend available here, in this order: TensorRT (engines built by
``rapsam-build``), ONNX Runtime CUDA, PyTorch CUDA, OpenVINO (exports with a decomposed
deformable convolution), ONNX Runtime CPU, PyTorch CPU; it says which it picked and why the
faster ones were skipped. Each backend's module is imported only when it is asked for.

Precisions: the exported graphs' (``contract.PRECISIONS``); ``bf16``, which OpenVINO
computes from the fp32 graphs on CPUs with bf16 hardware; and ``auto``, the fastest of them that
passes its task gates on this machine (``COMPUTE_PRECISIONS``, ``RUNTIME_PRECISIONS``;
``backends.fastest``).
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
BACKENDS = ("auto", "tensorrt", "onnxruntime-cuda", "torch-cuda", "openvino", "onnxruntime", "torch")
DEFAULT_BACKEND = "auto"
AUTO = "auto"
COMPUTE_PRECISIONS = (*contract.PRECISIONS, "bf16")
RUNTIME_PRECISIONS = (*COMPUTE_PRECISIONS, AUTO)
# What each backend computes in: the graphs' own precision, or what its runtime makes of fp32 ones.
RUNS = {
    "tensorrt": contract.PRECISIONS,
    "onnxruntime-cuda": contract.PRECISIONS,
    "torch-cuda": ("fp32", "fp16"),
    "openvino": ("fp32", "bf16"),
    "onnxruntime": contract.PRECISIONS,
    "torch": ("fp32", "fp16"),
}


def _tensorrt(export: ExportDir, precision: str, variant: str, threads: int | None) -> Backend:
    from .tensorrt_backend import TensorRTBackend

    return TensorRTBackend(export, precision=precision, variant=variant)


def _openvino(export: ExportDir, precision: str, variant: str, threads: int | None) -> Backend:
    from .openvino_backend import OpenVinoBackend

    return OpenVinoBackend(export, precision, variant, threads)


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
    "openvino": _openvino,
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
    """One of ``BACKENDS`` over the opened ``export``; ``auto`` tries them fastest first.
    ``precision`` ``auto``: the fastest form of that backend (or of every backend) that passes
    its task gates, timed here (``backends.fastest``)."""
    if name not in BACKENDS:
        raise RapSamError(f"unknown backend {name!r}", f"use one of {', '.join(BACKENDS)}")
    if precision == AUTO:
        from .fastest import fastest

        names = [b for b in _MAKERS if name in (b, "auto") and (not b.endswith("cuda") or _cuda_usable(b))]
        candidates = [(b, p) for b in names for p in RUNS[b]]
        return fastest(export, variant, threads, candidates, lambda b, p: _MAKERS[b](export, p, variant, threads))
    if name != "auto":
        check_precision(name, precision)
        return _MAKERS[name](export, precision, variant, threads)
    skipped = []
    for candidate, make in _MAKERS.items():
        if precision not in RUNS[candidate]:
            skipped.append(f"{candidate}: does not run {precision}")
            continue
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


def check_precision(backend: str, precision: str) -> None:
    """One clear error where ``backend`` does not compute in ``precision``."""
    if precision not in RUNS[backend]:
        runs = [b for b, precisions in RUNS.items() if precision in precisions]
        raise RapSamError(
            f"the {backend} backend runs {', '.join(RUNS[backend])}, not {precision}",
            f"use --precision {' or '.join(RUNS[backend])}, or a backend that runs {precision}: {', '.join(runs)}",
        )


def _cuda_usable(candidate: str) -> bool:
    if candidate == "onnxruntime-cuda":
        return "CUDAExecutionProvider" in available_providers()
    return torch.cuda.is_available()
