"""ONNX translations of the model's two custom ops for the dynamo exporter.

- ``rapsam::modulated_deform_conv2d`` -> one native ``DeformConv`` (opset 19);
- ``rapsam::mask_pool_dynconv`` -> one ``rapsam::RapSamMaskPoolDynConv`` node (the TensorRT
  plugin), with the ``plugin_namespace``/``plugin_version`` attributes that TensorRT's parser
  uses to find the plugin (see README, "The plugin variant").

The fused node's schema is registered with ``onnx`` while exporting, so that onnxscript can
build the node. Its inputs are one heterogeneous variadic list: the 3
activations (fp32 or fp16) then the 20 fp32 weights of the contract.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import onnx
import torch
from onnx.defs import OpSchema
from onnxscript import opset19 as op
from onnxscript.values import Opset

from ..artifacts import contract

PLUGIN_ATTRIBUTES = {"plugin_namespace": contract.FUSED_OP_DOMAIN, "plugin_version": str(contract.FUSED_OP_VERSION)}
FUSED_INPUTS = len(contract.FUSED_OP_ACTIVATIONS) + len(contract.FUSED_OP_WEIGHTS)


@contextlib.contextmanager
def fused_op_schema() -> Iterator[None]:
    """Register the fused node's schema for the duration of an export. It is removed again so
    that checkers and shape inference read the node through its model-local function (a
    Python-registered schema has no shape inference)."""
    onnx.defs.register_schema(_fused_schema())
    try:
        yield
    finally:
        onnx.defs.deregister_schema(contract.FUSED_OP_NAME, contract.FUSED_OP_VERSION, contract.FUSED_OP_DOMAIN)


def _fused_schema() -> OpSchema:
    param, attr = OpSchema.FormalParameter, OpSchema.Attribute
    floats = ["tensor(float)", "tensor(float16)"]
    return OpSchema(
        contract.FUSED_OP_NAME,
        contract.FUSED_OP_DOMAIN,
        contract.FUSED_OP_VERSION,
        doc="Hard-mask sum pooling + RAP-SAM's KernelUpdator (DESIGN.md, 'The fused op').",
        inputs=[
            param(
                "inputs",
                "V",
                param_option=OpSchema.FormalParameterOption.Variadic,
                is_homogeneous=False,
                min_arity=FUSED_INPUTS,
            )
        ],
        outputs=[param(contract.FUSED_OP_OUTPUT.name, "T")],
        type_constraints=[("T", floats, "activations"), ("V", floats, "activations, then fp32 weights")],
        attributes=[
            attr("eps", OpSchema.AttrType.FLOAT, "LayerNorm epsilon"),
            attr("plugin_namespace", OpSchema.AttrType.STRING, "TensorRT plugin namespace"),
            attr("plugin_version", OpSchema.AttrType.STRING, "TensorRT plugin version"),
        ],
    )


_RAPSAM = Opset(contract.FUSED_OP_DOMAIN, contract.FUSED_OP_VERSION)


def _deform_conv(x, offset, mask, weight, stride: int, padding: int, dilation: int):
    # An explicit zero bias [O], not an empty optional input: TensorRT's DeformConv importer
    # reads the bias's dtype whenever a mask follows it and fails on an empty one
    # (tensorrt_ops.EMPTY_INPUT_SAFE). Adding 0 changes no value in any runtime.
    bias = op.CastLike(op.ConstantOfShape(op.Shape(weight, start=0, end=1)), x)
    return op.DeformConv(
        x,
        weight,
        offset,
        bias,
        mask,
        dilations=[dilation, dilation],
        pads=[padding] * 4,
        strides=[stride, stride],
        group=1,
        offset_group=1,
    )


def _mask_pool_dynconv(mask_logits, features, kernels, weights, eps: float):
    return _RAPSAM.RapSamMaskPoolDynConv(mask_logits, features, kernels, *weights, eps=eps, **PLUGIN_ATTRIBUTES)


TRANSLATIONS = {
    torch.ops.rapsam.modulated_deform_conv2d.default: _deform_conv,
    torch.ops.rapsam.mask_pool_dynconv.default: _mask_pool_dynconv,
}
