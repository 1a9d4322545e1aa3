"""The graph contract: graph and tensor names, shapes, dtypes and image normalisation.

This is the public interface that C++ apps, the Python runtime and outside checks rely on
(DESIGN.md, "Graph contract"). No other module spells a graph or tensor name: code calls a graph
through its :class:`GraphSpec` (``spec.bind(*inputs)``, ``spec.unpack(outputs)``), and sizes its
tensors with the one shape rule, :func:`dimensions`.

Symbolic dimensions: ``B`` batch, ``C`` = 256 channels, ``H``/``W`` padded image size
(multiples of 32), ``Hf``/``Wf`` = H/4, W/4, ``Hq`` = height of the features the decoder sees
(Hf for an image, T*Hf for T stacked video frames), ``N`` queries, ``K1`` classes + 1 (no-object).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import RapSamError

T = TypeVar("T")

CHANNELS = 256
FEATURE_STRIDE = 4
SIZE_DIVISOR = 32

# RGB, 0..255, as the official data preprocessor (ImageNet statistics).
IMAGE_MEAN = (123.675, 116.28, 103.53)
IMAGE_STD = (58.395, 57.12, 57.375)

# Prompts as the official evaluation makes them: every prompt has kind 1, and a point is the
# box of +-3 pixels around it in resized-image pixels.
PROMPT_KIND_DEFAULT = 1
PROMPT_KINDS = 2
POINT_BOX_HALF_SIZE = 3


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, dtype (numpy spelling) and symbolic shape."""

    name: str
    dtype: str
    shape: tuple[str | int, ...]


@dataclass(frozen=True)
class GraphSpec:
    """One graph of the contract."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def file_name(self) -> str:
        return f"{self.name}.onnx"

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def bind(self, *values: T) -> dict[str, T]:
        """The graph's inputs by name, from values in the contract's order."""
        if len(values) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} inputs {self.input_names}, got {len(values)}")
        return dict(zip(self.input_names, values, strict=True))

    def unpack(self, outputs: Mapping[str, T]) -> tuple[T, ...]:
        """The graph's outputs in the contract's order, from outputs by name."""
        return tuple(outputs[name] for name in self.output_names)

    def shapes(
        self, sizes: Mapping[str, int], tensors: Sequence[TensorSpec] | None = None
    ) -> dict[str, tuple[int, ...]]:
        """Concrete shapes of ``tensors`` (default: the outputs) for the symbol sizes ``sizes``
        (those :func:`dimensions` gives)."""
        return {t.name: tuple(sizes[d] if isinstance(d, str) else d for d in t.shape) for t in tensors or self.outputs}

    def input_sizes(self, shapes: Mapping[str, Sequence[int]]) -> dict[str, int]:
        """The symbol sizes that the inputs' ``shapes`` (by name) give, e.g. {"B": 1, "N": 100}."""
        sizes: dict[str, int] = {}
        for tensor in self.inputs:
            for symbol, size in zip(tensor.shape, shapes[tensor.name], strict=True):
                if isinstance(symbol, str):
                    sizes[symbol] = int(size)
        return sizes


def _t(name: str, dtype: str, *shape: str | int) -> TensorSpec:
    return TensorSpec(name, dtype, tuple(shape))


ENCODER = GraphSpec(
    "encoder",
    inputs=(_t("image", "float32", "B", 3, "H", "W"),),
    outputs=(_t("features", "float32", "B", CHANNELS, "Hf", "Wf"),),
)
PROMPT_ENCODER = GraphSpec(
    "prompt_encoder",
    inputs=(
        _t("prompt_boxes", "float32", "B", "N", 4),
        _t("prompt_kinds", "int64", "B", "N"),
    ),
    outputs=(_t("queries", "float32", "B", "N", CHANNELS),),
)
DECODER = GraphSpec(
    "decoder",
    inputs=(
        _t("features", "float32", "B", CHANNELS, "Hq", "Wf"),
        _t("queries", "float32", "B", "N", CHANNELS),
        _t("attn_mask", "bool", "N", "N"),
    ),
    outputs=(
        _t("kernels", "float32", "B", "N", CHANNELS),
        _t("mask_logits", "float32", "B", "N", "Hq", "Wf"),
        _t("class_logits", "float32", "B", "N", "K1"),
        _t("iou", "float32", "B", "N", 1),
    ),
)
ADAPTER_OBJECT = GraphSpec(
    "adapter_object",
    inputs=(
        _t("features", "float32", "B", CHANNELS, "Hq", "Wf"),
        _t("kernels", "float32", "B", "N", CHANNELS),
        _t("mask_logits", "float32", "B", "N", "Hq", "Wf"),
    ),
    # ONNX (and TensorRT) need unique value names; the contract's output ``mask_logits`` would
    # redefine the input of that name, so the output is ``mask_logits_out``. ``kernels_out``
    # (the adapted kernels, an addition to the contract) is what the official video inference
    # matches queries between clips with.
    outputs=(
        _t("mask_logits_out", "float32", "B", "N", "Hq", "Wf"),
        _t("class_logits", "float32", "B", "N", "K1"),
        _t("kernels_out", "float32", "B", "N", CHANNELS),
    ),
)
ADAPTER_PROMPT = GraphSpec(
    "adapter_prompt",
    inputs=(
        _t("features", "float32", "B", CHANNELS, "Hq", "Wf"),
        _t("kernels", "float32", "B", "N", CHANNELS),
    ),
    outputs=(
        _t("mask_logits", "float32", "B", "N", "Hq", "Wf"),
        _t("iou", "float32", "B", "N", 1),
    ),
)

