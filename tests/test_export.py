"""rapsam-export: the graphs, their manifest, dynamic shapes, the plugin and fp16 forms, and
bad input. One export (r18, both variants, both precisions, small size) is shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from conftest import EXPORT_SIZE as TRACE_SIZE

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.files import sha256_of
from rapsam_deploy.artifacts.manifest import MANIFEST_FILE, read_manifest
from rapsam_deploy.backends.onnxruntime_session import create_session, run
from rapsam_deploy.cli import export as export_cli
from rapsam_deploy.cli.common import run as run_cli
from rapsam_deploy.export import ExportValidationError, export_model
from rapsam_deploy.export import validate as validate_module
from rapsam_deploy.export.checks import check_graph, shared_weights
from rapsam_deploy.export.onnx_export import export_graph
from rapsam_deploy.export.tensorrt_ops import unsupported_ops
from rapsam_deploy.model import build_model
from rapsam_deploy.model.deform_conv import set_deform_impl
from rapsam_deploy.model.graphs import EncoderGraph


@pytest.fixture(scope="module")
def exported(exported_r18) -> tuple[Path, str]:
    return exported_r18


@pytest.fixture(scope="module")
def manifest(exported):
    return read_manifest(exported[0])


def _session(directory: Path, manifest, graph: str, variant: str = "standard", precision: str = "fp32"):
    return create_session(directory / manifest.artifact(graph, variant, precision).file)


def test_cli_prints_the_summary_and_labels_random_weights(exported, manifest):
    _, stdout = exported
    for artifact in manifest.artifacts:
        assert artifact.file in stdout
    assert "max rel err" in stdout and "FAILED" not in stdout
    assert "random weights" in stdout
    assert manifest.model["label"] == "r18, random weights (seed 0), untrained"


def test_manifest_describes_every_file(exported, manifest):
    directory, _ = exported
    combos = {(a.graph, a.variant, a.precision) for a in manifest.artifacts}
    assert combos == {
        (g.name, v, p) for g in contract.GRAPHS for v in contract.VARIANTS for p in export_cli.BOTH_PRECISIONS
    }
    for artifact in manifest.artifacts:
        spec = next(g for g in contract.GRAPHS if g.name == artifact.graph)
        assert sha256_of(directory / artifact.file) == artifact.sha256
        assert [t["name"] for t in artifact.inputs] == spec.input_names
        assert [t["name"] for t in artifact.outputs] == spec.output_names
        for info, tensor in zip(artifact.inputs + artifact.outputs, spec.inputs + spec.outputs, strict=True):
            assert info["dtype"] == tensor.dtype  # fp32 I/O in fp16 graphs too
            symbols = [d for d in tensor.shape if isinstance(d, str) and d != "K1"]
            assert [d for d in info["shape"] if isinstance(d, str)] == symbols
        assert artifact.opset == 19 and artifact.tensorrt_unsupported == []
        assert artifact.parity["validated"] and artifact.parity["passed"]
    queries = np.load(directory / manifest.object_queries["file"])
    model = build_model("r18")
    np.testing.assert_array_equal(queries, model.object_queries.numpy())
    assert manifest.vocabulary["name"] == "coco_panoptic" and len(manifest.vocabulary["classes"]) == 133
    assert manifest.image["mean"] == list(contract.IMAGE_MEAN) and manifest.image["trace_size"] == list(TRACE_SIZE)
    raw = json.loads((directory / MANIFEST_FILE).read_text())
    assert raw["tools"]["onnxruntime"] and raw["validation"]["ran"] is True


def _graphs(directory: Path, manifest) -> dict[str, onnx.ModelProto]:
    return {a.file: onnx.load(directory / a.file) for a in manifest.artifacts}


def test_every_graph_is_valid_and_tensorrt_parsable(exported, manifest):
    directory, _ = exported
    for name, model in _graphs(directory, manifest).items():
        check_graph(model)
        assert unsupported_ops(model) == [], name
        ops = {node.op_type for node in model.graph.node}
        assert "Einsum" not in ops, name
        assert {o.domain: o.version for o in model.opset_import}[""] == 19


def test_tensorrt_op_check_can_fail():
    node = onnx.helper.make_node("Col2Im", ["x", "s", "b"], ["y"])
    custom = onnx.helper.make_node("Mystery", ["y"], ["z"], domain="acme")
    resize = onnx.helper.make_node(
        "Resize", ["z", "", "sc"], ["w"], coordinate_transformation_mode="tf_crop_and_resize"
    )
    # TensorRT's importer reads DeformConv's bias whenever the mask follows it; Resize's empty roi
    # (never read) and sizes (null-checked) are fine.
    deform = onnx.helper.make_node("DeformConv", ["w", "k", "o", "", "m"], ["d"])
    upsample = onnx.helper.make_node("Resize", ["d", "", "sc", ""], ["u"])
    graph = onnx.helper.make_graph([node, custom, resize, deform, upsample], "g", [], [])
    assert unsupported_ops(onnx.helper.make_model(graph)) == [
        "Col2Im",
        "DeformConv(empty input 3)",
        "Resize(coordinate_transformation_mode=tf_crop_and_resize)",
        "acme::Mystery",
    ]


def test_only_the_class_embeddings_are_in_two_graphs(exported, manifest):
    directory, _ = exported
    model = build_model("r18")
    class_table = model.panoptic_head.classifier.fc_cls.numel()
    assert manifest.validation["shared_weights"], "decoder and object adapter both classify"
    for shared in manifest.validation["shared_weights"]:
        assert shared["elements"] == class_table
        assert sorted(Path(g).name.split(".")[0] for g in shared["graphs"]) == ["adapter_object", "decoder"]
    files = {
        a.file: onnx.load(directory / a.file)
        for a in manifest.artifacts
        if a.variant == "standard" and a.precision == "fp32"
    }
    assert [w.elements for w in shared_weights(files)] == [class_table]


@torch.no_grad()
def test_dynamic_shapes_match_pytorch(exported, manifest):
    """Another size, batch 2 and 7 queries than traced; fp32 graphs against PyTorch."""
    directory, _ = exported
    model = build_model("r18")
    torch.manual_seed(0)
    image = torch.rand(2, 3, 96, 224) * 255
    features = model.forward_encoder(image)
    queries = torch.randn(2, 7, 256)
    attn_mask = model.prompt_attn_mask(7)
    expected = {
        "encoder": ({"image": image}, (features,)),
        "decoder": (
            {"features": features, "queries": queries, "attn_mask": attn_mask},
            model.forward_decoder(features, queries, attn_mask),
        ),
    }
    kernels, masks = expected["decoder"][1][:2]
    expected["adapter_object"] = (
        {"features": features, "kernels": kernels, "mask_logits": masks},
        model.forward_adapter_object(features, kernels, masks),
    )
    expected["adapter_prompt"] = (
        {"features": features, "kernels": kernels},
        model.forward_adapter_prompt(features, kernels),
    )
    boxes, kinds = torch.rand(2, 7, 4).sort(dim=-1).values, torch.ones(2, 7, dtype=torch.int64)
    expected["prompt_encoder"] = (
        {"prompt_boxes": boxes, "prompt_kinds": kinds},
        (model.forward_prompt_encoder(boxes, kinds),),
    )
    for graph, (inputs, outputs) in expected.items():
        got = run(_session(directory, manifest, graph), {k: v.numpy() for k, v in inputs.items()})
        for name, ref in zip(manifest.artifact(graph).outputs, outputs, strict=True):
            out, ref = got[name["name"]], ref.numpy()
            assert out.shape == ref.shape, (graph, name)
            assert np.abs(out - ref).max() <= 1e-3 * np.abs(ref).max(), (graph, name["name"])


def test_plugin_variant_equals_standard(exported, manifest):
    directory, _ = exported
    rng = np.random.default_rng(0)
    feeds = {
        "decoder": {
            "features": rng.standard_normal((1, 256, 40, 24), dtype=np.float32) * 2,
            "queries": rng.standard_normal((1, 9, 256), dtype=np.float32),
            "attn_mask": np.zeros((9, 9), dtype=bool),
        },
        "adapter_object": {
            "features": rng.standard_normal((2, 256, 16, 20), dtype=np.float32),
            "kernels": rng.standard_normal((2, 5, 256), dtype=np.float32),
            "mask_logits": rng.standard_normal((2, 5, 16, 20), dtype=np.float32),
        },
    }
    for graph, feed in feeds.items():
        plugin_file = manifest.artifact(graph, "plugin").file
        model = onnx.load(directory / plugin_file)
        nodes = [n for n in model.graph.node if n.domain == contract.FUSED_OP_DOMAIN]
        assert len(nodes) == (3 if graph == "decoder" else 1)
        for node in nodes:
            assert node.op_type == contract.FUSED_OP_NAME and len(node.input) == 23
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs["plugin_namespace"] == b"rapsam" and attrs["eps"] == pytest.approx(1e-5)
        assert [f.name for f in model.functions] == [contract.FUSED_OP_NAME]
        standard = run(_session(directory, manifest, graph), feed)
        plugin = run(_session(directory, manifest, graph, "plugin"), feed)
        for name, ref in standard.items():
            np.testing.assert_allclose(plugin[name], ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_fp16_graphs_keep_the_precision_policy(exported, manifest):
    directory, _ = exported
    for artifact in manifest.artifacts:
        if artifact.precision != "fp16" or artifact.graph == "prompt_encoder":
            continue
        model = onnx.shape_inference.infer_shapes(onnx.load(directory / artifact.file))
        types = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.value_info, *model.graph.input]}
        types |= {t.name: t.data_type for t in model.graph.initializer}
        ops = [n for n in model.graph.node if n.op_type in ("LayerNormalization", "Softmax", "Sigmoid")]
        fp16 = onnx.TensorProto.FLOAT16
        assert any(t == fp16 for t in types.values()), f"{artifact.file} computes nothing in fp16"
        for node in ops:
            if node.op_type == "Sigmoid" and artifact.graph == "encoder":
                continue  # the deformable modulation mask: a [0,1] factor, fp16 is fine
            assert types.get(node.input[0]) == onnx.TensorProto.FLOAT, (artifact.file, node.op_type, node.name)
        for fused in (n for n in model.graph.node if n.domain == contract.FUSED_OP_DOMAIN):
            assert all(types[w] == onnx.TensorProto.FLOAT for w in fused.input[3:]), "weights stay fp32"
    prompt = manifest.artifact("prompt_encoder", precision="fp16")
    assert prompt.file == manifest.artifact("prompt_encoder").file and prompt.notes


def test_decomposed_deformable_convolution_at_opset_17():
    model = build_model("r18")
    set_deform_impl(model, "decomposed")
    graph = export_graph(EncoderGraph(model), EncoderGraph.spec, (64, 96), 17)
    ops = {n.op_type for n in graph.graph.node}
    assert "DeformConv" not in ops and "GridSample" in ops
    assert {o.domain: o.version for o in graph.opset_import}[""] == 17
    image = torch.rand(1, 3, 96, 64) * 255
    got = run(create_session(graph.SerializeToString()), {"image": image.numpy()})["features"]
    with torch.no_grad():
        ref = model.forward_encoder(image).numpy()
    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--image-size", "100", "128"], "multiples of 32"),
        (["--opset", "16"], "too old"),
        (["--opset", "18"], "no DeformConv"),
    ],
)
def test_bad_options_fail_before_writing(tmp_path, capsys, argv, message):
    output = tmp_path / "out"
    assert run_cli(export_cli.main, [*argv, "--output", str(output)]) == 1
    assert message in capsys.readouterr().err
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_unknown_backbone_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as err:
        export_cli.main(["--backbone", "r101"])
    assert err.value.code == 2 and "invalid choice: 'r101'" in capsys.readouterr().err


def test_existing_or_unwritable_output(tmp_path, capsys):
    existing = tmp_path / "done"
    existing.mkdir()
    (existing / "keep.txt").write_text("old export")
    assert run_cli(export_cli.main, ["--output", str(existing)]) == 1
    assert "already exists" in capsys.readouterr().err and (existing / "keep.txt").exists()
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    assert run_cli(export_cli.main, ["--output", str(blocker / "out")]) == 1
    assert "not a writable directory" in capsys.readouterr().err


def test_checkpoint_of_the_other_backbone(tmp_path, capsys):
    from test_checkpoint import official_state_dict

    checkpoint = tmp_path / "r50.pth"
    torch.save(official_state_dict("r50"), checkpoint)
    output = tmp_path / "out"
    assert run_cli(export_cli.main, ["--checkpoint", str(checkpoint), "--output", str(output)]) == 1
    assert "look like r50; you asked for r18" in capsys.readouterr().err
    assert not output.exists()


def test_failed_validation_writes_nothing_and_keeps_the_old_export(tmp_path, monkeypatch):
    output = tmp_path / "out"
    output.mkdir()
    (output / "manifest.json").write_text("{}")
    impossible = validate_module.Threshold(max_rel=0.0, sign_agreement=1.01, hard_mask_flips=0.0)
    monkeypatch.setitem(validate_module.THRESHOLDS, "fp32", impossible)
    with pytest.raises(ExportValidationError, match="nothing was written"):
        export_model(output=output, image_size=(64, 64), force=True, log=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (output / "manifest.json").read_text() == "{}"
