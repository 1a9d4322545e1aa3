"""The model-local ONNX function that gives ``rapsam::RapSamMaskPoolDynConv`` a body made of
standard ops, so that runtimes without the plugin (ONNX Runtime) still run the plugin variant.

The body is the PyTorch definition (``mask_pool_dynconv``) exported with the weights as inputs.
It starts by casting the 3 activations to fp32 and ends with ``CastLike`` back to the kernels'
dtype, so one body serves fp32 and fp16 graphs and pools in fp32 in both; its LayerNorms read
``eps`` from the calling node.
"""

from __future__ import annotations

import functools

import onnx
import torch
from onnx import helper, numpy_helper
from torch import Tensor, nn

from ..artifacts import contract
from ..model.kernel_updator import mask_pool_dynconv
from .onnx_export import trace_to_onnx

_ATTRIBUTES = ["eps", "plugin_namespace", "plugin_version"]


class _FusedBlock(nn.Module):
    def forward(self, mask_logits: Tensor, features: Tensor, kernels: Tensor, weights: list[Tensor]) -> Tensor:
        return mask_pool_dynconv(mask_logits, features, kernels, weights, contract.FUSED_OP_EPS)


def _example_inputs() -> tuple[Tensor, ...]:
    c = contract.CHANNELS
    activations = (torch.randn(1, 3, 8, 8), torch.randn(1, c, 8, 8), torch.randn(1, 3, c))
    return (*activations, [p.detach() for p in _updator_weights()])


def _updator_weights() -> list[Tensor]:
    from ..model.kernel_updator import KernelUpdator

    return KernelUpdator(contract.CHANNELS).weights()


def _input_names() -> list[str]:
    return [t.name for t in contract.FUSED_OP_ACTIVATIONS] + [w.replace(".", "_") for w in contract.FUSED_OP_WEIGHTS]


@functools.lru_cache(maxsize=4)
def fused_function(opset: int) -> onnx.FunctionProto:
    """``rapsam::RapSamMaskPoolDynConv`` as an ONNX function of standard ops at ``opset``."""
    names = _input_names()
    output = contract.FUSED_OP_OUTPUT.name
    activations = names[: len(contract.FUSED_OP_ACTIVATIONS)]
    # Parameters of _FusedBlock.forward: the activations by name, then the weights as one list.
    dynamic = {
        t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)} for t in contract.FUSED_OP_ACTIVATIONS
    }
    dynamic["weights"] = [None] * len(contract.FUSED_OP_WEIGHTS)
    graph = trace_to_onnx(_FusedBlock(), _example_inputs(), names, [output], dynamic, opset).graph

    body_names = {name: f"{name}_fp32" for name in activations}
    nodes = [helper.make_node("Cast", [name], [body_names[name]], to=onnx.TensorProto.FLOAT) for name in activations]
    nodes += [
        helper.make_node("Constant", [], [t.name], value=numpy_helper.from_array(numpy_helper.to_array(t), t.name))
        for t in graph.initializer
    ]
    for node in graph.node:
        body = onnx.NodeProto()
        body.CopyFrom(node)
        del body.metadata_props[:]
        body.input[:] = [body_names.get(name, name) for name in body.input]
        body.output[:] = [f"{output}_fp32" if name == output else name for name in body.output]
        if body.op_type == "LayerNormalization":
            del body.attribute[:]
            body.attribute.append(
                onnx.AttributeProto(name="epsilon", ref_attr_name="eps", type=onnx.AttributeProto.FLOAT)
            )
        nodes.append(body)
    nodes.append(helper.make_node("CastLike", [f"{output}_fp32", activations[-1]], [output]))
    return helper.make_function(
        contract.FUSED_OP_DOMAIN,
        contract.FUSED_OP_NAME,
        inputs=names,
        outputs=[output],
        nodes=nodes,
        opset_imports=[helper.make_opsetid("", opset)],
        attributes=_ATTRIBUTES,
    )


def attach_fused_function(model: onnx.ModelProto, opset: int) -> None:
    """Add the function body to a model that calls the fused op (no-op otherwise)."""
    if any(node.domain == contract.FUSED_OP_DOMAIN for node in model.graph.node):
        model.functions.append(fused_function(opset))
