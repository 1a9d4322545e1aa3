"""ctypes mirror of ``cpp/include/rapsam/c_api.h``: post-processing's per-pixel half in the C++
library ``librapsam`` (each query's mask upsampled once, a band of rows at a time on every core,
feeding the panoptic contest and the instance masks). ``predict/postprocess.py`` runs it there
when the library is built, and in torch otherwise."""

from __future__ import annotations

import ctypes
from functools import lru_cache

import torch
from torch import Tensor

from .errors import PluginLibraryError
from .locate import CPP_LIBRARY, find_library

C_API_VERSION = 1
_ERROR_SIZE = 512

_P = ctypes.c_void_p
_INT = ctypes.c_int


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.rapsam_c_api_version.restype = _INT
    lib.rapsam_c_api_version.argtypes = []
    lib.rapsam_query_masks.restype = _INT
    lib.rapsam_query_masks.argtypes = [
        *(_P, _INT, _INT, _INT, _P),  # mask logits [count, height, width], sizes [6]
        *(_P, _P, _INT),  # panoptic queries, scores, kept
        *(_P, _INT, _INT),  # instance queries, unique, threads
        *(_P, _P, _P),  # owner, owner_prob, original_area
        *(_P, _P, _P, _P),  # binary (one pointer per instance query), scores, rows, cols
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    return lib


@lru_cache(maxsize=1)
def cpp_library() -> ctypes.CDLL:
    """``librapsam`` with its C entry points declared, loaded once."""
    path = find_library(CPP_LIBRARY)
    hint = "rebuild it with `bash .ci/build_plugins.sh` (RAPSAM_WITH_CPP=ON)"
    try:
        lib = _declare(ctypes.CDLL(str(path)))
    except (OSError, AttributeError) as error:
        raise PluginLibraryError(f"cannot load {path}: {error}", hint) from error
    if lib.rapsam_c_api_version() != C_API_VERSION:
        raise PluginLibraryError(
            f"{path} has C API version {lib.rapsam_c_api_version()}, this package needs {C_API_VERSION}", hint
        )
    return lib


def _pointer(tensor: Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


def _int32(values: Tensor) -> Tensor:
    return values.to(device="cpu", dtype=torch.int32).contiguous()


def query_masks(
    mask_logits: Tensor,
    sizes: tuple[int, int, int, int, int, int],
    panoptic: tuple[Tensor, Tensor, Tensor, Tensor, Tensor] | None,
    instances: tuple[Tensor, Tensor, Tensor, Tensor, Tensor] | None,
    threads: int,
) -> None:
    """Fill the outputs in place (CPU tensors, C-contiguous).

    mask_logits [N,h,w] float32; sizes: original, resized and padded (height, width);
    panoptic: (queries [K] ascending, scores [K] float32, owner [H,W] int64, owner_prob [H,W]
    float32, original_area [K] int64); instances: (queries [U] distinct, binary [U,H,W] bool,
    scores [U] float32, rows [U,H] bool, cols [U,W] bool); ``threads`` <= 0: every core."""
    lib = cpp_library()
    logits = mask_logits.detach().to(device="cpu", dtype=torch.float32).contiguous()
    size_array = (ctypes.c_int * 6)(*sizes)
    kept_queries, kept_scores, owner, owner_prob, original_area = panoptic or (torch.empty(0),) * 2 + (None,) * 3
    kept_queries, kept_scores = _int32(kept_queries), kept_scores.float().contiguous()
    unique_queries, binary, scores, rows, cols = instances or (torch.empty(0),) + (None,) * 4
    unique_queries = _int32(unique_queries)
    planes = (_P * max(len(unique_queries), 1))(*(_pointer(binary[j]) for j in range(len(unique_queries))))
    error = ctypes.create_string_buffer(_ERROR_SIZE)
    status = lib.rapsam_query_masks(
        *(logits.data_ptr(), *logits.shape, size_array),
        *(kept_queries.data_ptr(), kept_scores.data_ptr(), len(kept_queries)),
        *(unique_queries.data_ptr(), len(unique_queries), threads),
        *(_pointer(owner), _pointer(owner_prob), _pointer(original_area)),
        *(planes, _pointer(scores), _pointer(rows), _pointer(cols)),
        error,
        _ERROR_SIZE,
    )
    if status != 0:
        raise PluginLibraryError(error.value.decode(errors="replace"), "report it with the image's sizes")