GRAPHS: tuple[GraphSpec, ...] = (ENCODER, PROMPT_ENCODER, DECODER, ADAPTER_OBJECT, ADAPTER_PROMPT)
# Outputs that are mask logits (thresholded at 0 into hard masks): compared as masks.
_MASK_LOGITS = frozenset({"mask_logits", "mask_logits_out"})
GRAPH_NAMES: tuple[str, ...] = tuple(spec.name for spec in GRAPHS)
OBJECT_QUERIES_FILE = "object_queries.npy"


def graph(name: str) -> GraphSpec:
    """The graph called ``name``; a clear error for any other name."""
    for spec in GRAPHS:
        if spec.name == name:
            return spec
    raise RapSamError(f"unknown graph {name!r}", f"choose from {', '.join(GRAPH_NAMES)}")


def is_mask_logits(name: str) -> bool:
    """Whether the tensor called ``name`` holds mask logits [B,N,Hq,Wf]."""
    return name in _MASK_LOGITS


def dimensions(num_classes: int | None = None, frames: int = 1, **sizes: int) -> dict[str, int]:
    """The one shape rule: every symbol's size from the given ones (``B``, ``H``, ``W``, ``N``,
    ``Hq``...): Hf = H/4, Wf = W/4, Hq = T*Hf with T = ``frames`` stacked video frames, and
    K1 = ``num_classes`` + 1. Symbols that cannot be derived are left out."""
    found = dict(sizes)
    if "H" in found:
        found.setdefault("Hf", found["H"] // FEATURE_STRIDE)
    if "W" in found:
        found.setdefault("Wf", found["W"] // FEATURE_STRIDE)
    if "Hf" in found:
        found.setdefault("Hq", frames * found["Hf"])
    if num_classes is not None:
        found["K1"] = num_classes + 1
    return found


# The fused op (DESIGN.md, "The fused op"): hard-mask sum pooling + the official KernelUpdator.
# Node inputs: the 3 activations, then the KernelUpdator's 20 tensors in this order (its
# state-dict names; Linear weights are [out, in] as PyTorch stores them). Output: new kernels.
FUSED_OP_DOMAIN = "rapsam"
FUSED_OP_NAME = "RapSamMaskPoolDynConv"
FUSED_OP_VERSION = 1
FUSED_OP_EPS = 1e-5
FUSED_OP_ACTIVATIONS = (
    _t("mask_logits", "float32", "B", "N", "Hq", "Wf"),
    _t("features", "float32", "B", CHANNELS, "Hq", "Wf"),
    _t("kernels", "float32", "B", "N", CHANNELS),
)
FUSED_OP_WEIGHTS = (
    "dynamic_layer.weight",
    "dynamic_layer.bias",
    "input_layer.weight",
    "input_layer.bias",
    "input_gate.weight",
    "input_gate.bias",
    "update_gate.weight",
    "update_gate.bias",
    "norm_in.weight",
    "norm_in.bias",
    "norm_out.weight",
    "norm_out.bias",
    "input_norm_in.weight",
    "input_norm_in.bias",
    "input_norm_out.weight",
    "input_norm_out.bias",
    "fc_layer.weight",
    "fc_layer.bias",
    "fc_norm.weight",
    "fc_norm.bias",
)
FUSED_OP_OUTPUT = _t("new_kernels", "float32", "B", "N", CHANNELS)

# The forms every graph can be exported in (the manifest lists each); fp32 standard graphs are
# the default everywhere: they are what ``rapsam-export`` writes unless asked, and their results
# equal the PyTorch reference's, while fp16 and int8 (QDQ graphs quantized from the fp32 ones,
# calibrated on sample photos) change results and are asked for explicitly.
VARIANTS = ("standard", "plugin")
PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_VARIANT = "standard"
DEFAULT_PRECISION = "fp32"
