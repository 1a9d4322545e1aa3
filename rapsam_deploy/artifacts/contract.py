"""The graph contract: graph and tensor names, shapes, dtypes and image normalisation.

This is the public interface that C++ apps, the Python runtime and outside checks rely on
(DESIGN.md, "Graph contract"). No other module spells a graph or tensor name.

Symbolic dimensions: ``B`` batch, ``C`` = 256 channels, ``H``/``W`` padded image size
(multiples of 32), ``Wf`` = W/4, ``Hq`` = height of the features the decoder sees (H/4 for an
image, T*H/4 for T stacked video frames), ``N`` queries, ``K1`` classes + 1 (no-object).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import RapSamError

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


# ---- manifest.json: describes every artefact of an export directory ----------------------
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "rapsam-deploy/manifest"
MANIFEST_VERSION = 1
VARIANTS = ("standard", "plugin")
PRECISIONS = ("fp32", "fp16")


@dataclass
class Artifact:
    """One ONNX file: which graph, in which variant and precision, and what is known of it."""

    graph: str
    file: str
    variant: str
    precision: str
    sha256: str
    bytes: int
    opset: int
    inputs: list[dict]
    outputs: list[dict]
    simplifier: str = "none"
    custom_ops: list[str] = field(default_factory=list)
    tensorrt_unsupported: list[str] = field(default_factory=list)
    parity: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    """Everything a runtime needs to know about an export directory (DESIGN.md)."""

    model: dict
    image: dict
    prompts: dict
    vocabulary: dict
    profiles: dict
    object_queries: dict
    artifacts: list[Artifact]
    validation: dict
    tools: dict
    created: str
    format: str = MANIFEST_FORMAT
    version: int = MANIFEST_VERSION

    def artifact(self, graph: str, variant: str = "standard", precision: str = "fp32") -> Artifact:
        """The artefact of ``graph`` in ``variant``/``precision``; a clear error if absent."""
        for item in self.artifacts:
            if (item.graph, item.variant, item.precision) == (graph, variant, precision):
                return item
        have = sorted({(a.variant, a.precision) for a in self.artifacts if a.graph == graph})
        raise RapSamError(
            f"the export has no {variant}/{precision} {graph} graph (it has: {have})",
            f"re-export with --variant {variant} --precision {precision}",
        )

    def to_json(self) -> dict:
        return asdict(self)


def write_manifest(manifest: Manifest, directory: Path) -> Path:
    """Write ``manifest.json`` into ``directory``."""
    path = Path(directory) / MANIFEST_FILE
    path.write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
    return path


def read_manifest(directory: str | Path) -> Manifest:
    """Read and check ``manifest.json`` of an export directory."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise RapSamError(f"{directory} has no {MANIFEST_FILE}", "export first: rapsam-export --output DIR")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RapSamError(f"{path} is not valid JSON ({err})", "re-export the directory") from err
    if data.get("format") != MANIFEST_FORMAT or data.get("version") != MANIFEST_VERSION:
        raise RapSamError(
            f"{path} is not a rapsam-deploy manifest of version {MANIFEST_VERSION}",
            "re-export with this version of rapsam-deploy",
        )
    try:
        data["artifacts"] = [Artifact(**a) for a in data["artifacts"]]
        return Manifest(**data)
    except TypeError as err:
        raise RapSamError(f"{path} is missing or has unknown fields ({err})", "re-export the directory") from err
