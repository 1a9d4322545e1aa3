"""TensorRT engines: plans, their sidecars and the checks, the graph the ONNX parser gets, the
optimisation profiles, the errors on a machine without TensorRT, and (``pytest -m gpu``, with
TensorRT and a CUDA GPU) engines built and run against ONNX Runtime.

Everything but the ``gpu`` tests runs without TensorRT: a missing TensorRT is simulated by
hiding the module, so those tests also run where it is installed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from conftest import skip_unless_required

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.artifacts.manifest import Artifact, Manifest, write_manifest
from rapsam_deploy.cli import build as build_cli
from rapsam_deploy.cli.common import run
from rapsam_deploy.engines import build as engine_build
from rapsam_deploy.engines import tensorrt_env
from rapsam_deploy.engines.build import (
    BuildOptions,
    axis_ranges,
    check_build_options,
    input_profiles,
    parse_error,
    prepare_for_parser,
    progress_monitor,
)
from rapsam_deploy.engines.engine_file import (
    FORMAT,
    FORMAT_VERSION,
    OLD_MAGIC,
    EngineExpectation,
    EngineFileError,
    EngineSidecar,
    UncheckedEngineWarning,
    check_engine,
    check_engine_dir,
    read_engine,
    read_sidecar,
    sidecar_path,
    write_engine,
)
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.parity import mask_agreement, scaled_error

ENGINE = bytes(range(256)) * 40  # stands in for a serialized plan: the sidecar's checks never look inside
DEFAULT_PROFILES = {
    "B": {"min": 1, "opt": 1, "max": 2},
    "H": {"min": 256, "opt": 1024, "max": 1344},
    "W": {"min": 256, "opt": 1024, "max": 1344},
    "N": {"min": 1, "opt": 100, "max": 256},
    "T": {"min": 1, "opt": 1, "max": 5},
}


def _sidecar(**changes) -> EngineSidecar:
    fields = {
        "tensorrt": "10.13.0.35",
        "gpu_name": "NVIDIA A100-SXM4-80GB",
        "compute_capability": "sm_80",
        "precision": "fp16",
        "variant": "plugin",
        "graph": "decoder",
        "onnx_file": "decoder.plugin.fp16.onnx",
        "onnx_sha256": "a" * 64,
        "plugin_sha256": "b" * 64,
        "profile": {"queries": {"min": [1, 1, 256], "opt": [1, 100, 256], "max": [2, 256, 256]}},
        "rapsam_deploy": "0.1.0",
        "created": "2026-01-01T00:00:00+00:00",
    }
    return EngineSidecar(**(fields | changes))


def _expect(**changes) -> EngineExpectation:
    h = _sidecar()
    fields = {
        "tensorrt": h.tensorrt,
        "gpu_name": h.gpu_name,
        "compute_capability": h.compute_capability,
        "precision": h.precision,
        "variant": h.variant,
        "graph": h.graph,
        "onnx_sha256": h.onnx_sha256,
        "plugin_sha256": h.plugin_sha256,
        "export_dir": "exports/r50",
    }
    return EngineExpectation(**(fields | changes))


@pytest.fixture
def engine_file(tmp_path) -> Path:
    """A plan and its sidecar as rapsam-build writes them; the plan's path."""
    path = tmp_path / "engines" / "fp16-plugin" / "decoder.plan"
    write_engine(path, _sidecar(), ENGINE)
    return path


def _old_format(plan: bytes = ENGINE) -> bytes:
    """An engine file in rapsam-deploy's old format: magic, header length, JSON header, plan."""
    header = json.dumps(dataclasses.asdict(_sidecar())).encode()
    return OLD_MAGIC + len(header).to_bytes(4, "little") + header + plan


# ---- engine files: plan and sidecar -----------------------------------------------------


def test_plan_is_plain_and_its_sidecar_beside_it(engine_file):
    """The plan is exactly the serialized engine (what trtexec and Triton load); the sidecar is
    JSON with the format, its version, and the plan's size and sha256."""
    sidecar, plan = read_engine(engine_file, _expect())
    assert engine_file.read_bytes() == bytes(plan) == ENGINE
    assert sidecar == dataclasses.replace(_sidecar(), plan_bytes=len(ENGINE), plan_sha256=sidecar.plan_sha256)
    assert len(sidecar.plan_sha256) == 64
    raw = json.loads(sidecar_path(engine_file).read_text())
    assert sidecar_path(engine_file).name == "decoder.plan.json"
    assert (raw["format"], raw["version"], raw["plan_bytes"]) == (FORMAT, FORMAT_VERSION, len(ENGINE))
    assert read_sidecar(engine_file) == sidecar == check_engine(engine_file, _expect())
    # Written atomically: no temporary file is left beside them, and a rewrite replaces both whole.
    write_engine(engine_file, _sidecar(tensorrt="11.1.0.106"), ENGINE[:100])
    assert read_sidecar(engine_file).plan_bytes == 100 and engine_file.read_bytes() == ENGINE[:100]
    assert sorted(p.name for p in engine_file.parent.iterdir()) == ["decoder.plan", "decoder.plan.json"]


