"""Structural checks of exported graphs: ONNX validity and weights duplicated across the graphs
of one export (TensorRT operator support is ``tensorrt_ops``)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import onnx


def check_graph(model: onnx.ModelProto) -> None:
    """``onnx.checker`` (full check) and strict shape inference; raises on any problem."""
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)


@dataclass(frozen=True)
class SharedWeight:
    """One weight tensor stored in more than one graph of an export."""

    graphs: tuple[str, ...]
    names: tuple[str, ...]
    elements: int


def _digest(tensor: onnx.TensorProto) -> str:
    array = onnx.numpy_helper.to_array(tensor)
    return hashlib.sha256(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()


def shared_weights(models: dict[str, onnx.ModelProto], min_elements: int = 4096) -> list[SharedWeight]:
    """Initializers of at least ``min_elements`` values whose bytes appear in more than one
    graph (or twice in one graph); small shape constants are ignored."""
    seen: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for graph, model in models.items():
        for tensor in model.graph.initializer:
            elements = 1
            for d in tensor.dims:
                elements *= d
            if elements >= min_elements:
                seen[_digest(tensor)].append((graph, tensor.name, elements))
    return [
        SharedWeight(tuple(g for g, _, _ in uses), tuple(n for _, n, _ in uses), uses[0][2])
        for uses in seen.values()
        if len(uses) > 1
    ]
