"""Serving with Triton: generated repositories (every config.pbtxt parses as Triton's
ModelConfig, for the three graph forms), and a real Triton server on loopback (the
nvidia-pytriton wheel's, Python-backend graph form): results equal to the in-process runtime,
prompts by image id, many clients, overload refused cleanly, a model that fails to load, a clean
stop. Without the wheel the server tests skip, unless RAPSAM_REQUIRE_TRITON=1 (CI) says it is
installed."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EXPORT_SIZE, photo_rgb, skip_unless_required, taken_port
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.cli import infer as infer_cli
from rapsam_deploy.cli import serve as serve_cli
from rapsam_deploy.cli.common import run as run_cli
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.serve import names
from rapsam_deploy.serve.repository import RepositoryOptions, write_repository
from rapsam_deploy.serve.triton_config import GRAPH_FORMS, ServingOptions

PREFIX = names.DEFAULT_PREFIX
MODELS = sorted([*(PREFIX + g for g in contract.GRAPH_NAMES), *(PREFIX + r for r in (
    names.PREPROCESS, names.POSTPROCESS_PANOPTIC, names.PANOPTIC, names.PROMPT))])  # fmt: skip


def _configs(repository: Path) -> dict[str, model_config_pb2.ModelConfig]:
    configs = {}
    for path in sorted(repository.glob("*/config.pbtxt")):
        configs[path.parent.name] = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    return configs


def _fake_plans(export: ExportDir) -> None:
    """Plans where rapsam-build puts them, with sidecars naming the export's graphs (Triton is
    not here to build real ones; the repository only copies them)."""
    from rapsam_deploy.engines.engine_file import EngineSidecar, default_engine_dir, engine_path, write_engine

    for graph in contract.GRAPH_NAMES:
        artifact = export.manifest.artifact(graph)
        sidecar = EngineSidecar(tensorrt="10.13.0", gpu_name="NVIDIA H200", compute_capability="sm_90",
                                precision="fp32", variant="standard", graph=graph, onnx_file=artifact.file,
                                onnx_sha256=artifact.sha256, plugin_sha256=None, profile={}, rapsam_deploy="0.1.0",
                                created="2026-12-04T00:00:00+00:00")  # fmt: skip
        write_engine(engine_path(default_engine_dir(export.path, "fp32", "standard"), graph), sidecar, b"plan")


@pytest.fixture(scope="module")
def export_copy(exported_r18, tmp_path_factory) -> ExportDir:
    """A copy of the test export (engines get written into it)."""
    directory = tmp_path_factory.mktemp("serve") / "r18"
    shutil.copytree(exported_r18[0], directory)
    return ExportDir.open(directory)


@pytest.mark.parametrize("form", GRAPH_FORMS)
def test_every_config_parses_as_triton_model_config(export_copy, tmp_path, form):
    if form == "tensorrt":
        _fake_plans(export_copy)
    models = write_repository(export_copy, RepositoryOptions(tmp_path / "repo", graphs=form, threads=1))
    configs = _configs(tmp_path / "repo")
    assert models == MODELS and sorted(configs) == MODELS
    for name, config in configs.items():
        assert config.name == name
        assert (tmp_path / "repo" / name / "1").is_dir()
        if name != PREFIX + names.PANOPTIC:
            policy = config.dynamic_batching.default_queue_policy
            assert policy.max_queue_size == 16 and policy.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT
    platform = {"python": "", "onnxruntime": "onnxruntime_onnx", "tensorrt": "tensorrt_plan"}[form]
    model_file = {"python": "model.onnx", "onnxruntime": "model.onnx", "tensorrt": "model.plan"}[form]
    for spec in contract.GRAPHS:
        config = configs[PREFIX + spec.name]
        assert config.platform == platform and (config.backend == "python") == (form == "python")
        assert (tmp_path / "repo" / config.name / "1" / model_file).is_file()
        batched = spec.name != contract.DECODER.name  # the decoder's attn_mask [N,N] has no batch axis
        assert config.max_batch_size == (4 if batched else 0)
        assert [i.name for i in config.input] == spec.input_names
        assert [len(i.dims) + batched for i in config.input] == [len(t.shape) for t in spec.inputs]
    ensemble = configs[PREFIX + names.PANOPTIC]
    steps = [s.model_name for s in ensemble.ensemble_scheduling.step]
    assert ensemble.platform == "ensemble" and all(step in configs for step in steps)
    described = json.loads((tmp_path / "repo" / "rapsam_serve.json").read_text())
    assert described["graphs"] == form and described["export"] == str(export_copy.path.resolve())


def test_bad_repository_options_write_nothing(export_copy, tmp_path):
    cases = [
        (RepositoryOptions(tmp_path / "a", graphs="openvino"), "--graphs 'openvino' is unknown"),
        (RepositoryOptions(tmp_path / "b", serving=ServingOptions(instances=0)), "--instances 0"),
        (RepositoryOptions(tmp_path / "c", graphs="tensorrt", variant="plugin"), "no TensorRT engine for encoder"),
        (RepositoryOptions(tmp_path / "d", prefix="bad prefix!"), "--name-prefix"),
    ]
    for options, message in cases:
        with pytest.raises(RapSamError, match=message):
            write_repository(export_copy, options)
    assert list(tmp_path.iterdir()) == []


# ---- a real Triton server ----------------------------------------------------------------


def _server_or_skip() -> None:
    from rapsam_deploy.serve.server import find_server

    try:
        find_server()
    except RapSamError as err:
        skip_unless_required("RAPSAM_REQUIRE_TRITON", f"no Triton server here: {err.what}")


@pytest.fixture(scope="module")
def repository(exported_r18, tmp_path_factory) -> Path:
    """The Python-backend form, one ONNX Runtime thread per graph (as the in-process runtime
    below), short queues so that overload is reachable."""
    output = tmp_path_factory.mktemp("repo") / "repo"
    options = RepositoryOptions(output, threads=1, serving=ServingOptions(queue_size=2, timeout_ms=60_000))
    write_repository(ExportDir.open(exported_r18[0]), options)
    return output


@pytest.fixture(scope="module")
def server(repository):
    from rapsam_deploy.serve.server import ServerOptions, TritonServer

    _server_or_skip()
    with TritonServer(ServerOptions(repository, ready_timeout_s=180)) as running:
        yield running
    assert _processes_of(running.process.pid) == [], "the server left processes behind"


def _processes_of(session: int) -> list[int]:
    """Processes of the process session ``session`` still alive."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session and fields[0] != "Z":
                alive.append(int(stat.parent.name))
    return alive