REBUILD = "rapsam-build exports/r50 --precision fp16 --variant plugin --graphs decoder --force"


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        (_expect(tensorrt="11.1.0.106"), "built with TensorRT 10.13.0.35 but this is TensorRT 11.1.0.106"),
        (
            _expect(compute_capability="sm_90", gpu_name="NVIDIA H100 80GB HBM3"),
            "built for sm_80 (NVIDIA A100-SXM4-80GB) but this GPU is sm_90 (NVIDIA H100 80GB HBM3)",
        ),
        (_expect(plugin_sha256="c" * 64), "plugin library changed"),
        (_expect(onnx_sha256="d" * 64), "the ONNX graph changed since"),
        (_expect(precision="fp32"), "it is the fp16 plugin-variant decoder engine, not the fp32 plugin-variant"),
    ],
    ids=["tensorrt", "gpu", "plugin", "graph", "precision"],
)
def test_mismatch_is_explained_before_deserialising(engine_file, expect, message):
    for check in (read_engine, check_engine):
        with pytest.raises(EngineFileError) as error:
            check(engine_file, expect)
        assert message in str(error.value)
        assert "cannot run here" in str(error.value)
        rebuild = REBUILD.replace("fp16", expect.precision)
        assert error.value.fix == f"rebuild it: {rebuild}"


def test_every_mismatch_is_named_at_once(engine_file):
    with pytest.raises(EngineFileError) as error:
        read_engine(engine_file, _expect(tensorrt="11.1.0.106", compute_capability="sm_90", plugin_sha256="c" * 64))
    assert str(error.value).count(";") == 2


def test_standard_engines_record_no_plugin(tmp_path):
    path = tmp_path / "encoder.plan"
    write_engine(path, _sidecar(variant="standard", graph="encoder", plugin_sha256=None), ENGINE)
    sidecar, _ = read_engine(path, _expect(variant="standard", graph="encoder", plugin_sha256=None))
    assert sidecar.plugin_sha256 is None


def _damage(plan: Path, how: str) -> None:
    sidecar = sidecar_path(plan)
    raw = json.loads(sidecar.read_text())
    if how == "truncated plan":
        plan.write_bytes(ENGINE[:-10])
    elif how == "longer plan":
        plan.write_bytes(ENGINE + b"\0")
    elif how == "flipped plan byte":
        plan.write_bytes(ENGINE[:-5] + bytes([ENGINE[-5] ^ 0xFF]) + ENGINE[-4:])
    elif how == "corrupt sidecar":
        sidecar.write_text(sidecar.read_text()[:50])
    elif how == "sidecar of another format":
        sidecar.write_text(json.dumps(raw | {"format": "something/else"}))
    elif how == "sidecar missing a field":
        sidecar.write_text(json.dumps({k: v for k, v in raw.items() if k != "plan_sha256"}))
    elif how == "newer sidecar":
        sidecar.write_text(json.dumps(raw | {"version": 99}))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        (
            "truncated plan",
            "is truncated or was replaced: its sidecar decoder.plan.json says 10240 bytes, the file has 10230",
        ),
        (
            "longer plan",
            "is truncated or was replaced: its sidecar decoder.plan.json says 10240 bytes, the file has 10241",
        ),
        (
            "flipped plan byte",
            "is corrupt or was replaced: its sha256 differs from the one its sidecar decoder.plan.json",
        ),
        ("corrupt sidecar", "decoder.plan.json is a corrupt engine sidecar (Unterminated string"),
        (
            "sidecar of another format",
            "decoder.plan.json is a corrupt engine sidecar (not a rapsam-deploy/engine-sidecar",
        ),
        ("sidecar missing a field", "is a corrupt engine sidecar (fields missing: ['plan_sha256'], unknown: [])"),
        (
            "newer sidecar",
            "decoder.plan.json is an engine sidecar of format version 99; this rapsam-deploy reads version 1",
        ),
    ],
)
def test_damaged_plans_and_sidecars_are_refused(engine_file, how, message):
    _damage(engine_file, how)
    with pytest.raises(EngineFileError) as error:
        read_engine(engine_file, _expect())
    assert message in str(error.value)
    assert error.value.fix.endswith(f"rebuild it: {REBUILD}")


