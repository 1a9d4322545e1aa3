"""Which ONNX operators TensorRT 10 parses: the operators marked supported ("Y") in
onnx-tensorrt's operator table (docs/operators.md, release/10.1-GA), the first 10.x release
that parses ``DeformConv`` (onnx/onnx-tensorrt#975). Graph checks and a test compare every
exported graph's operators against this list.
"""

from __future__ import annotations

import onnx

from .. import contract

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


def unsupported_ops(model: onnx.ModelProto) -> list[str]:
    """Operators (and attribute settings) of the main graph that TensorRT 10 cannot parse;
    the fused op counts as supported (it is our plugin). Empty when the graph is fine."""
    problems = set()
    for node in model.graph.node:
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
