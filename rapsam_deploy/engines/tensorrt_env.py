"""TensorRT in this process: importing it with a clear error, its one logger, the GPU it builds
for, and our plugin library registered with it."""

from __future__ import annotations

import functools

from ..artifacts import contract
from ..artifacts.files import sha256_of
from ..errors import RapSamError
from ..machine import compute_capability

TENSORRT_INSTALL_HINT = (
    "install TensorRT's Python package for this machine's CUDA major version (nvidia-smi shows it): "
    "`pip install tensorrt-cu12` or `pip install tensorrt-cu13` (`pip install tensorrt` picks one; these packages "
    "fetch TensorRT's libraries from NVIDIA's server while installing), or run in NVIDIA's TensorRT container "
    "(nvcr.io/nvidia/tensorrt); TensorRT needs a CUDA GPU"
)
MIN_TENSORRT = (10, 0)


def import_tensorrt():
    """The ``tensorrt`` module, or one :class:`RapSamError` that says what to install."""
    try:
        import tensorrt
    except (ImportError, OSError) as err:
        raise RapSamError(f"TensorRT is not available here ({err})", TENSORRT_INSTALL_HINT) from err
    version = tuple(int(p) for p in tensorrt.__version__.split(".")[:2])
    if version < MIN_TENSORRT:
        raise RapSamError(
            f"TensorRT {tensorrt.__version__} is too old: rapsam-deploy uses the TensorRT 10 API",
            TENSORRT_INSTALL_HINT,
        )
    return tensorrt


@functools.lru_cache(maxsize=1)
def tensorrt_logger():
    """The process's one ``trt.Logger`` (TensorRT expects a single logger; set its
    ``min_severity`` for more or less), with TensorRT's standard plugins registered: the ONNX
    parser maps ``DeformConv`` to the ``ModulatedDeformConv2d`` plugin of ``libnvinfer_plugin``,
    and engines that contain it need it to deserialise."""
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    trt.init_libnvinfer_plugins(logger, "")
    return logger


def gpu_identity(device: int | None = None) -> tuple[str, str]:
    """(name, compute capability such as ``sm_90``) of a CUDA device, by default the current one,
    which is the one TensorRT builds for and runs on."""
    import torch

    if not torch.cuda.is_available():
        raise RapSamError(
            "no CUDA GPU is visible to PyTorch: TensorRT engines are built and run on a CUDA GPU",
            "run on a machine with an NVIDIA GPU and a CUDA build of PyTorch (check CUDA_VISIBLE_DEVICES)",
        )
    index = torch.cuda.current_device() if device is None else device
    return torch.cuda.get_device_name(index), compute_capability(*torch.cuda.get_device_capability(index))


@functools.lru_cache(maxsize=1)
def load_plugin_library() -> str:
    """Register ``RapSamMaskPoolDynConv`` with TensorRT once per process; returns the sha256 of
    the library that provides it.

    Through ``IPluginRegistry.load_library`` on ``librapsam_trt_plugin`` (the library that
    registers through ``getCreators``), not by ctypes-loading the ``_static`` one: it is
    TensorRT's own mechanism (``trtexec --dynamicPlugins`` uses it), TensorRT owns the handle, and
    it hands the plugin TensorRT's logger (``setLoggerFinder``). It fails if the plugin is
    already registered, which is fine when some other loader of this process did that.
    """
    from ..plugins import trt_plugin_library_path

    trt = import_tensorrt()
    tensorrt_logger()
    path = trt_plugin_library_path()
    registry = trt.get_plugin_registry()
    name, version, namespace = contract.FUSED_OP_NAME, str(contract.FUSED_OP_VERSION), contract.FUSED_OP_DOMAIN
    if registry.load_library(str(path)) is None and registry.get_creator(name, version, namespace) is None:
        raise RapSamError(
            f"TensorRT could not load the plugin library {path} (TensorRT's message is above)",
            "rebuild it against this TensorRT: `bash .ci/build_plugins.sh -DTENSORRT_ROOT=/path/to/TensorRT`",
        )
    return sha256_of(path)
