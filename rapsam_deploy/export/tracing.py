"""What tracing a graph of the contract needs: example inputs of the right shapes and the
symbolic dimensions of every input."""

from __future__ import annotations

import torch
from torch import Tensor

from ..artifacts import contract
from ..artifacts.contract import GraphSpec


def example_inputs(spec: GraphSpec, image_size: tuple[int, int], num_queries: int = 100) -> tuple[Tensor, ...]:
    """Tracing inputs for ``spec`` at ``image_size`` (H, W) with batch 1 and ``num_queries``
    queries. Values do not matter for tracing; shapes do."""
    height, width = image_size
    sizes = contract.dimensions(B=1, H=height, W=width, N=num_queries)
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for name, shape in spec.shapes(sizes, spec.inputs).items():
        dtype = next(t.dtype for t in spec.inputs if t.name == name)
        if dtype == "bool":
            tensors.append(torch.zeros(shape, dtype=torch.bool))
        elif dtype == "int64":
            tensors.append(torch.ones(shape, dtype=torch.int64))
        else:
            tensors.append(torch.rand(shape, generator=generator))
    return tuple(tensors)


def dynamic_shapes(spec: GraphSpec) -> dict[str, dict[int, str]]:
    """Every symbolic dimension of every input, by name (shared names are equal dims)."""
    return {t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)} for t in spec.inputs}
