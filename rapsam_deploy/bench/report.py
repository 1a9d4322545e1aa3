"""``report.json``, ``report.md`` and PNG charts of a benchmark run.

Targets are verdicts drawn only from figures this run measured (ratios within the run). Figures
from outside it (the paper's Table 3, a one-off measurement of the official code,
``shared/REFERENCE-FIGURES.md``) are shown beside ours, labelled, and never turned into a verdict.
"""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path

from ..artifacts import contract
from ..artifacts.files import write_atomic
from ..errors import RapSamError
from ..machine import cpu_label

TARGETS = {"onnxruntime_vs_torch": 1.5, "fraction_of_peak": 0.4, "post_ms": 150.0}
POSTPROCESS_KERNELS = {
    "native": "native (librapsam's fused loops, one pass per query over bands of rows, every thread)",
    "torch": "torch (librapsam's kernel not built or not chosen: `bash .ci/build_plugins.sh` builds it, several "
    "times faster)",
}
# The post-processing target is set at this input size (the r18 at 1024x1024).
POST_TARGET_SIZE = [1024, 1024]
# The paper's Table 3 (RAP-SAM on COCO; FPS on one A100; FLOPs "with 1333x800 inputs"; precision,
# batch and post-processing not stated).
PAPER_TABLE3 = {
    "r18": {"params_m": 22.8, "gflops": 60.5, "fps": 40.3},
    "r50": {"params_m": 47.2, "gflops": 123.0, "fps": 35.1},
}
# The official research code measured once on this project's 2-core CPU machines (2026-12-01,
# Intel Xeon with AVX-512 and AMX, torch 2.14.1, 2 threads): r18 at 1024x1024, the panoptic model
# forward only (no pre- or post-processing), random weights, median of 5, in two runs.
OFFICIAL_CODE_CPU_S = {"r18": (1.56, 1.62)}
OFFICIAL_CODE_NOTE = (
    "one-off measurement of the official code (github xushilin1/RAP-SAM, commit 2e7bf1c) on an Intel Xeon "
    "(AVX-512, AMX), 2 threads, 2026-12-01: model forward only, r18, 1024x1024, median of 5, two runs"
)


def _ok(report: dict, **match) -> list[dict]:
    return [r for r in report["results"] if r["status"] == "ok" and all(r.get(k) == v for k, v in match.items())]


def _target(backbone: str, target: str, want: str, measured: float | str, met: bool) -> dict:
    return {"backbone": backbone, "target": target, "want": want, "measured": measured, "met": met}


def targets(report: dict) -> list[dict]:
    """The speed targets that this run's own figures decide, each with the measured value."""
    rows = []
    for backbone in report["models"]:
        cpu = [r for r in _ok(report, backbone=backbone, task="panoptic", device="cpu") if r["precision"] == "fp32"]
        by_backend = {r["backend"]: r for r in cpu}
        if "torch" in by_backend and "onnxruntime" in by_backend:
            ratio = by_backend["onnxruntime"]["fps"] / by_backend["torch"]["fps"]
            target = "ONNX Runtime CPU FPS / torch eager FPS"
            rows.append(_target(backbone, target, ">= 1.5", round(ratio, 2), ratio >= TARGETS["onnxruntime_vs_torch"]))
        if cpu:
            best = max(cpu, key=lambda r: r["fps"])
            fraction = best["fraction_of_peak"]
            target = f"achieved GFLOP/s of the best CPU backend ({best['backend']}) / CPU matmul peak"
            rows.append(_target(backbone, target, ">= 40%", f"{fraction:.0%}", fraction >= TARGETS["fraction_of_peak"]))
        panoptic = _ok(report, backbone=backbone, task="panoptic", device="cpu")
        if panoptic and report["config"]["image_size"] == POST_TARGET_SIZE and report["config"]["batch"] == 1:
            # Every backend's rows run the same post-processing: their median, not the luckiest.
            post = statistics.median(r["stages_ms"]["post"] for r in panoptic)
            kernel = report.get("postprocess", "torch")
            target = f"panoptic post-processing on the CPU ({kernel}; median of the panoptic rows), ms per image"
            rows.append(
                _target(backbone, target, f"<= {TARGETS['post_ms']:.0f}", round(post), post <= TARGETS["post_ms"])
            )
    return rows


