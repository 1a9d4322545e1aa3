"""rapsam-export --deform-conv decomposed (GridSample + 1x1 Conv instead of DeformConv): the same
export, dynamic shapes and chaining as the default form. One export (r18, standard fp32, small
size, validated) is shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from conftest import photo_rgb
from onnx import numpy_helper
from test_runtime import assert_same_instances

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.manifest import read_manifest
from rapsam_deploy.backends.onnxruntime_session import create_session, run
from rapsam_deploy.export.checks import check_graph
from rapsam_deploy.export.onnx_export import trace_to_onnx
from rapsam_deploy.export.tensorrt_ops import unsupported_ops
from rapsam_deploy.model.deform_conv import set_deform_impl
from rapsam_deploy.model.neck import DeformLayer
from rapsam_deploy.parity import mask_iou
from rapsam_deploy.predict.panoptic import PanopticPredictor, decode_objects
from rapsam_deploy.predict.postprocess import PanopticConfig
from rapsam_deploy.predict.preprocess import ResizePolicy
from rapsam_deploy.predict.prompt import PromptPredictor
from rapsam_deploy.predict.runtime import load

# 160x224 after resizing and padding: non-square and not the tracing size.
OTHER_SIZE = (160, 224)


@pytest.fixture(scope="module")
def exported(exported_decomposed) -> Path:
    return exported_decomposed


@pytest.fixture(scope="module")
def runtimes(exported):
    return {name: load(exported, name) for name in ("torch", "onnxruntime")}


def _constant_reshape_targets(model: onnx.ModelProto) -> list[list[int]]:
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return [
        constants[n.input[1]].tolist() for n in model.graph.node if n.op_type == "Reshape" and n.input[1] in constants
    ]


@torch.no_grad()
def test_deform_layer_traced_at_batch_1_keeps_every_size_symbolic():
    """The neck's layer alone (offset conv, channel slices, decomposed DCN): seconds, not a full
    export. Traced at batch 1, its output keeps B and runs at batch 3 and another size."""
    torch.manual_seed(0)
    layer = DeformLayer(8, 4).eval()
    torch.nn.init.normal_(layer.dcn.weight)
    set_deform_impl(layer, "decomposed")
    dynamic = {"x": {0: "B", 2: "H", 3: "W"}}
    model = trace_to_onnx(layer, (torch.randn(1, 8, 6, 10),), ["x"], ["y"], dynamic, opset=17)
    dims = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims[:2] == ["B", 4] and all(isinstance(d, str) for d in dims[2:]), dims
    x = torch.randn(3, 8, 9, 5)
    got = run(create_session(model.SerializeToString()), {"x": x.numpy()})["y"]
    ref = layer(x).numpy()
    assert got.shape == ref.shape == (3, 4, 18, 10)
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def test_export_validates_and_records_the_form(exported):
    manifest = read_manifest(exported)
    assert manifest.model["deform_conv"] == "decomposed"
    for artifact in manifest.artifacts:
        assert artifact.parity["validated"] and artifact.parity["passed"], artifact.file
        assert artifact.tensorrt_unsupported == [] and artifact.custom_ops == [], artifact.file
    encoder = manifest.artifact("encoder")
    assert encoder.inputs[0]["shape"] == ["B", 3, "H", "W"]
    assert encoder.outputs[0]["shape"] == ["B", 256, "Hf", "Wf"]


def test_encoder_has_no_deform_conv_and_no_size_of_the_tracing(exported):
    model = onnx.load(exported / "encoder.onnx")
    check_graph(model)
    assert unsupported_ops(model) == []
    ops = {node.op_type for node in model.graph.node}
    assert "DeformConv" not in ops and "GridSample" in ops and "Einsum" not in ops
    # Every reshape takes its sizes from Shape ops: a constant target may only infer (-1) or add
    # unit dims (1). Any other number is a batch or map size of the tracing baked in.
    for target in _constant_reshape_targets(model):
        assert set(target) <= {-1, 1}, target


@torch.no_grad()
def test_encoder_at_batch_2_and_another_size_matches_pytorch(exported, r18):
    torch.manual_seed(0)
    image = torch.rand(2, 3, *OTHER_SIZE) * 255
    got = run(create_session(exported / "encoder.onnx"), {"image": image.numpy()})["features"]
    ref = r18.forward_encoder(image).numpy()
    assert got.shape == ref.shape == (2, 256, OTHER_SIZE[0] // 4, OTHER_SIZE[1] // 4)
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()


@torch.no_grad()
def test_panoptic_chain_at_batch_2_matches_torch(runtimes):
    """encoder -> decoder -> object adapter in ONNX Runtime on two photos in one batch, as the
    default form's runtime tests: the features match closely; past the decoder's hard masks,
    where a pixel on the 0.5 edge may flip, the predictions are compared."""
    images = [photo_rgb(*OTHER_SIZE), photo_rgb(*OTHER_SIZE, "coffee")]
    resize, config = ResizePolicy(long_side=max(OTHER_SIZE)), PanopticConfig(object_mask_thr=0.0, iou_thr=0.3)
    features, results = {}, {}
    for name, runtime in runtimes.items():
        predictor = PanopticPredictor(runtime, resize, config)
        batch, metas = predictor.prepare(images)
        assert batch.shape == (2, 3, *OTHER_SIZE)
        (features[name],) = runtime.backend.call(contract.ENCODER, batch)
        results[name] = predictor.finish(decode_objects(runtime, features[name]), metas)
    got, ref = features["onnxruntime"].numpy(), features["torch"].numpy()
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()
    for ours, theirs in zip(results["torch"], results["onnxruntime"], strict=True):
        a, b = ours.panoptic, theirs.panoptic
        assert [s.label for s in a.segments] == [s.label for s in b.segments]
        assert all(
            mask_iou(a.id_map == sa.id, b.id_map == sb.id) >= 0.99
            for sa, sb in zip(a.segments, b.segments, strict=True)
        )
        assert_same_instances(ours.instances, theirs.instances)
    assert all(r.panoptic.segments for r in results["torch"])


def test_prompt_chain_matches_torch(runtimes):
    """encoder -> prompt encoder -> prompt adapter in ONNX Runtime."""
    image = photo_rgb(*OTHER_SIZE)
    results = {}
    for name, runtime in runtimes.items():
        predictor = PromptPredictor(runtime, ResizePolicy(long_side=max(OTHER_SIZE)))
        predictor.set_image(image)
        results[name] = predictor.predict([[60, 40], [180, 120]], [[20, 10, 150, 140]])
    ours, theirs = results["torch"], results["onnxruntime"]
    assert ours.masks.shape == theirs.masks.shape == (3, *OTHER_SIZE)
    np.testing.assert_allclose(theirs.iou, ours.iou, atol=1e-4)
    assert all(mask_iou(a, b) >= 0.99 for a, b in zip(ours.masks, theirs.masks, strict=True))