def test_a_plan_without_sidecar_loads_unchecked_with_a_warning(engine_file):
    """A plan built elsewhere (trtexec) has nothing to check it against, even a wrong expectation:
    it loads as it is, with a warning that TensorRT's own check is all it gets."""
    sidecar_path(engine_file).unlink()
    for expect in (_expect(), _expect(tensorrt="11.1.0.106", onnx_sha256="d" * 64)):
        with pytest.warns(UncheckedEngineWarning, match="has no sidecar decoder.plan.json") as caught:
            sidecar, plan = read_engine(engine_file, expect)
        assert sidecar is None and bytes(plan) == ENGINE
        assert "TensorRT's own compatibility check is all there is" in str(caught[0].message)
        with pytest.warns(UncheckedEngineWarning):
            assert check_engine(engine_file, expect) is None
    assert read_sidecar(engine_file) is None


def test_tensorrt_refusing_a_plan_without_sidecar_says_so(engine_file):
    """The backend deserialises a plan without sidecar; when TensorRT returns None, the error says
    it refused a plan built elsewhere, with the rebuild command."""
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    sidecar_path(engine_file).unlink()
    backend = SimpleNamespace(
        _trt=None,
        _expect={"decoder": _expect()},
        engine_dir=engine_file.parent,
        export_dir="exports/r50",
        device=-1,  # torch.cuda.device(-1) does nothing: no GPU needed
        _runtime=SimpleNamespace(deserialize_cuda_engine=lambda plan: None),
    )
    with pytest.warns(UncheckedEngineWarning), pytest.raises(EngineFileError) as error:
        TensorRTBackend._load(backend, "decoder")
    assert error.value.what == (
        f"TensorRT refused {engine_file}, a plan without a sidecar: it was probably built by another TensorRT version "
        "or for another GPU (its messages are above)"
    )
    assert error.value.fix == f"rebuild it: {REBUILD}"
    write_engine(engine_file, _sidecar(), ENGINE)
    with pytest.raises(EngineFileError, match="TensorRT could not deserialise the decoder engine"):
        TensorRTBackend._load(backend, "decoder")


def _assert_old_format(plan: Path, named: Path) -> None:
    for check in (read_engine, check_engine):
        with pytest.raises(EngineFileError) as error:
            check(plan, _expect())
        assert error.value.what == (
            f"{named} is an engine in rapsam-deploy's old format (a header in front of the TensorRT plan), which "
            "this rapsam-deploy no longer reads"
        )
        assert error.value.fix == f"rebuild it with rapsam-build: {REBUILD}"


def test_old_format_is_refused_with_the_rebuild_command(engine_file):
    """rapsam-deploy's old engine files (a header in front of the plan), as decoder.engine or
    renamed to decoder.plan: one error, rebuild."""
    sidecar_path(engine_file).unlink()
    engine_file.unlink()
    old = engine_file.with_suffix(".engine")
    old.write_bytes(_old_format())
    _assert_old_format(engine_file, old)
    old.rename(engine_file)
    _assert_old_format(engine_file, engine_file)


def test_missing_engine_names_the_build_command(tmp_path):
    with pytest.raises(EngineFileError) as error:
        read_engine(tmp_path / "decoder.plan", _expect())
    assert str(error.value).startswith(f"no TensorRT engine for decoder at {tmp_path / 'decoder.plan'}")
    assert error.value.fix == f"build it: {REBUILD}"


def test_engine_dir_names_every_missing_plan_and_old_engine(tmp_path):
    expects = [_expect(graph=graph) for graph in contract.GRAPH_NAMES[:3]]
    first, second, third = (e.graph for e in expects)
    (tmp_path / f"{second}.plan").write_bytes(ENGINE)
    (tmp_path / f"{third}.engine").write_bytes(_old_format())
    with pytest.raises(EngineFileError) as error:
        check_engine_dir(tmp_path, expects)
    assert error.value.what == (
        f"no TensorRT engines for {first}, {third} in {tmp_path} ({third}.engine: rapsam-deploy's old engine "
        "format, no longer read)"
    )
    assert error.value.fix == "build them: " + REBUILD.replace("decoder", f"{first} {third}")
    for expect in (first, third):
        (tmp_path / f"{expect}.plan").write_bytes(ENGINE)
    check_engine_dir(tmp_path, expects)


# ---- the graph the ONNX parser gets -----------------------------------------------------


@pytest.fixture(scope="module")
def plugin_decoder(r18) -> onnx.ModelProto:
    """The decoder in its plugin form, made by the exporter's own steps at a small size."""
    from rapsam_deploy.export.fused_function import attach_fused_function
    from rapsam_deploy.export.onnx_export import DEFORM_CONV_OPSET, export_graph
    from rapsam_deploy.model.graphs import GRAPH_MODULES
    from rapsam_deploy.model.kernel_updator import set_fused_impl

    set_fused_impl(r18, "op")
    try:
        model = export_graph(GRAPH_MODULES["decoder"](r18), contract.DECODER, (64, 64), DEFORM_CONV_OPSET)
    finally:
        set_fused_impl(r18, "torch")
    attach_fused_function(model, DEFORM_CONV_OPSET)
    return model


