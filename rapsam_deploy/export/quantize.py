"""int8 graphs: static QDQ quantization of the exported fp32 graphs (ONNX Runtime's
``quantize_static``), calibrated on the inputs each graph sees in the fp32 PyTorch chain.

What is quantized (``model.precision``: ``INT8_OPS``, ``int8_keeps_fp32``): the weights (per
output channel) and inputs (per tensor) of the graphs' Conv, MatMul and Gemm nodes, symmetric
int8, so every zero point is 0 as TensorRT's explicit quantization requires; biases stay fp32
(TensorRT takes fp32 biases, not int32 ones behind a DequantizeLinear). Outputs are not
quantized: each quantized node's output goes on in fp32 and is quantized again only where it is
the input of the next quantized node. Everything else stays fp32: the policy's fp32 islands
(fused pooling + dynamic-conv blocks, deformable convolutions, LayerNorms, the cosine
classifier), the blocks it keeps in fp32, the nodes no module can be found for, and every
other op type (softmax, normalisation, resize, thresholds).

Nodes are matched to modules by name: the exporter's per-node metadata gives each node's
module path (``onnx_export.module_scopes``), recorded before the metadata is stripped; the
simplifiers keep node names.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import onnx
import torch

from ..errors import RapSamError
from ..model import RapSam
from ..model.precision import (
    INT8_CALIBRATION_METHOD,
    INT8_CALIBRATION_PHOTOS,
    INT8_FP32_BLOCKS,
    INT8_OPS,
    int8_keeps_fp32,
)
from .onnx_export import MODEL_ATTRIBUTE
from .reference_cases import encoder_case, object_cases, photo, point_prompts, prompt_cases

# ``quantize_static``'s calibration methods by the names the policy records.
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
# ``quantize_static``'s extra options (module docstring): symmetric int8 (zero points 0), fp32
# biases, no quantized outputs; calibration one feed at a time.
QDQ_OPTIONS = {
    "ActivationSymmetric": True,
    "WeightSymmetric": True,
    "QuantizeBias": False,
    "OpTypesToExcludeOutputQuantization": list(INT8_OPS),
    "CalibStridedMinMax": 1,
}
_PROMPT_POINTS = 4  # per photo, plus one box: the validation's prompt mix, at other positions


def calibration_feeds(
    model: RapSam, size: tuple[int, int], photos: tuple[str, ...] = INT8_CALIBRATION_PHOTOS, seed: int = 0
) -> dict[str, list[dict[str, np.ndarray]]]:
    """Graph name -> the inputs it sees in the fp32 PyTorch chain, one feed per photo (batch 1 at
    ``size`` (H, W)): the encoder the photo [1,3,H,W]; the decoder the features [1,C,H/4,W/4]
    with the N object queries and, as a second feed, with 5 prompts' queries; the adapters the
    decoder's outputs on the object and the prompt path."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, list[dict[str, np.ndarray]]] = {}
    with torch.no_grad():
        for name in photos:
            encoder, features = encoder_case(model, name, photo(name, size))
            points = [tuple(p) for p in rng.uniform(0.05, 0.95, (_PROMPT_POINTS, 2))]
            (x0, x1), (y0, y1) = np.sort(rng.uniform(0.05, 0.95, (2, 2)), axis=1)
            boxes = point_prompts(points, [(x0, y0, x1, y1)], size)
            objects = object_cases(model, name, features, int(model.object_queries.shape[0]))
            for case in [encoder, *objects, *prompt_cases(model, name, features, boxes)]:
                feeds.setdefault(case.graph, []).append(case.inputs)
    return feeds


def excluded_nodes(
    onnx_model: onnx.ModelProto, scopes: Mapping[str, str], model: RapSam, blocks: tuple[str, ...] = INT8_FP32_BLOCKS
) -> list[str]:
    """The ``INT8_OPS`` nodes of ``onnx_model`` that stay fp32: those whose module the policy
    keeps fp32 with ``blocks``, and those of no known module."""
    weights = {t.name for t in onnx_model.graph.initializer}
    excluded = []
    for node in onnx_model.graph.node:
        if node.op_type in INT8_OPS:
            path = module_of(node, scopes, weights)
            if path is None or int8_keeps_fp32(model, path, blocks):
                excluded.append(node.name)
    return excluded


def module_of(node: onnx.NodeProto, scopes: Mapping[str, str], weights: set[str]) -> str | None:
    """The module path of ``node``: from ``scopes`` (node name -> module path, the exporter's
    metadata), else from a weight named after its module (``model.<path>.weight``): nodes that
    a simplifier made (a MatMul and an Add fused into a Gemm) have no metadata. None if neither."""
    if node.name in scopes:
        return scopes[node.name]
    prefix = f"{MODEL_ATTRIBUTE}."
    named = [name for name in node.input if name in weights and name.startswith(prefix)]
    return named[0].removeprefix(prefix).rpartition(".")[0] if named else None


