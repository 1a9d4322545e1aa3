"""The fused op ``RapSamMaskPoolDynConv`` (hard-mask pooling + gated dynamic convolution) from the
native libraries built from ``plugins/``: call it on torch tensors, or get the library paths."""

from .errors import FusedOpError, PluginLibraryError
from .fused_op import cuda_kernels_available, mask_pool_dynconv, updator_tensors
from .locate import PLUGIN_DIR_ENV
from .paths import ops_library_path, trt_plugin_library_path, trt_static_plugin_library_path

__all__ = [
    "PLUGIN_DIR_ENV",
    "FusedOpError",
    "PluginLibraryError",
    "cuda_kernels_available",
    "mask_pool_dynconv",
    "ops_library_path",
    "trt_plugin_library_path",
    "trt_static_plugin_library_path",
    "updator_tensors",
]
