"""rapsam-export --polygraphy-data: the validation inputs and PyTorch's outputs as polygraphy files,
checked with polygraphy's own CLI (`polygraphy run --onnxrt`) for every graph and precision with
the recommended options, and shown to fail for a damaged graph and a damaged reference. One export
(r18, fp32 and fp16, small size, --no-validate so that the files' own reference path is used)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from conftest import EXPORT_SIZE

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.manifest import read_manifest
from rapsam_deploy.cli import export as export_cli
from rapsam_deploy.cli.common import run as run_cli
from rapsam_deploy.errors import RapSamError
from rapsam_deploy.export import export_model
from rapsam_deploy.export.polygraphy_data import CHECK_ARGS, POLYGRAPHY_DIR, RUNNER_NAME

needs_polygraphy = pytest.mark.skipif(
    importlib.util.find_spec("polygraphy") is None,
    reason="polygraphy is not installed (pip install polygraphy; the dev extras include it)",
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict]:
    """The export directory and its manifest's ``validation.polygraphy`` record."""
    output = tmp_path_factory.mktemp("polygraphy") / "r18"
    size = [str(s) for s in EXPORT_SIZE]
    argv = ["--image-size", *size, "--precision", "both", "--no-validate", "--polygraphy-data", "--output", str(output)]
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_cli(export_cli.main, argv) == 0
    return output, read_manifest(output).validation["polygraphy"]


def _polygraphy_cli() -> str:
    """The ``polygraphy`` script of this Python (polygraphy has no ``python -m`` entry point)."""
    script = Path(sys.executable).parent / "polygraphy"
    found = str(script) if script.is_file() else shutil.which("polygraphy")
    if found is None:
        pytest.skip("polygraphy is importable but its `polygraphy` script is not on PATH")
    return found


def _polygraphy_run(
    directory: Path, graph: str, graph_file: Path, precision: str = "fp32", reference: Path | None = None
) -> subprocess.CompletedProcess:
    """`polygraphy run graph_file --onnxrt` on the export's files of ``graph`` (or another
    ``reference``) with the recommended options of ``precision``; stdout and stderr together."""
    record = json.loads((directory / "manifest.json").read_text())["validation"]["polygraphy"][graph]
    command = [
        _polygraphy_cli(),
        "run",
        str(graph_file),
        "--onnxrt",
        "--load-inputs",
        str(directory / record["inputs"]),
        "--load-outputs",
        str(reference or directory / record["reference"]),
        *shlex.split(CHECK_ARGS[graph][precision]),
    ]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


def _failed_outputs(log: str) -> set[str]:
    return set(re.findall(r"FAILED \| Output: '(\w+)'", log))


@needs_polygraphy
def test_manifest_records_the_files_per_graph(exported):
    from polygraphy.comparator import RunResults
    from polygraphy.json import load_json

    directory, record = exported
    manifest = read_manifest(directory)
    assert manifest.validation["ran"] is False and record["runner"] == RUNNER_NAME
    names = [f"{graph}.{kind}.json" for graph in contract.GRAPH_NAMES for kind in ("inputs", "reference")]
    assert sorted(p.name for p in (directory / POLYGRAPHY_DIR).iterdir()) == sorted(names)
    for spec in contract.GRAPHS:
        entry = record[spec.name]
        feeds = load_json(str(directory / entry["inputs"]))
        results = RunResults.load(str(directory / entry["reference"]))
        assert list(results.keys()) == [RUNNER_NAME]
        assert len(feeds) == len(results[RUNNER_NAME]) == len(entry["iterations"]) >= 2
        for feed, outputs in zip(feeds, results[RUNNER_NAME], strict=True):
            assert list(feed) == spec.input_names and list(outputs) == spec.output_names
            assert [str(feed[t.name].dtype) for t in spec.inputs] == [t.dtype for t in spec.inputs]
        assert entry["check_args"] == CHECK_ARGS[spec.name]


@needs_polygraphy
def test_trt_shapes_cover_every_iteration(exported):
    from polygraphy.json import load_json

    directory, record = exported
    for graph in contract.GRAPH_NAMES:
        profile = {
            bound: {name: [int(d) for d in dims.split(",")] for name, dims in re.findall(r"(\w+):\[([\d,]+)\]", shapes)}
            for bound, shapes in re.findall(r"--trt-(min|opt|max)-shapes ([^-]+)", record[graph]["trt_shapes"])
        }
        feeds = load_json(str(directory / record[graph]["inputs"]))
        for name in contract.graph(graph).input_names:
            shapes = np.array([feed[name].shape for feed in feeds])
            assert profile["min"][name] == shapes.min(axis=0).tolist()
            assert profile["max"][name] == shapes.max(axis=0).tolist()
            assert profile["opt"][name] == list(feeds[0][name].shape)


@needs_polygraphy
@pytest.mark.parametrize(
    "graph,precision", [(graph, precision) for graph, checks in CHECK_ARGS.items() for precision in checks]
)
def test_polygraphy_onnxrt_matches_pytorch(exported, graph, precision):
    directory, record = exported
    graph_file = directory / read_manifest(directory).artifact(graph, precision=precision).file
    result = _polygraphy_run(directory, graph, graph_file, precision)
    iterations = len(record[graph]["iterations"])
    assert result.returncode == 0, result.stdout[-4000:]
    assert f"vs. {RUNNER_NAME}" in result.stdout
    assert f"Passed: {iterations}/{iterations} iterations" in result.stdout


@needs_polygraphy
def test_a_damaged_graph_fails(exported, tmp_path):
    """One weight of the prompt encoder scaled by 1.01: polygraphy reports the mismatch."""
    directory, _ = exported
    model = onnx.load(directory / "prompt_encoder.onnx")
    weight = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    array = onnx.numpy_helper.to_array(weight)
    weight.CopyFrom(onnx.numpy_helper.from_array(array * np.float32(1.01), weight.name))
    onnx.save(model, tmp_path / "prompt_encoder.onnx")
    result = _polygraphy_run(directory, "prompt_encoder", tmp_path / "prompt_encoder.onnx")
    assert result.returncode != 0 and _failed_outputs(result.stdout) == {"queries"}


@needs_polygraphy
def test_a_damaged_reference_fails(exported, tmp_path):
    """The adapter's iou of the second iteration moved by 1e-3: that output fails, the others pass."""
    from polygraphy.comparator import RunResults

    directory, record = exported
    results = RunResults.load(str(directory / record["adapter_prompt"]["reference"]))
    second = results[RUNNER_NAME][1]
    second["iou"] = np.asarray(second["iou"]) + np.float32(1e-3)
    results.save(str(tmp_path / "reference.json"))
    damaged = tmp_path / "reference.json"
    result = _polygraphy_run(directory, "adapter_prompt", directory / "adapter_prompt.onnx", reference=damaged)
    assert result.returncode != 0 and _failed_outputs(result.stdout) == {"iou"}
    assert "Passed: 1/2 iterations" in result.stdout


def test_missing_polygraphy_is_one_clear_error_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "polygraphy.comparator", None)  # makes its import fail
    with pytest.raises(RapSamError, match="pip install polygraphy") as err:
        export_model(output=tmp_path / "out", image_size=(64, 64), polygraphy=True, log=lambda _: None)
    assert err.value.fix and list(tmp_path.iterdir()) == []
