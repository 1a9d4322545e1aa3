"""The ``config.pbtxt`` of every model of a generated repository, as Triton's own ``ModelConfig``
message (from ``tritonclient``), so that what is written is what the server parses.

Every model but the ensemble has a dynamic batcher: it merges requests of the same shapes for
the graphs whose every tensor starts with the batch axis (encoder, prompt encoder, adapters),
and for all it bounds the queue: a request that finds the queue full, or waits longer than the
timeout, is answered UNAVAILABLE at once instead of piling up in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..artifacts import contract
from ..artifacts.contract import GraphSpec, TensorSpec
from ..errors import RapSamError
from . import names

GRAPH_FORMS = ("python", "onnxruntime", "tensorrt")
_DTYPES = {
    "float32": "TYPE_FP32",
    "int64": "TYPE_INT64",
    "int32": "TYPE_INT32",
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
}


def model_config_module():
    """``tritonclient.grpc.model_config_pb2``, or a clear error saying what to install."""
    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError as err:
        raise RapSamError(
            "serving needs tritonclient, which is not installed", "pip install 'rapsam-deploy[serve]'"
        ) from err
    return model_config_pb2


@dataclass(frozen=True)
class ServingOptions:
    """What every model's config shares: ``instances`` per model, the largest ``max_batch`` the
    dynamic batcher forms, ``queue_size`` and ``timeout_ms`` of each model's queue."""

    instances: int = 1
    max_batch: int = 4
    queue_size: int = 16
    timeout_ms: int = 30_000
    kind: str = "KIND_CPU"


@dataclass(frozen=True)
class Tensor:
    """A tensor of a model's config: name, dtype (numpy spelling) and dims (-1 for any size),
    optional or not."""

    name: str
    dtype: str
    dims: tuple[int, ...]
    optional: bool = False


def _from_contract(tensor: TensorSpec, batched: bool) -> Tensor:
    dims = tuple(-1 if isinstance(d, str) else d for d in tensor.shape)
    return Tensor(tensor.name, tensor.dtype, dims[1:] if batched else dims)


def batchable(spec: GraphSpec) -> bool:
    """Whether every input and output of ``spec`` starts with the batch axis B (the decoder's
    attention mask [N,N] does not)."""
    return all(t.shape[0] == "B" for t in (*spec.inputs, *spec.outputs))


def _add_tensors(field, tensors: list[Tensor], mc) -> None:
    for tensor in tensors:
        entry = field.add(name=tensor.name, data_type=getattr(mc, _DTYPES[tensor.dtype]), dims=list(tensor.dims))
        if tensor.optional:
            entry.optional = True


def _base(mc, name: str, tensors_in: list[Tensor], tensors_out: list[Tensor], max_batch: int, options: ServingOptions):
    config = mc.ModelConfig(name=name, max_batch_size=max_batch)
    _add_tensors(config.input, tensors_in, mc)
    _add_tensors(config.output, tensors_out, mc)
    config.instance_group.add(kind=getattr(mc.ModelInstanceGroup, options.kind), count=options.instances)
    batching = config.dynamic_batching
    if max_batch:
        batching.max_queue_delay_microseconds = 1000
    policy = batching.default_queue_policy
    policy.max_queue_size = options.queue_size
    policy.timeout_action = mc.ModelQueuePolicy.REJECT
    policy.default_timeout_microseconds = options.timeout_ms * 1000
    policy.allow_timeout_override = True
    return config


def _parameters(config, values: dict[str, str]) -> None:
    for key, value in values.items():
        config.parameters[key].string_value = value


def graph_config(spec: GraphSpec, name: str, form: str, options: ServingOptions, max_batch: int, threads: int | None):
    """The model running graph ``spec`` in ``form``: ``onnxruntime_onnx`` or ``tensorrt_plan``
    platforms (``model.onnx``/``model.plan``), or ``python`` (``model.py`` running
    ``model.onnx`` with ONNX Runtime)."""
    mc = model_config_module()
    batch = max_batch if batchable(spec) else 0
    tensors_in = [_from_contract(t, bool(batch)) for t in spec.inputs]
    tensors_out = [_from_contract(t, bool(batch)) for t in spec.outputs]
    config = _base(mc, name, tensors_in, tensors_out, batch, options)
    if form == "python":
        config.backend = "python"
        _parameters(config, {"graph": spec.name, "threads": str(threads or "")})
    elif form == "onnxruntime":
        config.platform = "onnxruntime_onnx"
        if threads:
            _parameters(config, {"intra_op_thread_count": str(threads)})
    else:
        config.platform = "tensorrt_plan"
    return config


