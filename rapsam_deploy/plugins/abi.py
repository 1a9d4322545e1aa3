"""ctypes mirror of ``plugins/include/rapsam/mask_pool_dynconv.h`` and the loaded ``librapsam_ops``."""

from __future__ import annotations

import ctypes
from functools import lru_cache

from ..artifacts.contract import FUSED_OP_WEIGHTS
from .errors import PluginLibraryError
from .locate import OPS_LIBRARY, find_library

DTYPE_FLOAT32 = 0
DTYPE_FLOAT16 = 1
STATUS_OK = 0
STATUS_NAMES = {
    1: "invalid argument",
    2: "CUDA error",
    3: "unsupported",
    4: "workspace too small",
}


class Shape(ctypes.Structure):
    """``rapsam_mpdc_shape``: B, N, C, H, W."""

    _fields_ = [(name, ctypes.c_int64) for name in ("batch", "queries", "channels", "height", "width")]


class UpdatorWeights(ctypes.Structure):
    """``rapsam_kernel_updator_weights``: 20 fp32 pointers in the contract's ``FUSED_OP_WEIGHTS`` order."""

    _fields_ = [(name.replace(".", "_"), ctypes.c_void_p) for name in FUSED_OP_WEIGHTS]


_SHAPE_P = ctypes.POINTER(Shape)
_WEIGHTS_P = ctypes.POINTER(UpdatorWeights)
_OP_ARGS = [_SHAPE_P, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, _WEIGHTS_P, ctypes.c_float]


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.rapsam_last_error.restype = ctypes.c_char_p
    lib.rapsam_last_error.argtypes = []
    lib.rapsam_cuda_available.restype = ctypes.c_int
    lib.rapsam_cuda_available.argtypes = []
    lib.rapsam_mask_pool_dynconv_cpu.restype = ctypes.c_int
    lib.rapsam_mask_pool_dynconv_cpu.argtypes = [*_OP_ARGS, ctypes.c_void_p]
    lib.rapsam_mask_pool_dynconv_cuda_workspace_size.restype = ctypes.c_size_t
    lib.rapsam_mask_pool_dynconv_cuda_workspace_size.argtypes = [_SHAPE_P]
    lib.rapsam_mask_pool_dynconv_cuda.restype = ctypes.c_int
    lib.rapsam_mask_pool_dynconv_cuda.argtypes = [
        *_OP_ARGS,
        ctypes.c_void_p,  # out
        ctypes.c_void_p,  # workspace
        ctypes.c_size_t,  # workspace size
        ctypes.c_void_p,  # cudaStream_t
    ]
    return lib


@lru_cache(maxsize=1)
def ops_library() -> ctypes.CDLL:
    """``librapsam_ops`` with its C ABI declared, loaded once."""
    path = find_library(OPS_LIBRARY)
    try:
        return _declare(ctypes.CDLL(str(path)))
    except OSError as error:
        raise PluginLibraryError(
            f"cannot load {path}: {error}", "rebuild it with `bash .ci/build_plugins.sh`"
        ) from error


def last_error(lib: ctypes.CDLL, status: int) -> str:
    """The library's message for a failed call."""
    detail = lib.rapsam_last_error().decode(errors="replace")
    return f"{STATUS_NAMES.get(status, f'status {status}')}: {detail}"