def _fused_nodes(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if (n.domain, n.op_type) == (contract.FUSED_OP_DOMAIN, contract.FUSED_OP_NAME)]


def test_parser_gets_the_plugin_nodes_without_the_local_function(plugin_decoder, tmp_path):
    assert [(f.domain, f.name) for f in plugin_decoder.functions] == [
        (contract.FUSED_OP_DOMAIN, contract.FUSED_OP_NAME)
    ]
    prepared = prepare_for_parser(plugin_decoder)

    assert list(prepared.functions) == []
    assert len(plugin_decoder.functions) == 1, "the original model is left as it was"
    nodes = _fused_nodes(prepared)
    assert len(nodes) == 3  # one per decoder stage
    for node in nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["plugin_namespace"] == b"rapsam"
        assert attributes["plugin_version"] == b"1"
        assert len(node.input) == 3 + len(contract.FUSED_OP_WEIGHTS)
    assert [n.name for n in prepared.graph.node] == [n.name for n in plugin_decoder.graph.node]
    assert (contract.FUSED_OP_DOMAIN, contract.FUSED_OP_VERSION) in {
        (o.domain, o.version) for o in prepared.opset_import
    }
    onnx.checker.check_model(prepared, full_check=True)

    # What build_engine hands the parser: the plugin form without the function, other files as they are.
    path = tmp_path / "decoder.plugin.onnx"
    onnx.save(plugin_decoder, path)
    parsed = onnx.load_from_string(engine_build._parser_bytes(path, "plugin"))
    assert list(parsed.functions) == [] and len(_fused_nodes(parsed)) == 3
    assert engine_build._parser_bytes(path, "standard") == path.read_bytes()


def test_plugin_graphs_are_parsed_without_the_plugin_override_flag(plugin_decoder, tmp_path, monkeypatch):
    """The fused nodes' plugin_namespace attribute selects the plugin; ENABLE_PLUGIN_OVERRIDE would
    make TensorRT 10.15-10.16 ask the registry about every node and crash on Split (README)."""
    flags, parsed = [], []

    class Parser:
        def __init__(self, network, logger) -> None:
            self.network = network

        def set_flag(self, flag) -> None:
            flags.append(flag)

        def parse(self, data: bytes, path: str) -> bool:
            parsed.append(onnx.load_from_string(data))
            return True

    tensors = SimpleNamespace
    network = SimpleNamespace(
        num_inputs=3,
        num_outputs=4,
        get_input=lambda i: tensors(name=contract.DECODER.input_names[i]),
        get_output=lambda i: tensors(name=contract.DECODER.output_names[i]),
    )
    trt = SimpleNamespace(
        NetworkDefinitionCreationFlag=SimpleNamespace(STRONGLY_TYPED=5),
        OnnxParser=Parser,
        OnnxParserFlag=SimpleNamespace(ENABLE_PLUGIN_OVERRIDE=3),
    )
    monkeypatch.setattr(engine_build, "tensorrt_logger", lambda: None)
    path = tmp_path / "decoder.plugin.onnx"
    onnx.save(plugin_decoder, path)
    builder = SimpleNamespace(create_network=lambda flags: network)
    engine_build._parse(trt, builder, contract.DECODER, path, "plugin")
    assert flags == []
    assert len(_fused_nodes(parsed[0])) == 3 and list(parsed[0].functions) == []


def test_engines_share_one_activation_block_sized_for_the_shapes_in_use():
    """Each engine's context gets the backend's one block, sized for the shapes it runs (not
    its profile's maximum, here 1 GiB) and grown when a larger shape comes; a context is given
    the block again only when it moved or its size changed (which drops a captured CUDA graph)."""
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend, _Engine, _Scratch

    class Context:
        def __init__(self, needs: int) -> None:
            self.needs, self.given = needs, []

        def update_device_memory_size_for_shapes(self) -> int:
            return self.needs

        def set_device_memory(self, address: int, size: int) -> None:
            self.given.append((address, size))

    backend = SimpleNamespace(_scratch=_Scratch(torch.device("cpu")))
    profile_maximum = SimpleNamespace(device_memory_size_v2=1 << 30)
    small, large = _Engine(profile_maximum, Context(1000)), _Engine(profile_maximum, Context(5000))
    for entry in (small, large, small):
        entry.scratch_bytes = TensorRTBackend._scratch_bytes(entry)
        TensorRTBackend._bind_scratch(backend, entry)
    block = backend._scratch.block
    assert block.numel() == 5000
    assert large.context.given == [(block.data_ptr(), 5000)]
    assert small.context.given[0][1] == 1000 and small.context.given[-1] == (block.data_ptr(), 1000)
    small.captured = "a CUDA graph"
    TensorRTBackend._bind_scratch(backend, small)
    assert small.captured == "a CUDA graph" and small.context.given[-1] == (block.data_ptr(), 1000)
    large.context.needs = 9000  # new shapes that need more: a larger block, the graph dropped
    large.captured = "a CUDA graph"
    large.scratch_bytes = TensorRTBackend._scratch_bytes(large)
    TensorRTBackend._bind_scratch(backend, large)
    assert backend._scratch.block.numel() == 9000 and large.captured is None
    # TensorRT could not size it (0): the profile's maximum.
    assert TensorRTBackend._scratch_bytes(_Engine(profile_maximum, Context(0))) == 1 << 30