@pytest.fixture(scope="module")
def local(exported_r18):
    from rapsam_deploy.predict.runtime import load

    return load(exported_r18[0], "onnxruntime", threads=1)


@pytest.fixture(scope="module")
def image_file() -> bytes:
    ok, encoded = cv2.imencode(".png", photo_rgb(*EXPORT_SIZE)[..., ::-1])
    assert ok
    return encoded.tobytes()


def _client(server):
    from rapsam_deploy.serve.client import TritonClient

    return TritonClient(server.grpc_url, timeout_s=60)


def test_served_panoptic_equals_the_in_process_runtime(server, local, image_file):
    from rapsam_deploy.predict.panoptic import PanopticPredictor
    from rapsam_deploy.predict.preprocess import ResizePolicy, load_image
    from rapsam_deploy.predict.results import panoptic_json

    id_map, result = _client(server).panoptic(image_file, score_thr=0.1)
    (found,) = PanopticPredictor(local, ResizePolicy(), score_thr=0.1).predict(load_image(image_file))
    np.testing.assert_array_equal(id_map, found.panoptic.id_map)
    assert result == json.loads(json.dumps(panoptic_json(found, local.vocabulary.classes)))
    assert result["instances"], "scores above 0.1 exist with these weights: the comparison is not empty"


def test_served_prompts_equal_the_in_process_runtime_and_reuse_the_image(server, local, image_file):
    from rapsam_deploy.predict.preprocess import load_image
    from rapsam_deploy.predict.prompt import PromptPredictor
    from rapsam_deploy.serve.client import ImageNotCached

    client = _client(server)
    points, boxes = [[60.0, 40.0], [100.0, 90.0]], [[20.0, 10.0, 120.0, 100.0]]
    served = client.prompt(points, boxes, image=image_file, image_id="photo")
    predictor = PromptPredictor(local)
    predictor.set_image(load_image(image_file))
    expected = predictor.predict(points, boxes)
    np.testing.assert_array_equal(served.masks, expected.masks)
    np.testing.assert_array_equal(served.prompts, expected.prompts)
    np.testing.assert_allclose(served.iou, expected.iou, rtol=0, atol=0)
    again = client.prompt(points, boxes, image_id="photo")  # the encoder does not run again
    np.testing.assert_array_equal(again.masks, expected.masks)
    with pytest.raises(ImageNotCached, match="not in the server's cache"):
        client.prompt(points, image_id="never sent")
    with pytest.raises(RapSamError, match="outside the"):
        client.prompt([[5000.0, 1.0]], image_id="photo")


