"""Paths of the built native libraries, for callers that load them themselves (TensorRT, C++)."""

from __future__ import annotations

from pathlib import Path

from .locate import OPS_LIBRARY, TRT_PLUGIN_LIBRARY, TRT_STATIC_PLUGIN_LIBRARY, find_library

_TRT_HINT = (
    "it is built only where TensorRT's headers and libnvinfer are found: "
    "`bash .ci/build_plugins.sh -DTENSORRT_ROOT=/path/to/TensorRT` (or set RAPSAM_PLUGIN_DIR)"
)


def ops_library_path() -> Path:
    """``librapsam_ops``: the fused op's C ABI (CPU reference and CUDA kernels)."""
    return find_library(OPS_LIBRARY)


def trt_plugin_library_path() -> Path:
    """``librapsam_trt_plugin``, for ``IPluginRegistry.load_library`` (``trt.get_plugin_registry().load_library``)
    and ``trtexec --dynamicPlugins``: it registers ``RapSamMaskPoolDynConv`` (namespace ``rapsam``,
    version 1) through its ``getCreators`` entry point."""
    return find_library(TRT_PLUGIN_LIBRARY, _TRT_HINT)


def trt_static_plugin_library_path() -> Path:
    """``librapsam_trt_plugin_static``, for loaders that only open the library: polygraphy's ``--plugins``,
    ``trtexec --staticPlugins``, ``ctypes.CDLL``. It registers the same plugin when loaded; load one of
    the two libraries per process, never both."""
    return find_library(TRT_STATIC_PLUGIN_LIBRARY, _TRT_HINT)
