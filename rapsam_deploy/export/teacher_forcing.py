"""Teacher forcing of the hard masks, so that validation compares graphs without amplified noise.

Each decoder stage and the object adapter threshold mask logits at 0 (``Greater(logits, 0)``)
and pool the features under the result. A logit within float noise of 0 lands on either side
in two correct runs (a different summation order is enough); the flipped pixel changes the
pooled sums, and three stages carry that on until whole outputs differ by percent. Compared
element by element, a correct graph then fails at some sizes and a broken one can pass at others.

:func:`teacher_forced` returns a copy of a graph in which the consumers of every such threshold
read a new input instead, fed with the PyTorch reference's own hard mask of that stage. The
threshold stays in the graph, its result and the logits it saw become outputs. So:

- every output can be held to a tight tolerance: what differs is float noise, not flips;
- each threshold is checked exactly: its result must equal ``logits > 0`` of its own logits;
- flips are counted (pixels where the graph's logits put the mask on the other side of 0 from
  the reference's) and must be rare.

Local functions (the plugin variant's fused node) are inlined first, so their thresholds count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.inliner import inline_local_functions

# Names of the added tensors; none can clash with the contract's, which have no slash.
FORCED_MASK = "validation/hard_mask_{}"
THRESHOLD_RESULT = "validation/threshold_{}"
THRESHOLD_LOGITS = "validation/threshold_logits_{}"


@dataclass(frozen=True)
class ForcedGraph:
    """A graph with its ``count`` thresholds forced (in the order the graph computes them)."""

    model: onnx.ModelProto
    count: int

    def feeds(self, hard_masks: list[np.ndarray]) -> dict[str, np.ndarray]:
        """The added inputs: the reference's hard masks (bool [B,N,H,W]), in order."""
        if len(hard_masks) != self.count:
            raise ValueError(f"the graph thresholds {self.count} mask logits, the reference {len(hard_masks)}")
        return {FORCED_MASK.format(i): mask for i, mask in enumerate(hard_masks)}


def _zero_constants(graph: onnx.GraphProto) -> set[str]:
    """Names of the graph's constants that hold only zeros (initializers or Constant nodes)."""
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return {name for name, value in values.items() if value.size and not value.any()}


def thresholds(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The ``Greater(x, 0)`` nodes, in graph order (ONNX graphs are topologically sorted, so a
    stage's threshold comes before the next stage's)."""
    zeros = _zero_constants(graph)
    return [n for n in graph.node if n.op_type == "Greater" and n.input[1] in zeros]


def _value_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    return {v.name: v.type.tensor_type.elem_type for v in infos}


def teacher_forced(model: onnx.ModelProto) -> ForcedGraph:
    """A copy of ``model`` whose thresholds' consumers read ``FORCED_MASK`` inputs, with each
    threshold's result and logits as ``THRESHOLD_RESULT`` / ``THRESHOLD_LOGITS`` outputs."""
    forced = inline_local_functions(model)
    graph = forced.graph
    nodes = thresholds(graph)
    if not nodes:
        return ForcedGraph(forced, 0)
    types = _value_types(forced)
    for index, node in enumerate(nodes):
        result, logits, mask = node.output[0], node.input[0], FORCED_MASK.format(index)
        for consumer in graph.node:
            if consumer is not node:
                consumer.input[:] = [mask if name == result else name for name in consumer.input]
        graph.input.append(helper.make_tensor_value_info(mask, onnx.TensorProto.BOOL, None))
        for source, name, elem_type in (
            (result, THRESHOLD_RESULT.format(index), onnx.TensorProto.BOOL),
            (logits, THRESHOLD_LOGITS.format(index), types.get(logits, onnx.TensorProto.FLOAT)),
        ):
            graph.node.append(helper.make_node("Identity", [source], [name]))
            graph.output.append(helper.make_tensor_value_info(name, elem_type, None))
    return ForcedGraph(forced, len(nodes))
