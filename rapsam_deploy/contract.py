"""The graph contract: graph and tensor names, shapes, dtypes and image normalisation.

This is the public interface that C++ apps, the Python runtime and outside checks rely on
(DESIGN.md, "Graph contract"). No other module spells a graph or tensor name.

Symbolic dimensions: ``B`` batch, ``C`` = 256 channels, ``H``/``W`` padded image size
(multiples of 32), ``Wf`` = W/4, ``Hq`` = height of the features the decoder sees (H/4 for an
image, T*H/4 for T stacked video frames), ``N`` queries, ``K1`` classes + 1 (no-object).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    outputs=(
        _t("mask_logits", "float32", "B", "N", "Hq", "Wf"),
        _t("class_logits", "float32", "B", "N", "K1"),
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
OBJECT_QUERIES_FILE = "object_queries.npy"

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