# ---- optimisation profiles --------------------------------------------------------------


def test_profiles_per_input_follow_the_contract():
    ranges = axis_ranges(DEFAULT_PROFILES)
    assert ranges["Hf"] == (64, 256, 336) and ranges["Hq"] == (64, 256, 1680)
    decoder = input_profiles(contract.DECODER, ranges)
    assert decoder["features"] == {"min": [1, 256, 64, 64], "opt": [1, 256, 256, 256], "max": [2, 256, 1680, 336]}
    assert decoder["queries"] == {"min": [1, 1, 256], "opt": [1, 100, 256], "max": [2, 256, 256]}
    assert decoder["attn_mask"] == {"min": [1, 1], "opt": [100, 100], "max": [256, 256]}
    encoder = input_profiles(contract.ENCODER, ranges)
    assert encoder["image"] == {"min": [1, 3, 256, 256], "opt": [1, 3, 1024, 1024], "max": [2, 3, 1344, 1344]}
    assert input_profiles(contract.PROMPT_ENCODER, ranges)["prompt_kinds"]["max"] == [2, 256]
    assert set(input_profiles(contract.ADAPTER_OBJECT, ranges)) == set(contract.ADAPTER_OBJECT.input_names)


@pytest.mark.parametrize(
    ("axis", "values", "message"),
    [
        ("H", {"min": 250, "opt": 1024, "max": 1344}, "multiples of 32"),
        ("N", {"min": 10, "opt": 5, "max": 256}, "need 1 <= min <= opt <= max"),
        ("B", {"min": 0, "opt": 1, "max": 2}, "need 1 <= min <= opt <= max"),
    ],
)
def test_impossible_profiles_are_refused(axis, values, message):
    with pytest.raises(RapSamError, match=message):
        axis_ranges(DEFAULT_PROFILES | {axis: values})


# ---- build options and the machine without TensorRT ------------------------------------


@pytest.fixture
def small_export(tmp_path) -> Path:
    """An export directory with a manifest of fp32 standard graphs (the files are not needed
    before TensorRT parses them)."""
    artifacts = [
        Artifact(
            graph=spec.name,
            file=spec.file_name,
            variant="standard",
            precision="fp32",
            sha256="0" * 64,
            bytes=0,
            opset=19,
            inputs=[],
            outputs=[],
        )
        for spec in contract.GRAPHS
    ]
    manifest = Manifest(
        model={"num_classes": 133},
        image={},
        prompts={},
        vocabulary={},
        profiles=DEFAULT_PROFILES,
        object_queries={},
        artifacts=artifacts,
        validation={},
        tools={},
        created="2026-01-01T00:00:00+00:00",
    )
    export = tmp_path / "export"
    export.mkdir()
    write_manifest(manifest, export)
    return export


