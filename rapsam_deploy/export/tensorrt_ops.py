"""Which ONNX graphs TensorRT 10 parses: the operators marked supported ("Y") in
onnx-tensorrt's operator table (docs/operators.md, release/10.1-GA), the first 10.x release
that parses ``DeformConv`` (onnx/onnx-tensorrt#975), and which empty optional inputs its
importers accept. Graph checks and a test hold every exported graph against both.
"""

from __future__ import annotations

import onnx

from ..artifacts import contract

TENSORRT10_OPS = frozenset(
    [
        "Abs",
        "Acos",
        "Acosh",
        "Add",
        "And",
        "ArgMax",
        "ArgMin",
        "Asin",
        "Asinh",
        "Atan",
        "Atanh",
        "AveragePool",
        "BatchNormalization",
        "Cast",
        "CastLike",
        "Ceil",
        "Celu",
        "Clip",
        "Concat",
        "Constant",
        "ConstantOfShape",
        "Conv",
        "ConvTranspose",
        "Cos",
        "Cosh",
        "CumSum",
        "DeformConv",
        "DepthToSpace",
        "DequantizeLinear",
        "Div",
        "Dropout",
        "Einsum",
        "Elu",
        "Equal",
        "Erf",
        "Exp",
        "Expand",
        "EyeLike",
        "Flatten",
        "Floor",
        "Gather",
        "GatherElements",
        "GatherND",
        "Gelu",
        "Gemm",
        "GlobalAveragePool",
        "GlobalLpPool",
        "GlobalMaxPool",
        "Greater",
        "GreaterOrEqual",
        "GridSample",
        "GroupNormalization",
        "GRU",
        "HardSigmoid",
        "HardSwish",
        "Hardmax",
        "Identity",
        "If",
        "ImageScaler",
        "InstanceNormalization",
        "IsInf",
        "IsNaN",
        "LayerNormalization",
        "LeakyRelu",
        "Less",
        "LessOrEqual",
        "Log",
        "LogSoftmax",
        "Loop",
        "LRN",
        "LSTM",
        "LpNormalization",
        "LpPool",
        "MatMul",
        "Max",
        "MaxPool",
        "Mean",
        "MeanVarianceNormalization",
        "Min",
        "Mish",
        "Mod",
        "Mul",
        "Neg",
        "NonMaxSuppression",
        "NonZero",
        "Not",
        "OneHot",
        "Or",
        "Pad",
        "ParametricSoftplus",
        "Pow",
        "PRelu",
        "QuantizeLinear",
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Range",
        "Reciprocal",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSum",
        "ReduceLogSumExp",
        "ReduceMax",
        "ReduceMean",
        "ReduceMin",
        "ReduceProd",
        "ReduceSum",
        "ReduceSumSquare",
        "Relu",
        "Reshape",
        "Resize",
        "ReverseSequence",
        "RNN",
        "RoiAlign",
        "Round",
        "ScaledTanh",
        "Scan",
        "Scatter",
        "ScatterElements",
        "ScatterND",
        "Selu",
        "Shape",
        "Shrink",
        "Sigmoid",
        "Sign",
        "Sin",
        "Sinh",
        "Size",
        "Slice",
        "Softmax",
        "Softplus",
        "Softsign",
        "SpaceToDepth",
        "Split",
        "Sqrt",
        "Squeeze",
        "Sub",
        "Sum",
        "Tan",
        "Tanh",
        "ThresholdedRelu",
        "Tile",
        "TopK",
        "Transpose",
        "Trilu",
        "Unsqueeze",
        "Upsample",
        "Where",
        "Xor",
    ]
)
# Resize coordinate transformations TensorRT implements (same table, "Restrictions").
TENSORRT_RESIZE_MODES = frozenset(
    {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
)
PLUGIN_OPS = frozenset({(contract.FUSED_OP_DOMAIN, contract.FUSED_OP_NAME)})
# Empty optional inputs ("" in a node's inputs) that TensorRT's importers accept, by operator and
# input index. The parser passes an empty input to the importer as a null tensor, and an importer
# that reads it fails ("Trying to access weights or a null tensor!"). Read off onnx-tensorrt's
# onnxOpImporters.cpp (release/10.1-GA and the 10.1x sources): Resize never reads ``roi`` (1)
# from opset 11 on and reads ``sizes`` (3) only when it is not null (``scales``, 2, counts as
# read: it is unless ``sizes`` is given and the mode is not tf_half_pixel_for_nn); DeformConv
# reads ``B`` (3) whenever the node has more than 3 inputs, so no empty input of it is safe
# before ``mask``.
# An operator not listed here accepts no empty input: a new one must be read in the sources and
# added, not assumed safe.
EMPTY_INPUT_SAFE: dict[str, frozenset[int]] = {
    "Resize": frozenset({1, 3}),
}


def _empty_inputs_read(node: onnx.NodeProto) -> list[str]:
    safe = EMPTY_INPUT_SAFE.get(node.op_type, frozenset())
    return [
        f"{node.op_type}(empty input {index})"
        for index, name in enumerate(node.input)
        if not name and index not in safe
    ]


def unsupported_ops(model: onnx.ModelProto) -> list[str]:
    """Operators (and attribute settings, and empty optional inputs its importers read) of the
    main graph that TensorRT 10 cannot parse; the fused op counts as supported (it is our
    plugin). Empty when the graph is fine."""
    problems = set()
    for node in model.graph.node:
        problems.update(_empty_inputs_read(node))
        if node.domain not in ("", "ai.onnx"):
            if (node.domain, node.op_type) not in PLUGIN_OPS:
                problems.add(f"{node.domain}::{node.op_type}")
            continue
        if node.op_type not in TENSORRT10_OPS:
            problems.add(node.op_type)
        if node.op_type == "Resize":
            mode = next(
                (a.s.decode() for a in node.attribute if a.name == "coordinate_transformation_mode"), "half_pixel"
            )
            if mode not in TENSORRT_RESIZE_MODES:
                problems.add(f"Resize(coordinate_transformation_mode={mode})")
    return sorted(problems)