class _Feeds:
    """``quantize_static``'s calibration data reader over a list of feeds; ``set_range`` lets it
    calibrate one feed at a time (``CalibStridedMinMax``), which bounds the memory the histogram
    methods need to one feed's tensors."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self.feeds = feeds
        self.set_range(0, len(feeds))

    def __len__(self) -> int:
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next: Iterator[dict[str, np.ndarray]] = iter(self.feeds[start_index:end_index])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._next, None)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The quantizer warns at length that the model was not pre-processed (on purpose: ONNX
    Runtime's pre-processing fuses nodes into its own contrib ops, which TensorRT cannot parse),
    and its histogram calibration prints its progress to stdout, where the export's table goes."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def quantize_graph(
    fp32: onnx.ModelProto,
    feeds: list[dict[str, np.ndarray]],
    exclude: list[str],
    method: str = INT8_CALIBRATION_METHOD,
    cache: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> onnx.ModelProto:
    """The int8 QDQ form of the graph ``fp32``, calibrated with ``method`` (``CALIBRATION_METHODS``)
    on ``feeds`` (its inputs, as ``calibration_feeds`` gives them), ``exclude``d nodes left fp32.
    For measurements: ``cache``, a file that keeps the calibrated ranges for the next call with
    the same graph and method; ``overrides`` of the quantizer's options (``QDQ_OPTIONS``)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rapsam-int8-") as tmp, _quiet():
        # A path, not the ModelProto: quantize_static moves a given model's weights to external
        # data files in its own temporary directory, in place.
        source, path = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(fp32, source)
        quantize_static(
            source,
            path,
            _Feeds(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(INT8_OPS),
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=methods[method],
            extra_options={**QDQ_OPTIONS, **(overrides or {})},
            calibration_cache_path=cache,
        )
        quantized = onnx.load(path)
    _floats_outside_quantized_nodes(quantized, _quantized_nodes(quantized, exclude))
    wrong = dequantized_inputs(quantized, exclude)
    if wrong:
        raise RapSamError(
            f"int8 quantization fed quantized tensors to nodes it should keep fp32: {', '.join(wrong[:5])}",
            "report this with the graph; export without int8 meanwhile",
        )
    quantized.graph.name = fp32.graph.name
    quantized.producer_name, quantized.producer_version = fp32.producer_name, fp32.producer_version
    return quantized


def _quantized_nodes(model: onnx.ModelProto, exclude: list[str]) -> set[str]:
    kept = set(exclude)
    return {n.name for n in model.graph.node if n.op_type in INT8_OPS and n.name not in kept}


def dequantized_inputs(model: onnx.ModelProto, exclude: list[str]) -> list[str]:
    """Nodes of the int8 graph ``model`` that read a dequantized tensor (a DequantizeLinear's
    output) but are not quantized nodes (``INT8_OPS`` not in ``exclude``), and graph outputs
    that are dequantized tensors, as 'LayerNormalization node_layer_norm_3'; none in a correct
    graph, where the fp32 islands and the outputs see what the fp32 graph computes."""
    dequantized = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    quantized = _quantized_nodes(model, exclude)
    wrong = [
        f"{n.op_type} {n.name}"
        for n in model.graph.node
        if n.name not in quantized and n.op_type != "QuantizeLinear" and dequantized.intersection(n.input)
    ]
    return wrong + [f"graph output {o.name}" for o in model.graph.output if o.name in dequantized]


def _floats_outside_quantized_nodes(model: onnx.ModelProto, quantized: set[str]) -> None:
    """Give every node but the ``quantized`` ones, and every graph output, the fp32 tensor back.

    ``quantize_static`` hands a quantized activation (QuantizeLinear -> DequantizeLinear) to every
    consumer of the tensor, fp32 islands included (a LayerNorm beside the next MatMul), and where
    the tensor is also a graph output it makes the output the dequantized one. In place."""
    graph = model.graph
    weights = {t.name for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    dequantize = {n.input[0]: n for n in graph.node if n.op_type == "DequantizeLinear"}
    for q in [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in weights]:
        dq = dequantize[q.output[0]]
        tensor = dq.output[0] if dq.output[0] in outputs else q.input[0]
        if tensor != q.input[0]:  # the graph-output case: the producer writes the output again
            _rename(graph, q.input[0], tensor)
            dq.output[0] = f"{tensor}_DequantizeLinear_Output"
            for node in graph.node:
                if node is not q and node.name in quantized:
                    node.input[:] = [dq.output[0] if i == tensor else i for i in node.input]
            continue
        for node in graph.node:
            if node is not dq and node.name not in quantized:
                node.input[:] = [tensor if i == dq.output[0] else i for i in node.input]


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    """The value ``old`` -> ``new`` wherever a node reads or writes it."""
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]
        node.output[:] = [new if o == old else o for o in node.output]