@pytest.fixture
def no_tensorrt(monkeypatch):
    """Make ``import tensorrt`` fail, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)


def test_build_options_are_checked_before_any_work(small_export):
    with pytest.raises(RapSamError, match="no standard/fp16 encoder graph"):
        check_build_options(BuildOptions(ExportDir.open(small_export), precision="fp16"))
    with pytest.raises(RapSamError, match="unknown graphs"):
        check_build_options(BuildOptions(ExportDir.open(small_export), precision="fp32", graphs=("neck",)))
    options = BuildOptions(ExportDir.open(small_export), precision="fp32", graphs=("decoder",))
    assert options.engine_dir == small_export / "engines" / "fp32-standard"
    options.engine_dir.mkdir(parents=True)
    (options.engine_dir / "decoder.engine").write_bytes(b"old")  # the old format's: rebuilt without --force
    check_build_options(options)
    (options.engine_dir / "decoder.plan").write_bytes(b"plan")
    with pytest.raises(RapSamError, match="engines exist") as error:
        check_build_options(options)
    assert "--force" in error.value.fix
    check_build_options(dataclasses.replace(options, force=True))


def test_rapsam_build_without_tensorrt_says_what_to_install(small_export, no_tensorrt):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = run(build_cli.main, [str(small_export), "--precision", "fp32", "--profile-batch", "1", "1", "4"])
    assert code == 1
    message = stderr.getvalue()
    assert message.startswith("error: TensorRT is not available here")
    assert "pip install tensorrt-cu12" in message and "TensorRT container" in message
    assert "Traceback" not in message
    assert not (small_export / "engines").exists()


def test_rapsam_build_help_works_without_tensorrt(no_tensorrt):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), pytest.raises(SystemExit) as exit_:
        build_cli.main(["--help"])
    assert exit_.value.code == 0
    assert "--profile-frames" in stdout.getvalue() and "EXPORT_DIR" in stdout.getvalue()


def test_tensorrt_backend_without_tensorrt_says_what_to_install(small_export, no_tensorrt):
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    with pytest.raises(RapSamError, match="TensorRT is not available here") as error:
        TensorRTBackend(ExportDir.open(small_export), precision="fp32")
    assert "pip install tensorrt" in error.value.fix


# ---- progress and parse errors (TensorRT's callbacks and objects, imitated) ---------------


class _Base:
    def __init__(self) -> None:
        pass


def test_progress_monitor_shows_outer_phases_and_cancels_on_ctrl_c():
    lines: list[str] = []
    monitor = progress_monitor(SimpleNamespace(IProgressMonitor=_Base), lines.append)
    monitor.phase_start("Building engine", None, 3)
    monitor.phase_start("Tactic selection", "Building engine", 20)
    monitor.phase_start("Timing layer", "Tactic selection", 5)  # third level: not shown
    for step in range(20):
        assert monitor.step_complete("Tactic selection", step)
    monitor.phase_finish("Timing layer")
    monitor.phase_finish("Tactic selection")
    assert lines[0] == "  Building engine (3 steps)"
    assert lines[1] == "    Tactic selection (20 steps)"
    assert "    Tactic selection: 2/20" in lines and "    Tactic selection: 18/20" in lines
    assert not any("Timing layer" in line for line in lines)
    assert lines[-1].startswith("    Tactic selection: done (")

    def interrupted(line: str) -> None:
        raise KeyboardInterrupt

    cancelling = progress_monitor(SimpleNamespace(IProgressMonitor=_Base), interrupted)
    cancelling.phase_start("Building engine", None, 100)
    assert cancelling.cancelled and not cancelling.step_complete("Building engine", 0)
    assert progress_monitor(SimpleNamespace(), print) is None


def test_parse_errors_name_the_node():
    def error(node: int, name: str, operator: str, desc: str):
        return SimpleNamespace(
            node=lambda: node, node_name=lambda: name, node_operator=lambda: operator, code=lambda: "UNSUPPORTED_NODE",
            desc=lambda: desc,
        )  # fmt: skip

    errors = [error(7, "node_DeformConv_7", "DeformConv", "ModulatedDeformConv2d plugin was not found")]
    parser = SimpleNamespace(num_errors=1, get_error=lambda i: errors[i])
    failure = parse_error(parser, Path("encoder.onnx"))
    assert "TensorRT could not parse encoder.onnx" in str(failure)
    assert "node 7 'node_DeformConv_7' (DeformConv): UNSUPPORTED_NODE: ModulatedDeformConv2d" in str(failure)
    assert "--deform-conv decomposed" in failure.fix
    errors[0] = error(3, "fused_0", contract.FUSED_OP_NAME, "plugin not found")
    assert "librapsam_trt_plugin" in parse_error(parser, Path("decoder.plugin.onnx")).fix


# ---- GPU: engines built and run (pytest -m gpu, with TensorRT) --------------------------


def _tensorrt_and_gpu() -> str | None:
    """Why the engine tests cannot run here, or None."""
    try:
        tensorrt_env.import_tensorrt()
    except RapSamError as err:
        return str(err.what)
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    return None


_SKIP = _tensorrt_and_gpu()
needs_tensorrt = pytest.mark.skipif(_SKIP is not None, reason=f"needs TensorRT and a CUDA GPU: {_SKIP}")
SMALL_PROFILES = {
    "B": {"min": 1, "opt": 1, "max": 2},
    "H": {"min": 64, "opt": 64, "max": 128},
    "W": {"min": 64, "opt": 96, "max": 128},
    "N": {"min": 1, "opt": 10, "max": 100},
    "T": {"min": 1, "opt": 1, "max": 2},
}


@pytest.fixture(scope="module")
def gpu_export(tmp_path_factory) -> Path:
    from rapsam_deploy.export import export_model

    output = tmp_path_factory.mktemp("trt") / "r18"
    export_model(
        output=output,
        image_size=(64, 96),
        variants=("standard", "plugin"),
        precisions=("fp32", "fp16"),
        validate=False,
        log=lambda line: None,
    )
    return output


@pytest.fixture(scope="module")
def engines(gpu_export):
    """``engines(precision, variant)`` builds the export's engines of that form once per module
    (small profiles: fast builds); a build that failed fails every later test that needs it
    with the same error, without building again."""
    built: dict[tuple[str, str], Exception | None] = {}

    def build(precision: str, variant: str) -> None:
        if (precision, variant) not in built:
            if variant == "plugin":
                _plugin_or_skip()
            options = BuildOptions(
                ExportDir.open(gpu_export), precision=precision, variant=variant, profiles=SMALL_PROFILES, force=True
            )
            try:
                engine_build.build_engines(options, log=lambda line: None)
                built[precision, variant] = None
            except Exception as err:  # remembered, so that one failure is reported once per test, not rebuilt
                built[precision, variant] = err
        if built[precision, variant] is not None:
            pytest.fail(
                f"building the {precision} {variant} engines failed: {built[precision, variant]}", pytrace=False
            )

    return build


def _plugin_or_skip() -> None:
    """Skip without the plugin library, or fail where RAPSAM_REQUIRE_PLUGINS=1 says it was built."""
    from rapsam_deploy.plugins import PluginLibraryError, trt_plugin_library_path

    try:
        trt_plugin_library_path()
    except PluginLibraryError as err:
        skip_unless_required("RAPSAM_REQUIRE_PLUGINS", f"the TensorRT plugin is not built: {err.what}")


def _cases(export: Path) -> dict[str, dict[str, np.ndarray]]:
    """Inputs for every graph, chained through ONNX Runtime fp32 as the predictors chain them:
    a real photo, the object queries, and three prompts."""
    from conftest import photo

    from rapsam_deploy.backends.onnxruntime_session import create_session
    from rapsam_deploy.backends.onnxruntime_session import run as ort_run

    image = photo(64, 96).numpy()
    features = ort_run(create_session(export / "encoder.onnx"), {"image": image})["features"]
    queries = np.load(export / contract.OBJECT_QUERIES_FILE)[None]
    n = queries.shape[1]
    decoder = {"features": features, "queries": queries, "attn_mask": np.zeros((n, n), dtype=bool)}
    decoded = ort_run(create_session(export / "decoder.onnx"), decoder)
    boxes = np.array([[[0.1, 0.1, 0.4, 0.5], [0.5, 0.2, 0.9, 0.9], [0.45, 0.45, 0.55, 0.55]]], dtype=np.float32)
    return {
        "encoder": {"image": image},
        "prompt_encoder": {"prompt_boxes": boxes, "prompt_kinds": np.ones((1, 3), dtype=np.int64)},
        "decoder": decoder,
        "adapter_object": {"features": features, "kernels": decoded["kernels"], "mask_logits": decoded["mask_logits"]},
        "adapter_prompt": {"features": features, "kernels": decoded["kernels"][:, :3]},
    }


def _reference(export: Path, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from rapsam_deploy.backends.onnxruntime_session import create_session
    from rapsam_deploy.backends.onnxruntime_session import run as ort_run

    return ort_run(create_session(export / f"{graph}.onnx"), inputs)


# Engines against ONNX Runtime, and plugin against standard engines: float noise flips a few
# hard-mask pixels and moves what follows them (rapsam_deploy.parity), so masks are compared as
# masks and other outputs by their error relative to the output's scale. fp16 bounds are the
# export's fp16 limits.
MASK_SIGN = {"fp32": 0.999, "fp16": 0.98}
MASK_IOU_MEAN = {"fp32": 0.99, "fp16": 0.95}
SCALED_ERROR = {"fp32": 1e-2, "fp16": 0.25}


def _assert_close(ours: dict[str, torch.Tensor], reference: dict[str, np.ndarray], precision: str, what: str) -> None:
    for name, expected in reference.items():
        got = ours[name]
        assert tuple(got.shape) == expected.shape, f"{what} {name}"
        error = scaled_error(got, expected)
        assert error <= SCALED_ERROR[precision], f"{what} {name}: error {error:.2e} of its scale"
        if name.startswith("mask_logits"):
            masks = mask_agreement(got, expected)
            assert masks.sign >= MASK_SIGN[precision] and masks.iou_mean >= MASK_IOU_MEAN[precision], f"{what}: {masks}"


def _on_gpu(inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v).cuda() for k, v in inputs.items()}


@pytest.mark.gpu
@needs_tensorrt
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_engines_match_onnx_runtime(gpu_export, engines, precision):
    """fp32 engines within the export's fp32 limits of ONNX Runtime fp32 (TF32 off); fp16 engines
    within its fp16 limits."""
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    engines(precision, "standard")
    backend = TensorRTBackend(ExportDir.open(gpu_export), precision=precision)
    for graph, inputs in _cases(gpu_export).items():
        outputs = backend.run(graph, _on_gpu(inputs))
        assert all(t.device.type == "cuda" and t.dtype == torch.float32 for t in outputs.values())
        _assert_close(outputs, _reference(gpu_export, graph, inputs), precision, f"{precision} {graph}")


@pytest.mark.gpu
@needs_tensorrt
def test_plugin_engines_match_standard_engines(gpu_export, engines):
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    engines("fp32", "standard")
    engines("fp32", "plugin")
    standard = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32", variant="standard")
    plugin = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32", variant="plugin")
    sidecar = read_sidecar(gpu_export / "engines" / "fp32-plugin" / "decoder.plan")
    assert sidecar.plugin_sha256 is not None and sidecar.variant == "plugin"
    for graph in ("decoder", "adapter_object"):
        inputs = _on_gpu(_cases(gpu_export)[graph])
        reference = {k: v.cpu().numpy() for k, v in standard.run(graph, inputs).items()}
        _assert_close(plugin.run(graph, inputs), reference, "fp32", f"plugin {graph}")


@pytest.mark.gpu
@needs_tensorrt
def test_cuda_graphs_give_the_same_outputs_and_recapture_on_new_shapes(gpu_export, engines):
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    engines("fp32", "standard")
    eager = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32")
    graphs = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32", cuda_graphs=True)
    small = _on_gpu(_cases(gpu_export)["adapter_prompt"])
    large = {k: torch.cat([v, v.flip(-1)]) for k, v in small.items()}  # batch 2: a new shape
    for inputs in (small, small, large, small):
        ours, expected = graphs.run("adapter_prompt", inputs), eager.run("adapter_prompt", inputs)
        for name in expected:
            torch.testing.assert_close(ours[name], expected[name], rtol=1e-5, atol=1e-5)
    # Results stay valid after later calls: they are copies of the graph's static outputs.
    kept = {name: tensor.clone() for name, tensor in ours.items()}
    graphs.run("adapter_prompt", {k: v + 1 for k, v in small.items()})
    assert all(torch.equal(ours[name], kept[name]) for name in kept)


@pytest.mark.gpu
@needs_tensorrt
def test_engine_from_another_tensorrt_is_refused_with_the_rebuild_command(gpu_export, engines, tmp_path):
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    engines("fp32", "standard")
    engines = tmp_path / "engines"
    shutil.copytree(gpu_export / "engines" / "fp32-standard", engines)
    path = engines / "adapter_prompt.plan"
    sidecar, plan = read_engine(
        path, TensorRTBackend(ExportDir.open(gpu_export), "fp32", engine_dir=engines)._expect["adapter_prompt"]
    )
    write_engine(path, dataclasses.replace(sidecar, tensorrt="10.0.0.6"), plan)
    with pytest.raises(EngineFileError, match=r"built with TensorRT 10\.0\.0\.6 but this is TensorRT") as error:
        TensorRTBackend(ExportDir.open(gpu_export), precision="fp32", engine_dir=engines)
    assert "rapsam-build" in error.value.fix and "--graphs adapter_prompt" in error.value.fix


@pytest.mark.gpu
@needs_tensorrt
def test_plans_without_sidecar_run_unchecked_or_are_refused_by_tensorrt(gpu_export, engines, tmp_path):
    """A plan without its sidecar (as trtexec leaves it) runs as the one with it, after a warning;
    a plan TensorRT cannot read is refused with the rebuild command."""
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    engines("fp32", "standard")
    engines = tmp_path / "engines"
    shutil.copytree(gpu_export / "engines" / "fp32-standard", engines)
    path = engines / "adapter_prompt.plan"
    sidecar_path(path).unlink()
    with pytest.warns(UncheckedEngineWarning, match="adapter_prompt.plan has no sidecar"):
        unchecked = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32", engine_dir=engines)
    checked = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32")
    inputs = _on_gpu(_cases(gpu_export)["adapter_prompt"])
    ours, expected = unchecked.run("adapter_prompt", inputs), checked.run("adapter_prompt", inputs)
    for name in expected:
        torch.testing.assert_close(ours[name], expected[name], rtol=1e-5, atol=1e-5)

    path.write_bytes(b"not a plan" * 100)
    with pytest.warns(UncheckedEngineWarning):
        refused = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32", engine_dir=engines)
    with pytest.raises(EngineFileError, match=r"TensorRT refused .*, a plan without a sidecar") as error:
        refused.run("adapter_prompt", inputs)
    assert "--graphs adapter_prompt" in error.value.fix


@pytest.mark.gpu
@needs_tensorrt
def test_shapes_outside_the_profile_are_explained(gpu_export, engines):
    from rapsam_deploy.backends.tensorrt_backend import TensorRTBackend

    engines("fp32", "standard")
    backend = TensorRTBackend(ExportDir.open(gpu_export), precision="fp32")
    with pytest.raises(RapSamError, match="outside the engine's profile"):
        backend.run("encoder", {"image": torch.zeros(1, 3, 256, 256, device="cuda")})
