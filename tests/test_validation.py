"""The export's validation both ways: correct graphs pass at any size, batch and query count
(including where hard-mask flips blow up an element-wise comparison), and broken graphs fail
(a swapped weight, a wrong cast, a dropped LayerNorm, fp16 pooled sums that overflow, a
threshold that is not logits > 0)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from rapsam_deploy.export.reference_cases import size_cases
from rapsam_deploy.export.teacher_forcing import teacher_forced, thresholds
from rapsam_deploy.export.validate import failures, validate_files

GRAPHS = ("encoder", "prompt_encoder", "decoder", "adapter_object", "adapter_prompt")


def _files(export: Path, variant: str = "standard", precision: str = "fp32") -> list[tuple[str, str, Path]]:
    from rapsam_deploy.export.exporter import artifact_file

    return [(g, precision, export / artifact_file(g, variant, precision)) for g in GRAPHS]


# (H, W), batch, object queries, prompts: small and large, square and not, batch 1-4.
GRID = [((128, 128), 1, 100, 1), ((160, 352), 2, 37, 5), ((256, 256), 4, 5, 2), ((384, 224), 3, 100, 3)]


@pytest.mark.parametrize(("size", "batch", "queries", "prompts"), GRID, ids=lambda v: str(v).replace(" ", ""))
def test_a_grid_of_sizes_passes(exported_r18, r18, size, batch, queries, prompts):
    export, _ = exported_r18
    cases = size_cases(r18, size, batch, queries, prompts)
    reports = validate_files(_files(export), cases, log=lambda _: None)
    assert not failures(reports)
    decoder = next(r for r in reports if r.file == "decoder.onnx")
    assert {o.output for o in decoder.outputs} >= {"hard_mask_0", "hard_mask_1", "hard_mask_2"}


@pytest.mark.parametrize(("variant", "precision"), [("plugin", "fp32"), ("standard", "fp16"), ("plugin", "fp16")])
def test_other_forms_pass(exported_r18, r18, variant, precision):
    export, _ = exported_r18
    reports = validate_files(
        _files(export, variant, precision), size_cases(r18, (160, 224), 2, 37, 3), log=lambda _: None
    )
    assert not failures(reports)


def test_thresholds_are_found_in_every_form(exported_r18):
    """3 decoder stages and the object adapter; inside the plugin variant's fused-node functions too."""
    export, _ = exported_r18
    for variant in ("standard", "plugin"):
        for graph, count in (("decoder", 3), ("adapter_object", 1), ("adapter_prompt", 0), ("encoder", 0)):
            (_, _, path) = next(f for f in _files(export, variant) if f[0] == graph)
            assert teacher_forced(onnx.load(path)).count == count, (variant, graph)
    # Without inlining, the plugin variant's thresholds are hidden in its local functions.
    assert not thresholds(onnx.load(export / "decoder.plugin.onnx").graph)


def test_float_noise_that_flips_masks_passes(exported_r18, r18):
    """Noise of 1e-6 on the decoder's features flips hard-mask pixels near 0; compared element by
    element (the free run) the outputs move by far more than the noise, the forced run does not."""
    export, _ = exported_r18
    cases = [c for c in size_cases(r18, (256, 256), 2, 100, 2) if c.graph == "decoder"]
    rng = np.random.default_rng(0)
    for case in cases:
        features = case.inputs["features"]
        features += rng.standard_normal(features.shape).astype(np.float32) * 1e-6 * np.abs(features).max()
    (report,) = validate_files([("decoder", "fp32", export / "decoder.onnx")], cases, log=lambda _: None)
    assert report.passed, failures([report])
    flips = [o.flips for o in report.outputs if o.flips is not None]
    assert max(flips) > 0, "the noise flipped nothing: the test no longer exercises flips"


# ---- broken graphs ---------------------------------------------------------------------------


def _swap_weights(model: onnx.ModelProto) -> str:
    """Swap two different float weight matrices of the same shape (two stages' fc_mask)."""
    by_shape: dict[tuple, list[onnx.TensorProto]] = {}
    for init in model.graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and len(init.dims) == 2 and init.dims[0] == init.dims[1] == 256:
            by_shape.setdefault(tuple(init.dims), []).append(init)
    a, b = next(v for v in by_shape.values() if len(v) >= 2)[:2]
    va, vb = numpy_helper.to_array(a), numpy_helper.to_array(b)
    a.CopyFrom(numpy_helper.from_array(vb, a.name))
    b.CopyFrom(numpy_helper.from_array(va, b.name))
    return "max rel"


def _insert_after(model: onnx.ModelProto, node: onnx.NodeProto, new_nodes: list[onnx.NodeProto], last: str) -> None:
    """Make ``node``'s first output pass through ``new_nodes`` (ending in tensor ``last``)."""
    out = node.output[0]
    for consumer in model.graph.node:
        consumer.input[:] = [last if name == out else name for name in consumer.input]
    index = list(model.graph.node).index(node)
    for offset, new in enumerate(new_nodes, 1):
        model.graph.node.insert(index + offset, new)


