"""ONNX Runtime sessions: creation with clear errors, and running a graph on numpy arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import RapSamError


def available_providers() -> list[str]:
    """ONNX Runtime's execution providers on this machine (empty without onnxruntime)."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return onnxruntime.get_available_providers()


def create_session(
    model: str | Path | bytes,
    providers: list[str] | None = None,
    threads: int | None = None,
    profile_prefix: str | Path | None = None,
):
    """An ``onnxruntime.InferenceSession`` for ``model`` (a path or serialized bytes).

    ``providers`` default to the CPU provider; ``threads`` to ONNX Runtime's own choice. With
    ``profile_prefix``, ONNX Runtime records every node's time (``session.end_profiling()``
    writes ``<prefix>_<date>.json``).
    """
    try:
        import onnxruntime
    except ImportError as err:
        raise RapSamError(
            "onnxruntime is not installed", "pip install onnxruntime (or onnxruntime-gpu for CUDA/TensorRT)"
        ) from err
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    # Idle ONNX Runtime threads spin by default, taking the cores from the torch pre/post-processing
    # that runs between graphs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = os.fspath(profile_prefix)
    source = os.fspath(model) if isinstance(model, (str, Path)) else model
    return onnxruntime.InferenceSession(source, options, providers=providers or ["CPUExecutionProvider"])


def run(session, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every output of ``session``; returns them by name."""
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))
