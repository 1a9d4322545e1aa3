"""rapsam-bench on a tiny configuration: outputs, consistent figures, backends not run."""

from __future__ import annotations

import copy
import json
import statistics

import pytest
from conftest import EXPORT_SIZE

from rapsam_deploy.bench.report import markdown, targets, write_report
from rapsam_deploy.bench.runner import BenchConfig, run_bench
from rapsam_deploy.cli import bench as bench_cli
from rapsam_deploy.cli.common import run as run_cli


@pytest.fixture(scope="module")
def report(exported_r18, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(
        backends=("torch", "onnxruntime", "tensorrt"),
        image_size=EXPORT_SIZE,
        warmup=1,
        iters=2,
        min_time_s=0.0,
        export_dirs={"r18": exported_r18[0]},
        out=out,
        num_prompts=3,
        video_frames=2,
    )
    result = run_bench(config, log=lambda line: None)
    return result, write_report(result, out)


def test_writes_json_markdown_and_charts(report):
    _, paths = report
    assert [p.name for p in paths] == ["report.json", "report.md", "latency_by_stage.png", "fps_vs_gflops.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert json.loads(paths[0].read_text())["machine"]["cpu"]
    markdown = paths[1].read_text()
    assert "## Targets" in markdown and "A100" in markdown and "random weights" in markdown


def test_figures_are_positive_and_consistent(report):
    result, _ = report
    done = [r for r in result["results"] if r["status"] == "ok"]
    assert {(r["backend"], r["task"]) for r in done} == {
        (b, t) for b in ("torch", "onnxruntime") for t in ("panoptic", "prompt", "video")
    }
    for row in done:
        latency = row["latency"]
        assert 0 < latency["min_ms"] <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
        assert row["fps"] > 0 and row["gflops"] > 0 and 0 < row["fraction_of_peak"] < 1
        assert row["peak_rss_mib"] > 0
        assert 0 < sum(row["stages_ms"].values()) <= latency["mean_ms"] * 1.02, row["stages_ms"]
        assert {"pre", "post"} <= row["stages_ms"].keys()
    parity = {(r["backend"], r["task"]): r["parity"] for r in done}
    assert parity[("torch", "panoptic")]["mask_logits_max_abs"] == 0.0
    assert parity[("onnxruntime", "panoptic")]["mask_sign_agreement"] > 0.99
    assert result["models"]["r18"]["params"]["total"] == 20827445


def test_peak_is_the_best_probe_before_and_after(report):
    peaks = report[0]["peaks"]
    assert peaks["cpu_fp32_gflops"] == max(peaks["cpu_probes"].values()) > 0
    assert {"torch_matmul", "onnxruntime_matmul"} == peaks["cpu_probes"].keys()


def test_outside_figures_are_shown_beside_ours_and_never_judged(report):
    """The paper's and the official code's figures (not measured by the run) appear labelled;
    every target is a ratio of this run's own figures."""
    result = copy.deepcopy(report[0])
    result["config"]["image_size"] = [1024, 1024]
    text = markdown(result)
    outside = text[text.index("Figures from outside this run") :]
    assert "not measured here; no verdict is drawn from them" in outside
    assert "1.56 s and 1.62 s" in outside and "40.3 FPS" in outside and "one A100" in outside
    rows = targets(result)
    assert len(rows) == 3 and rows[0]["target"] == "ONNX Runtime CPU FPS / torch eager FPS"
    assert rows[1]["target"].startswith("achieved GFLOP/s of the best CPU backend")
    assert rows[2]["target"].startswith("panoptic post-processing on the CPU")
    panoptic = [r for r in result["results"] if r["status"] == "ok" and r["task"] == "panoptic"]
    fps = {r["backend"]: r["fps"] for r in panoptic}
    assert rows[0]["measured"] == round(fps["onnxruntime"] / fps["torch"], 2)
    assert rows[2]["measured"] == round(statistics.median(r["stages_ms"]["post"] for r in panoptic))
    assert "Post-processing of CPU tensors:" in text


def test_unavailable_backend_is_listed_with_its_reason(report):
    result, _ = report
    rows = [r for r in result["results"] if r["backend"] == "tensorrt"]
    assert len(rows) == 3 and all(r["status"] == "not run" and r["reason"] for r in rows)


def test_cli_rejects_bad_options(capsys):
    assert run_cli(bench_cli.main, ["--backbone", "r101"]) == 1
    assert "unknown backbone" in capsys.readouterr().err
    assert run_cli(bench_cli.main, ["--image-size", "100", "128"]) == 1
