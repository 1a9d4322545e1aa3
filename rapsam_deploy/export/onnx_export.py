"""PyTorch -> ONNX for one graph of the contract (the dynamo exporter), with the contract's
names on every input, output and symbolic dimension."""

from __future__ import annotations

import ast
import contextlib
import io
import logging
import warnings

import numpy as np
import onnx
import torch
from torch import nn

from .. import __version__
from ..artifacts.contract import GraphSpec
from .tracing import dynamic_shapes, example_inputs
from .translations import TRANSLATIONS, fused_op_schema

MIN_OPSET = 17  # LayerNormalization
DEFORM_CONV_OPSET = 19  # DeformConv


@contextlib.contextmanager
def _quiet():
    """The exporter prints its progress and warns about internals; ours is reported instead."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def trace_to_onnx(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    dynamic: dict[str, dict[int, str]],
    opset: int,
) -> onnx.ModelProto:
    """``torch.onnx.export(dynamo=True)`` with the custom-op translations, optimised."""
    with _quiet(), torch.no_grad(), fused_op_schema():
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            opset_version=opset,
            input_names=input_names,
            output_names=output_names,
            dynamic_shapes=dynamic,
            custom_translation_table=TRANSLATIONS,
            optimize=True,
            verbose=False,
        )
        return program.model_proto


def _name_dims(values: list[onnx.ValueInfoProto], specs) -> None:
    for value, spec in zip(values, specs, strict=True):
        tensor_type = value.type.tensor_type
        if len(tensor_type.shape.dim) != len(spec.shape):
            # An output of the fused (plugin) node: the exporter cannot infer its type.
            tensor_type.elem_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype))
            del tensor_type.shape.dim[:]
            for symbol in spec.shape:
                dim = tensor_type.shape.dim.add()
                if isinstance(symbol, str):
                    dim.dim_param = symbol
                else:
                    dim.dim_value = symbol
            continue
        for dim, symbol in zip(tensor_type.shape.dim, spec.shape, strict=True):
            if isinstance(symbol, str) and dim.HasField("dim_param"):
                dim.dim_param = symbol


_NAME_SCOPES = "pkg.torch.onnx.name_scopes"
# The attribute of every ``model.graphs.ContractGraph`` that holds the model: the exporter names
# modules and weights after it (``model.backbone.conv1``, ``model.backbone.conv1.weight``).
MODEL_ATTRIBUTE = "model"


def module_scopes(model: onnx.ModelProto) -> dict[str, str]:
    """Node name -> path of the innermost module that made it, relative to the traced graph's
    model (``backbone.layer1.0.conv1``; ``""`` for code of the model itself), from the
    exporter's per-node metadata (which :func:`strip_metadata` drops). The simplifiers keep node
    names, so this maps the simplified graph's nodes too."""
    scopes = {}
    for node in model.graph.node:
        for prop in node.metadata_props:
            if prop.key == _NAME_SCOPES:
                # ['', 'model.backbone', 'model.backbone.conv1', 'conv2d']: modules, then the op.
                innermost = (ast.literal_eval(prop.value)[:-1] or [""])[-1]
                path = innermost.removeprefix(MODEL_ATTRIBUTE).removeprefix(".")
                scopes[node.name] = path if innermost.startswith(MODEL_ATTRIBUTE) else ""
    return scopes


def strip_metadata(model: onnx.ModelProto) -> None:
    """Drop the exporter's per-node metadata (stack traces with local paths, fx names): it
    makes files large and non-reproducible."""
    for node in model.graph.node:
        del node.metadata_props[:]
    del model.metadata_props[:]


def export_graph(
    module: nn.Module, spec: GraphSpec, image_size: tuple[int, int], opset: int, scopes: dict[str, str] | None = None
) -> onnx.ModelProto:
    """Export ``module`` (a graph of the contract) traced at ``image_size`` (H, W); ``scopes``,
    where given, receives :func:`module_scopes` (int8 quantization decides by module)."""
    model = trace_to_onnx(
        module, example_inputs(spec, image_size), spec.input_names, spec.output_names, dynamic_shapes(spec), opset
    )
    if scopes is not None:
        scopes.update(module_scopes(model))
    _name_dims(list(model.graph.input), spec.inputs)
    _name_dims(list(model.graph.output), spec.outputs)
    strip_metadata(model)
    model.producer_name = "rapsam-deploy"
    model.producer_version = __version__
    model.graph.name = spec.name
    return model