def _graph_ms(result: dict) -> float:
    """The time in the model's graphs (stages other than pre- and post-processing)."""
    return sum(v for k, v in result["stages_ms"].items() if k in contract.GRAPH_NAMES)


def _outside_figures(report: dict, backbone: str) -> list[str]:
    """Markdown: the paper's and the official code's figures beside this run's, labelled."""
    lines = []
    paper = PAPER_TABLE3.get(backbone)
    if paper:
        lines += [
            f"- The paper's Table 3, RAP-SAM {backbone} on one A100: {paper['params_m']} M parameters, "
            f"{paper['gflops']} GFLOPs (1333x800), {paper['fps']} FPS (precision, batch and post-processing not "
            "stated). This run's parameters and GFLOPs are above; its FPS are on other hardware.",
        ]
    official = OFFICIAL_CODE_CPU_S.get(backbone)
    rows = [r for r in _ok(report, backbone=backbone, task="panoptic", device="cpu") if r["precision"] == "fp32"]
    if official and rows:
        ours = ", ".join(f"{r['backend']} {_graph_ms(r) / 1e3:.2f} s" for r in rows)
        fastest = min(
            _ok(report, backbone=backbone, task="panoptic", device="cpu"), key=lambda r: r["latency"]["mean_ms"]
        )
        setting = "" if report["config"]["image_size"] == [1024, 1024] else " (at another input size than this run)"
        lines += [
            f"- The official research code, {official[0]:.2f} s and {official[1]:.2f} s{setting}: a "
            f"{OFFICIAL_CODE_NOTE}. This run's model graphs, the same work: {ours} on {cpu_label(report['machine'])}; "
            f"its fastest CPU row end to end (pre- and post-processing included): {fastest['backend']} "
            f"{fastest['precision']} {fastest['latency']['mean_ms'] / 1e3:.2f} s.",
        ]
    if not lines:
        return []
    return ["### Figures from outside this run (not measured here; no verdict is drawn from them)", "", *lines, ""]


def _parity_text(parity: dict) -> str:
    keys = [k for k in parity if k.endswith("agreement") or k.endswith("iou")]
    worst_abs = max((v for k, v in parity.items() if k.endswith("_max_abs")), default=0.0)
    return ", ".join([f"max abs {worst_abs:.2g}"] + [f"{k.replace('_', ' ')} {parity[k]:.4f}" for k in keys])


def _peaks_text(peaks: dict) -> str:
    probes = ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in peaks.get("cpu_probes", {}).items())
    lines = [f"CPU fp32 {peaks['cpu_fp32_gflops']:.0f} GFLOP/s" + (f" (best of {probes})" if probes else "")]
    lines += [f"CPU {k[4:8]} {v:.0f} GFLOP/s" for k, v in peaks.items() if k in ("cpu_bf16_gflops", "cpu_fp16_gflops")]
    lines += [f"CPU int8 {peaks['cpu_int8_gops']:.0f} GOP/s"] if "cpu_int8_gops" in peaks else []
    lines += [f"CUDA {k[5:-7]} {v:.0f} GFLOP/s" for k, v in peaks.items() if k.startswith("cuda_")]
    return (
        "Matmul peak, measured before and after the runs, the best kept: " + "; ".join(lines) + ". "
        "% of peak is the achieved GFLOP/s over it."
    )


def speedup(report: dict, row: dict) -> str:
    """How many times faster ``row`` runs than the same backend and task in fp32 in this run
    ('1.00x' for fp32 itself; '-' where fp32 did not run)."""
    fp32 = [
        r
        for r in _ok(report, backbone=row["backbone"], task=row["task"])
        if r["backend"] == row["backend"] and r["precision"] == "fp32"
    ]
    return f"{fp32[0]['latency']['mean_ms'] / row['latency']['mean_ms']:.2f}x" if fp32 else "-"


