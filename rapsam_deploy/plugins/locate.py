"""Where the native libraries are looked for: ``$RAPSAM_PLUGIN_DIR``, the package's ``lib/`` folder
(wheels), then the repository's CMake output ``build/lib`` (``.ci/build_plugins.sh``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import PluginLibraryError

PLUGIN_DIR_ENV = "RAPSAM_PLUGIN_DIR"
OPS_LIBRARY = "rapsam_ops"
CPP_LIBRARY = "rapsam"
TRT_PLUGIN_LIBRARY = "rapsam_trt_plugin"
TRT_STATIC_PLUGIN_LIBRARY = "rapsam_trt_plugin_static"

_PACKAGE_LIB_DIR = Path(__file__).resolve().parent / "lib"
_REPO_BUILD_LIB_DIR = Path(__file__).resolve().parents[2] / "build" / "lib"

BUILD_HINT = (
    "build it with `bash .ci/build_plugins.sh` from the repository root (CMake >= 3.22, a C++17 compiler, "
    f"nvcc for the CUDA kernels), or set {PLUGIN_DIR_ENV} to the folder that holds it"
)


def shared_library_name(stem: str) -> str:
    """File name of a CMake shared library on this platform: ``librapsam_ops.so`` on Linux."""
    if sys.platform == "win32":
        return f"{stem}.dll"
    if sys.platform == "darwin":
        return f"lib{stem}.dylib"
    return f"lib{stem}.so"


def search_dirs() -> list[Path]:
    """Folders searched, first match wins."""
    dirs = []
    env_dir = os.environ.get(PLUGIN_DIR_ENV)
    if env_dir:
        dirs.append(Path(env_dir).expanduser())
    dirs += [_PACKAGE_LIB_DIR, _REPO_BUILD_LIB_DIR]
    return dirs


def find_library(stem: str, hint: str = BUILD_HINT) -> Path:
    """Path of the shared library ``stem``; :class:`PluginLibraryError` saying how to build it if absent."""
    name = shared_library_name(stem)
    dirs = search_dirs()
    for folder in dirs:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(d) for d in dirs)
    raise PluginLibraryError(f"{name} not found (looked in: {looked})", hint)