def _wrong_cast(model: onnx.ModelProto) -> str:
    """Cast the first attention's scores to int32 and back (truncation), as a wrong cast would."""
    node = next(n for n in model.graph.node if n.op_type == "Softmax")
    source = next(n for n in model.graph.node if n.output[0] == node.input[0])
    casts = [
        helper.make_node("Cast", [source.output[0]], ["broken_int"], to=onnx.TensorProto.INT32),
        helper.make_node("Cast", ["broken_int"], ["broken_float"], to=onnx.TensorProto.FLOAT),
    ]
    _insert_after(model, source, casts, "broken_float")
    return "max rel"


def _drop_layernorm(model: onnx.ModelProto) -> str:
    """Replace the first LayerNormalization by its input."""
    node = next(n for n in model.graph.node if n.op_type == "LayerNormalization")
    node.CopyFrom(helper.make_node("Identity", [node.input[0]], [node.output[0]]))
    return "max rel"


def _fp16_pooled_sums(model: onnx.ModelProto) -> str:
    """Pooled sums that overflow as fp16 does above 65,504 (to inf), as autocast's fp16 pooling
    did on the H200 from 512x512. Written out as Where(|x| > 65504, inf, x): ONNX Runtime's CPU
    runs an fp16 MatMul in fp32, so casting the MatMul to fp16 would not overflow here."""
    cast_of = {n.input[0]: n for n in model.graph.node if n.op_type == "Cast"}
    tensor = cast_of[thresholds(model.graph)[0].output[0]].output[0]
    node = next(n for n in model.graph.node if tensor in n.input)
    while node.op_type != "MatMul":
        node = next(n for n in model.graph.node if node.output[0] in n.input)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(65504, dtype=np.float32), "fp16_max"),
            numpy_helper.from_array(np.array(np.inf, dtype=np.float32), "fp16_inf"),
        ]
    )
    saturate = [
        helper.make_node("Abs", [node.output[0]], ["pooled_abs"]),
        helper.make_node("Greater", ["pooled_abs", "fp16_max"], ["pooled_over"]),
        helper.make_node("Where", ["pooled_over", "fp16_inf", node.output[0]], ["pooled_fp16"]),
    ]
    _insert_after(model, node, saturate, "pooled_fp16")
    return "not finite"


def _threshold_at_half(model: onnx.ModelProto) -> str:
    """Threshold the logits at 0.5 instead of 0 (sigmoid > 0.62 instead of 0.5): not the
    reference's threshold, so it cannot be forced and the count differs."""
    node = thresholds(model.graph)[0]
    model.graph.initializer.append(numpy_helper.from_array(np.array(0.5, dtype=np.float32), "broken_half"))
    node.input[1] = "broken_half"
    return "the graph thresholds 2 mask logits, the reference 3"


BREAKAGES: dict[str, tuple[Callable[[onnx.ModelProto], str], tuple[int, int]]] = {
    "swapped weight": (_swap_weights, (160, 224)),
    "wrong cast": (_wrong_cast, (160, 224)),
    "dropped LayerNorm": (_drop_layernorm, (160, 224)),
    "fp16 overflow": (_fp16_pooled_sums, (512, 512)),
    "threshold not at 0": (_threshold_at_half, (160, 224)),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_broken_decoders_fail(exported_r18, r18, tmp_path, breakage):
    export, _ = exported_r18
    mutate, size = BREAKAGES[breakage]
    model = onnx.load(export / "decoder.onnx")
    figure = mutate(model)
    onnx.save(model, tmp_path / "decoder.onnx")
    cases = [c for c in size_cases(r18, size, 1, 100, 2) if c.graph == "decoder"]
    (report,) = validate_files([("decoder", "fp32", tmp_path / "decoder.onnx")], cases, log=lambda _: None)
    assert not report.passed
    lines = failures([report])
    assert any(figure in line for line in lines), lines


# ---- the chain's task figures -------------------------------------------------------------------


def test_every_form_of_the_export_meets_its_task_gates(exported_r18):
    from rapsam_deploy.artifacts.manifest import read_manifest

    export, printed = exported_r18
    tasks = read_manifest(export).validation["tasks"]
    assert set(tasks["forms"]) == {"standard/fp32", "plugin/fp32", "standard/fp16", "plugin/fp16"}
    for form, report in tasks["forms"].items():
        assert report["misses"] == [], form
        assert report["gates"].startswith("absolute") if form.endswith("fp32") else "noise" in report["gates"], form
    assert tasks["forms"]["standard/fp32"]["mask_iou_mean"] > 0.999
    # untrained weights: fp16 is held to the model's own response to quantisation noise
    assert tasks["noise_floor"]["gray_levels"] == 0.29 and tasks["noise_floor"]["mask_iou_mean"] < 0.99
    row = next(line for line in printed.splitlines() if line.startswith("standard/fp16 "))
    assert "ok" in row and "noise" in row


def test_a_broken_chain_fails_its_task_gates(exported_r18, r18, tmp_path):
    from rapsam_deploy.export.task_parity import validate_tasks

    export, _ = exported_r18
    paths = {g: path for g, _, path in _files(export, "standard", "fp16")}
    model = onnx.load(paths["decoder"])
    _drop_layernorm(model)
    onnx.save(model, tmp_path / "decoder.fp16.onnx")
    paths["decoder"] = tmp_path / "decoder.fp16.onnx"
    _, (report,) = validate_tasks(r18, {"standard/fp16": paths}, (128, 160), log=lambda _: None)
    assert any("mask IoU mean" in miss for miss in report.misses), report