def preprocess_config(name: str, options: ServingOptions, resize: str | None):
    mc = model_config_module()
    queries = contract.DECODER.inputs[1]
    config = _base(
        mc,
        name,
        [Tensor(names.IMAGE, "uint8", (-1,))],
        [
            Tensor(names.PIXELS, "float32", (1, 3, -1, -1)),
            Tensor(names.OBJECT_QUERIES, "float32", (1, -1, queries.shape[2])),
            Tensor(names.OBJECT_ATTN_MASK, "bool", (-1, -1)),
            Tensor(names.META, "int64", (6,)),
        ],
        0,
        options,
    )
    config.backend = "python"
    _parameters(config, {"resize": resize or ""})
    return config


def postprocess_config(name: str, options: ServingOptions):
    mc = model_config_module()
    config = _base(
        mc,
        name,
        [
            Tensor(names.CLASS_LOGITS, "float32", (1, -1, -1)),
            Tensor(names.MASK_LOGITS, "float32", (1, -1, -1, -1)),
            Tensor(names.META, "int64", (6,)),
            Tensor(names.SCORE_THRESHOLD, "float32", (1,)),
        ],
        [Tensor(names.PANOPTIC_ID_MAP, "int32", (-1, -1)), Tensor(names.RESULT_JSON, "uint8", (-1,))],
        0,
        options,
    )
    config.backend = "python"
    return config


def prompt_config(name: str, options: ServingOptions, parameters: dict[str, str]):
    mc = model_config_module()
    config = _base(
        mc,
        name,
        [
            Tensor(names.IMAGE_ID, "uint8", (-1,)),
            Tensor(names.IMAGE, "uint8", (-1,), optional=True),
            Tensor(names.POINTS, "float32", (-1, 2), optional=True),
            Tensor(names.BOXES, "float32", (-1, 4), optional=True),
        ],
        [
            Tensor(names.MASKS, "bool", (-1, -1, -1)),
            Tensor(names.IOU, "float32", (-1,)),
            Tensor(names.PROMPT_INDEX, "int64", (-1,)),
        ],
        0,
        options,
    )
    config.backend = "python"
    _parameters(config, parameters)
    return config


def panoptic_ensemble_config(prefix: str):
    """``PREFIX panoptic``: encoded image and score threshold in, panoptic id map and results JSON
    out, through preprocessing, encoder, decoder, object adapter and post-processing."""
    mc = model_config_module()
    config = mc.ModelConfig(name=names.model_name(prefix, names.PANOPTIC), platform="ensemble", max_batch_size=0)
    _add_tensors(
        config.input, [Tensor(names.IMAGE, "uint8", (-1,)), Tensor(names.SCORE_THRESHOLD, "float32", (1,))], mc
    )
    _add_tensors(
        config.output, [Tensor(names.PANOPTIC_ID_MAP, "int32", (-1, -1)), Tensor(names.RESULT_JSON, "uint8", (-1,))], mc
    )
    encoder, decoder, adapter = contract.ENCODER, contract.DECODER, contract.ADAPTER_OBJECT
    steps = [
        (names.PREPROCESS, {names.IMAGE: names.IMAGE},
         {names.PIXELS: "pixels", names.OBJECT_QUERIES: "object_queries", names.OBJECT_ATTN_MASK: "object_attn_mask",
          names.META: "meta"}),
        (encoder.name, encoder.bind("pixels"), dict(zip(encoder.output_names, ["image_features"], strict=True))),
        (decoder.name, decoder.bind("image_features", "object_queries", "object_attn_mask"),
         dict(zip(decoder.output_names[:2], ["decoder_kernels", "decoder_masks"], strict=True))),
        (adapter.name, adapter.bind("image_features", "decoder_kernels", "decoder_masks"),
         dict(zip(adapter.output_names[:2], ["object_masks", "object_classes"], strict=True))),
        (names.POSTPROCESS_PANOPTIC,
         {names.CLASS_LOGITS: "object_classes", names.MASK_LOGITS: "object_masks", names.META: "meta",
          names.SCORE_THRESHOLD: names.SCORE_THRESHOLD},
         {names.PANOPTIC_ID_MAP: names.PANOPTIC_ID_MAP, names.RESULT_JSON: names.RESULT_JSON}),
    ]  # fmt: skip
    for role, inputs, outputs in steps:
        step = config.ensemble_scheduling.step.add(model_name=names.model_name(prefix, role), model_version=-1)
        step.input_map.update(inputs)
        step.output_map.update(outputs)
    return config
