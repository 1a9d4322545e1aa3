"""rapsam-eval end to end on tiny datasets with the r18 export (random weights): ONNX Runtime
compared with PyTorch on the same inputs. The metrics are near zero, but the two backends must
agree and the report must say so."""

from __future__ import annotations

import json

import pytest
from test_eval_data import COCO_VIDEO_CATEGORIES, write_coco_panoptic, write_youtube_vis

from rapsam_deploy.cli import eval as eval_cli
from rapsam_deploy.cli.common import run as run_cli
from rapsam_deploy.eval.report import write_report
from rapsam_deploy.eval.runner import EvalConfig, run_eval
from rapsam_deploy.predict.preprocess import ResizePolicy
from rapsam_deploy.predict.runtime import load


@pytest.fixture(scope="module")
def runtimes(exported_r18):
    return [load(exported_r18[0], "onnxruntime"), load(exported_r18[0], "torch")]


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    write_coco_panoptic(root)
    return root


def test_cli_prompt_onnxruntime_against_torch(exported_r18, coco, tmp_path, capsys):
    argv = ["--task", "prompt", "--data", str(coco), "--export-dir", str(exported_r18[0]), "--backend", "onnxruntime",
            "--compare-to", "torch", "--resize", "long:128", "--out", str(tmp_path)]  # fmt: skip
    assert run_cli(eval_cli.main, argv) == 0
    printed = capsys.readouterr()
    assert "onnxruntime fp32 and torch fp32 agree" in printed.out and "prompt eval" in printed.err  # the progress bar
    report = json.loads((tmp_path / "report.json").read_text())
    ours, reference = (b["metrics"] for b in report["backends"])
    assert ours["objects"] == reference["objects"] > 0
    assert 0 < ours["miou"] < 100 and abs(ours["miou"] - reference["miou"]) <= 0.1
    assert report["comparison"]["agree"] and report["comparison"]["agreement"]["mask_iou"]["min"] > 0.99
    assert report["protocol"]["prompt"] == "center" and report["category_map"]["method"] == "names"
    markdown = (tmp_path / "report.md").read_text()
    assert "**onnxruntime (cpu, fp32, standard) agrees with torch (cpu, fp32, standard)**" in markdown
    assert "| mIoU |" in markdown and "Weights are random" in markdown


def test_panoptic_and_video_agree_between_backends(exported_r18, runtimes, coco, tmp_path):
    panoptic = run_eval(
        EvalConfig("panoptic", coco, exported_r18[0], resize=ResizePolicy(long_side=128), progress=False),
        lambda line: None,
        runtimes,
    )
    assert panoptic["comparison"]["agree"] and panoptic["data"]["evaluated"] == 3
    assert panoptic["comparison"]["agreement"]["pixels"]["min"] > 0.99
    assert {"pq", "pq_things", "pq_stuff"} <= panoptic["comparison"]["differences"].keys()
    # COCO's things as the video categories: the random model's classes have ground-truth names.
    write_youtube_vis(tmp_path, categories=COCO_VIDEO_CATEGORIES)
    video = run_eval(
        EvalConfig("video", tmp_path, exported_r18[0], resize=ResizePolicy(long_side=96), limit=1, progress=False),
        lambda line: None,
        runtimes,
    )
    assert video["comparison"]["agree"] and video["data"] == video["data"] | {"evaluated": 1, "total": 2}
    assert video["samples"][0]["tracks"][0] > 0 and video["comparison"]["agreement"]["tracks"]["min"] > 0.9
    assert video["category_map"] == {"method": "names", "mapped": 80, "unpredictable": []}
    paths = write_report(video, tmp_path / "out")
    assert "## Per-video agreement" in paths[1].read_text()


def test_single_backend_report_has_no_comparison(exported_r18, runtimes, coco, tmp_path):
    report = run_eval(
        EvalConfig("panoptic", coco, exported_r18[0], resize=ResizePolicy(long_side=128), limit=1, progress=False),
        lambda line: None,
        runtimes[:1],
    )
    assert "comparison" not in report and len(report["backends"]) == 1
    markdown = write_report(report, tmp_path)[1].read_text()
    assert "| PQ |" in markdown and "agrees" not in markdown


def test_cli_bad_input_is_one_clear_error(exported_r18, coco, tmp_path, capsys):
    base = ["--export-dir", str(exported_r18[0]), "--out", str(tmp_path)]
    assert run_cli(eval_cli.main, ["--task", "video", "--data", str(coco), *base]) == 1
    assert "no youtube_vis" in capsys.readouterr().err
    assert run_cli(eval_cli.main, ["--task", "panoptic", "--data", str(coco), "--limit", "0", *base]) == 1
    assert "--limit 0" in capsys.readouterr().err
    (coco / "val2017" / "coffee.jpg").rename(tmp_path / "coffee.jpg")
    try:
        assert run_cli(eval_cli.main, ["--task", "panoptic", "--data", str(coco), *base]) == 1
        assert "coffee.jpg does not exist" in capsys.readouterr().err
    finally:
        (tmp_path / "coffee.jpg").rename(coco / "val2017" / "coffee.jpg")