def test_many_clients_and_overload_are_answered_cleanly(server, image_file):
    """Two clients fit (queue 2 per model); 12 at once overflow the queues: every request ends,
    refused ones as UNAVAILABLE, none hangs or crashes the server."""
    outcomes, lock = [], threading.Lock()

    def client_loop(count: int) -> None:
        client = _client(server)
        for _ in range(count):
            try:
                client.click([[50.0, 50.0]], image=image_file, image_id="photo")
                status = "ok"
            except RapSamError as err:
                status = err.__cause__.status() if hasattr(err.__cause__, "status") else str(err)
            with lock:
                outcomes.append(status)

    for clients, count in ((2, 3), (12, 3)):
        outcomes.clear()
        workers = [threading.Thread(target=client_loop, args=(count,)) for _ in range(clients)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert not any(worker.is_alive() for worker in workers) and len(outcomes) == clients * count
        if clients == 2:
            assert set(outcomes) == {"ok"}, outcomes
        else:
            assert "ok" in outcomes and set(outcomes) <= {"ok", "StatusCode.UNAVAILABLE"}, outcomes
    assert server.ready(), "the server still serves after the overload"


def test_rapsam_infer_with_a_server_writes_what_a_local_run_writes(server, exported_r18, image_file, tmp_path):
    image = tmp_path / "photo.png"
    image.write_bytes(image_file)
    common = ["--resize", "coco"]
    for extra in ([], ["--points", "60,40", "--boxes", "20,10,120,100"]):
        local_out, served_out = tmp_path / f"local{len(extra)}", tmp_path / f"served{len(extra)}"
        local_args = [str(image), "--export-dir", str(exported_r18[0]), "--backend", "onnxruntime", "--threads", "1"]
        assert run_cli(infer_cli.main, [*local_args, *common, *extra, "--output", str(local_out)]) == 0
        served_args = [str(image), "--server", server.grpc_url, *extra, "--output", str(served_out)]
        assert run_cli(infer_cli.main, served_args) == 0
        written = sorted(p.name for p in local_out.iterdir())
        assert written == sorted(p.name for p in served_out.iterdir()) and written
        for name in written:
            assert (local_out / name).read_bytes() == (served_out / name).read_bytes(), name


def test_load_report_counts_requests_per_concurrency(server, exported_r18, tmp_path):
    from rapsam_deploy.serve.load import LoadConfig, load_test

    config = LoadConfig(server.grpc_url, concurrency=(1, 2), duration_s=1.0, export_dir=exported_r18[0], threads=1)
    report = load_test(config, log=lambda line: None)
    rows = {(r["task"], r["mode"], r["concurrency"]): r for r in report["rows"]}
    assert set(rows) == {(t, m, c) for t in ("panoptic", "prompt") for m, c in
                         (("in-process", 1), ("served", 1), ("served", 2))}  # fmt: skip
    for row in rows.values():
        assert row["requests"] == row["succeeded"] + row["failed"] and row["succeeded"] > 0
        assert row["throughput_per_s"] > 0 and row["p50_ms"] <= row["p99_ms"]


def test_a_model_that_fails_to_load_stops_the_start_with_its_error(repository, tmp_path):
    _server_or_skip()
    broken = tmp_path / "broken"
    shutil.copytree(repository, broken)
    (broken / f"{PREFIX}decoder" / "1" / "model.onnx").write_bytes(b"not an onnx file")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = run_cli(serve_cli.main, ["start", str(broken), "--ready-timeout", "120"])
    assert code == 1
    message = stderr.getvalue()
    assert "the Triton server stopped while starting" in message and f"{PREFIX}decoder" in message
    assert "Traceback" not in message


def test_start_refuses_a_missing_repository_and_a_port_in_use(repository, tmp_path):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        assert run_cli(serve_cli.main, ["start", str(tmp_path / "none")]) == 1
    assert "does not exist" in stderr.getvalue()
    _server_or_skip()
    with taken_port("0.0.0.0") as port:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            assert run_cli(serve_cli.main, ["start", str(repository), "--grpc-port", str(port)]) == 1
    assert f"--grpc-port {port} is in use" in stderr.getvalue()