def headline(report: dict, source: str) -> str:
    """The README's benchmark table: every row of ``report`` (mean latency, FPS, time in the
    graphs and in post-processing, fraction of peak, parity) and the targets this run decides,
    naming the machine and the report file ``source`` it comes from."""
    machine = report["machine"]
    size = "x".join(map(str, report["config"]["image_size"]))
    lines = [
        f"Measured by `rapsam-bench` ({', '.join(report['models'])}, {size}, batch {report['config']['batch']}) on "
        f"{cpu_label(machine)}, {machine['cores']} cores, {machine['threads']} threads, GPU: "
        f"{machine['gpu']['name'] if machine['gpu'] else 'none'}; {report['created'][:10]}; weights: "
        f"{'; '.join(m['label'] for m in report['models'].values())}. Full report: `{source}`.",
        "",
        "| model | task | backend | precision | mean ms | FPS | x fp32 | graphs / post ms | % of peak | "
        "parity vs torch fp32 |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in report["results"]:
        if r["status"] != "ok":
            continue
        post = r["stages_ms"].get("post", 0.0)
        lines.append(
            f"| {r['backbone']} | {r['task']} | {r['backend']} | {r['precision']} | {r['latency']['mean_ms']:.0f} | "
            f"{r['fps']:.2f} | {speedup(report, r)} | {_graph_ms(r):.0f} / {post:.0f} | {r['fraction_of_peak']:.0%} | "
            f"{_parity_text(r['parity'])} |"
        )
    not_run = sorted({f"{r['backend']} ({r['reason']})" for r in report["results"] if r["status"] != "ok"})
    if not_run:
        lines += ["", "Not run here: " + "; ".join(not_run) + "."]
    for t in report.get("targets", targets(report)):
        verdict = "met" if t["met"] else "**missed**"
        lines += ["", f"Target, {t['backbone']}: {t['target']}: {t['measured']} (want {t['want']}): {verdict}."]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    machine = report["machine"]
    gpu = machine["gpu"]["name"] if machine["gpu"] else "none"
    lines = [
        "# rapsam-bench report",
        "",
        f"Machine: {cpu_label(machine)}, {machine['cores']} cores ({machine['threads']} threads used), GPU: {gpu}; "
        f"torch {machine['versions'].get('torch')}, onnxruntime {machine['versions'].get('onnxruntime', '-')}; "
        f"commit {machine['git_commit'] or 'unknown'}; {report['created']}.",
        f"Input: {report['config']['image_size'][0]}x{report['config']['image_size'][1]} (H x W), batch "
        f"{report['config']['batch']}; {report['config']['warmup']} warm-up, then >= {report['config']['iters']} "
        f"iterations and >= {report['config']['min_time_s']} s per measurement. {_peaks_text(report['peaks'])}",
        f"Post-processing of CPU tensors: {POSTPROCESS_KERNELS.get(report.get('postprocess'), 'torch')}.",
        "",
    ]
    for backbone, model in report["models"].items():
        lines += [f"## {backbone}: {model['label']}", ""]
        lines += [f"Parameters: {model['params']['total'] / 1e6:.2f} M. GFLOPs per iteration (2 per multiply-add): "
                  + ", ".join(f"{t} {g:.1f}" for t, g in model["gflops"].items()) + ".", ""]  # fmt: skip
        header = ["task", "backend", "precision", "mean ms", "p50", "p90", "p99", "FPS", "x fp32", "stages (mean ms)"]
        header += ["peak memory", "GFLOP/s", "% of peak", "parity vs torch fp32"]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for r in (r for r in report["results"] if r["backbone"] == backbone):
            if r["status"] != "ok":
                lines.append(f"| {r['task']} | {r['backend']} | {r['precision']} | not run: {r['reason']} |" + "|" * 11)
                continue
            lat = r["latency"]
            stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stages_ms"].items())
            memory = f"{r['peak_rss_mib']:.0f} MiB RSS" + (
                f", {r['peak_cuda_mib']:.0f} MiB CUDA" if r["peak_cuda_mib"] else ""
            )
            lines.append(
                f"| {r['task']} | {r['backend']} | {r['precision']} | {lat['mean_ms']:.1f} ± {lat['std_ms']:.1f} | "
                f"{lat['p50_ms']:.1f} | {lat['p90_ms']:.1f} | {lat['p99_ms']:.1f} | {r['fps']:.2f} | "
                f"{speedup(report, r)} | {stages} | "
                f"{memory} | "
                f"{r['achieved_gflops_per_s']:.0f} | {r['fraction_of_peak']:.0%} | {_parity_text(r['parity'])} |"
            )
        lines.append("")
        lines += _outside_figures(report, backbone)
    lines += ["## Targets", "", "| backbone | target | want | measured | met |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {t['backbone']} | {t['target']} | {t['want']} | {t['measured']} | {'yes' if t['met'] else 'no'} |"
        for t in targets(report)
    ]
    lines += [
        "",
        "Prompt rows time one extra prompt batch after `set_image` (its cost is in `setup_ms` of report.json); video "
        "rows one clip of frames. Stage times are synchronised wall times of pre-processing, each graph and "
        "post-processing; they sum to at most the end-to-end time. Weights are random unless the model line names a "
        "checkpoint: speed does not depend on them.",
        "",
    ]
    return "\n".join(lines)


def pyplot():
    """matplotlib's pyplot, drawing to files; a clear error where the [bench] extra is missing
    (call it before the measurements, not after)."""
    try:
        import matplotlib
    except ImportError as err:
        raise RapSamError("rapsam-bench's charts need matplotlib, which is not installed",
                          "pip install 'rapsam-deploy[bench]'") from err  # fmt: skip
    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def charts(report: dict, out: Path) -> list[Path]:
    """latency_by_stage.png (stacked bars per backend and task) and fps_vs_gflops.png."""
    plt = pyplot()

    rows = [r for r in report["results"] if r["status"] == "ok"]
    paths = []
    if not rows:
        return paths
    labels = [f"{r['backbone']} {r['task']}\n{r['backend']} {r['precision']}" for r in rows]
    stages = sorted({s for r in rows for s in r["stages_ms"]})
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(rows)), 4.5))
    bottom = [0.0] * len(rows)
    for stage in stages:
        values = [r["stages_ms"].get(stage, 0.0) for r in rows]
        ax.bar(labels, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.plot(labels, [r["latency"]["mean_ms"] for r in rows], "k_", markersize=25, label="end to end")
    ax.set_ylabel("ms per iteration")
    ax.set_title("Latency by backend and stage")
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    paths.append(out / "latency_by_stage.png")
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r, label in zip(rows, labels, strict=True):
        ax.scatter(r["gflops"], r["fps"])
        ax.annotate(label.replace("\n", " "), (r["gflops"], r["fps"]), fontsize=6)
    ax.set_xlabel("GFLOPs per iteration")
    ax.set_ylabel("FPS (iterations per second)")
    ax.set_title("FPS vs GFLOPs")
    fig.tight_layout()
    paths.append(out / "fps_vs_gflops.png")
    _save(fig, paths[-1])
    return paths


def _save(figure, path: Path) -> None:
    """A matplotlib figure as PNG, written atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    pyplot().close(figure)
    write_atomic(path, buffer.getvalue())


def write_report(report: dict, out: Path) -> list[Path]:
    """Write report.json, report.md and the charts into ``out``."""
    report["targets"] = targets(report)
    write_atomic(out / "report.json", (json.dumps(report, indent=1, default=str) + "\n").encode())
    write_atomic(out / "report.md", markdown(report).encode())
    return [out / "report.json", out / "report.md", *charts(report, out)]
