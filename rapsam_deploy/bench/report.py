"""``report.json``, ``report.md`` and PNG charts of a benchmark run."""

from __future__ import annotations

import json
from pathlib import Path

# The paper's Table 3 (RAP-SAM, COCO, A100) for the figures we could read: parameters and FLOPs.
PAPER = {"r18": {"params_m": 22.8, "gflops": 60.5}, "r50": {"params_m": 47.2, "gflops": 123.0}}
# The official research code (PyTorch, mmcv deformable conv) on the 2-core CPU machines of this
# project, r18/r50 at 1024x1024, 2 threads, seconds: as stated in the benchmark's issue, not
# measured by us (the official code does not install here).
OFFICIAL_CPU_S = {
    "r18": {"end_to_end": 1.48, "backbone": 0.49, "neck": 0.58, "head": 0.38},
    "r50": {"end_to_end": 3.9},
}
# Our graphs doing the official parts' work: the encoder is backbone + neck, the head is the
# decoder with the object adapter.
OFFICIAL_PARTS = {("encoder",): ("backbone", "neck"), ("decoder", "adapter_object"): ("head",)}
TARGETS = {"onnxruntime_vs_torch": 1.5, "fraction_of_peak": 0.4, "vs_official": 2.0}


def _ok(report: dict, **match) -> list[dict]:
    return [r for r in report["results"] if r["status"] == "ok" and all(r.get(k) == v for k, v in match.items())]


def _target(backbone: str, target: str, want: str, measured: float | str, met: bool) -> dict:
    return {"backbone": backbone, "target": target, "want": want, "measured": measured, "met": met}


def targets(report: dict) -> list[dict]:
    """The issue's targets, each with the measured value and whether it is met."""
    rows = []
    for backbone in report["models"]:
        panoptic = _ok(report, backbone=backbone, task="panoptic")
        if not panoptic:
            continue
        best = max(panoptic, key=lambda r: r["fps"])
        by_backend = {r["backend"]: r for r in panoptic if r["precision"] == "fp32"}
        if "torch" in by_backend and "onnxruntime" in by_backend:
            ratio = by_backend["onnxruntime"]["fps"] / by_backend["torch"]["fps"]
            target = "ONNX Runtime CPU FPS / torch eager FPS"
            rows.append(_target(backbone, target, ">= 1.5", round(ratio, 2), ratio >= TARGETS["onnxruntime_vs_torch"]))
        fraction = best["fraction_of_peak"]
        target = f"achieved GFLOP/s of the best backend ({best['backend']}) / matmul peak"
        rows.append(_target(backbone, target, ">= 40%", f"{fraction:.0%}", fraction >= TARGETS["fraction_of_peak"]))
        official = _official(report, backbone)
        if official and best["device"] == "cpu":
            speedup = official["end_to_end"] / (best["latency"]["mean_ms"] / 1e3)
            target = f"speed-up of {best['backend']} over the official code ({official['end_to_end']} s per image)"
            rows.append(_target(backbone, target, ">= 2x", f"{speedup:.2f}x", speedup >= TARGETS["vs_official"]))
            if "head" in official:
                theirs = _official_model_s(official)
                speedup = theirs / (_graph_ms(best) / 1e3)
                target = (
                    f"the same, model only: {best['backend']}'s graphs against the official backbone + neck + "
                    f"head ({theirs:.2f} s)"
                )
                rows.append(_target(backbone, target, ">= 2x", f"{speedup:.2f}x", speedup >= TARGETS["vs_official"]))
    return rows


def _official(report: dict, backbone: str) -> dict | None:
    """The official code's CPU figures, where this run's setting is theirs (1024x1024, batch 1)."""
    same = report["config"]["image_size"] == [1024, 1024] and report["config"]["batch"] == 1
    return OFFICIAL_CPU_S.get(backbone) if same else None


def _official_model_s(official: dict) -> float:
    """The official code's seconds in the model parts (backbone + neck + head)."""
    return sum(official[part] for parts in OFFICIAL_PARTS.values() for part in parts)


def _graph_ms(result: dict) -> float:
    """The time in the model's graphs (stages other than pre- and post-processing)."""
    return sum(v for k, v in result["stages_ms"].items() if k not in ("pre", "post"))


def _official_comparison(report: dict, backbone: str) -> list[str]:
    """Markdown: the official parts' seconds beside our CPU backends' panoptic stages."""
    official = _official(report, backbone)
    rows = [r for r in _ok(report, backbone=backbone, task="panoptic", device="cpu") if r["precision"] == "fp32"]
    if not official or "head" not in official or not rows:
        return []
    lines = [
        "| part | official (s) | " + " | ".join(f"{r['backend']} (s)" for r in rows) + " |",
        "| --- | ---: |" + " ---: |" * len(rows),
    ]
    for stages, parts in OFFICIAL_PARTS.items():
        theirs = sum(official[p] for p in parts)
        mine = [sum(r["stages_ms"].get(stage, 0.0) for stage in stages) / 1e3 for r in rows]
        label = f"{' + '.join(stages)} ({' + '.join(parts)})"
        lines.append(f"| {label} | {theirs:.2f} | " + " | ".join(f"{m:.2f}" for m in mine) + " |")
    graphs = " | ".join(f"{_graph_ms(r) / 1e3:.2f}" for r in rows)
    lines.append(f"| model graphs | {_official_model_s(official):.2f} | {graphs} |")
    post = " | ".join(f"{(r['stages_ms'].get('pre', 0) + r['stages_ms'].get('post', 0)) / 1e3:.2f}" for r in rows)
    lines.append(f"| pre- + post-processing | - | {post} |")
    ends = " | ".join(f"{r['latency']['mean_ms'] / 1e3:.2f}" for r in rows)
    lines.append(f"| end to end | {official['end_to_end']:.2f} | {ends} |")
    note = (
        f"The official figures are the ones stated in the benchmark issue for the official research code on "
        f"this project's 2-core machines, not measured by us; ours are panoptic, {backbone}, 1024x1024, fp32."
    )
    return [f"### {backbone} against the official code (CPU)", "", *lines, "", note, ""]


def _parity_text(parity: dict) -> str:
    keys = [k for k in parity if k.endswith("agreement") or k.endswith("iou")]
    worst_abs = max((v for k, v in parity.items() if k.endswith("_max_abs")), default=0.0)
    return ", ".join([f"max abs {worst_abs:.2g}"] + [f"{k.replace('_', ' ')} {parity[k]:.4f}" for k in keys])


def _peaks_text(peaks: dict) -> str:
    probes = ", ".join(f"{k.replace('_', ' ')} {v:.0f}" for k, v in peaks.get("cpu_probes", {}).items())
    lines = [f"CPU fp32 {peaks['cpu_fp32_gflops']:.0f} GFLOP/s" + (f" (best of {probes})" if probes else "")]
    lines += [f"CUDA {k[5:-7]} {v:.0f} GFLOP/s" for k, v in peaks.items() if k.startswith("cuda_")]
    return (
        "Matmul peak, measured before and after the runs, the best kept: " + "; ".join(lines) + ". "
        "% of peak is the achieved GFLOP/s over it."
    )


def markdown(report: dict) -> str:
    machine = report["machine"]
    gpu = machine["gpu"]["name"] if machine["gpu"] else "none"
    lines = [
        "# rapsam-bench report",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores ({machine['threads']} threads used), GPU: {gpu}; "
        f"torch {machine['versions'].get('torch')}, onnxruntime {machine['versions'].get('onnxruntime', '-')}; "
        f"commit {machine['git_commit'] or 'unknown'}; {report['created']}.",
        f"Input: {report['config']['image_size'][0]}x{report['config']['image_size'][1]} (H x W), batch "
        f"{report['config']['batch']}; {report['config']['warmup']} warm-up, then >= {report['config']['iters']} "
        f"iterations and >= {report['config']['min_time_s']} s per measurement. {_peaks_text(report['peaks'])}",
        "",
    ]
    for backbone, model in report["models"].items():
        lines += [f"## {backbone}: {model['label']}", ""]
        lines += [f"Parameters: {model['params']['total'] / 1e6:.2f} M. GFLOPs per iteration (2 per multiply-add): "
                  + ", ".join(f"{t} {g:.1f}" for t, g in model["gflops"].items()) + ".", ""]  # fmt: skip
        header = ["task", "backend", "precision", "mean ms", "p50", "p90", "p99", "FPS", "stages (mean ms)"]
        header += ["peak memory", "GFLOP/s", "% of peak", "parity vs torch fp32"]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        for r in (r for r in report["results"] if r["backbone"] == backbone):
            if r["status"] != "ok":
                lines.append(f"| {r['task']} | {r['backend']} | {r['precision']} | not run: {r['reason']} |" + "|" * 10)
                continue
            lat = r["latency"]
            stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stages_ms"].items())
            memory = f"{r['peak_rss_mib']:.0f} MiB RSS" + (
                f", {r['peak_cuda_mib']:.0f} MiB CUDA" if r["peak_cuda_mib"] else ""
            )
            lines.append(
                f"| {r['task']} | {r['backend']} | {r['precision']} | {lat['mean_ms']:.1f} ± {lat['std_ms']:.1f} | "
                f"{lat['p50_ms']:.1f} | {lat['p90_ms']:.1f} | {lat['p99_ms']:.1f} | {r['fps']:.2f} | {stages} | "
                f"{memory} | "
                f"{r['achieved_gflops_per_s']:.0f} | {r['fraction_of_peak']:.0%} | {_parity_text(r['parity'])} |"
            )
        lines.append("")
        lines += _official_comparison(report, backbone)
    lines += ["## Targets", "", "| backbone | target | want | measured | met |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {t['backbone']} | {t['target']} | {t['want']} | {t['measured']} | {'yes' if t['met'] else 'no'} |"
        for t in targets(report)
    ]
    lines += [
        "",
        "## The paper (RAP-SAM, Table 3, A100 GPU: not comparable with CPU figures)",
        "",
        "| model | params (M) | GFLOPs | FPS |",
        "| --- | ---: | ---: | --- |",
    ]
    lines += [
        f"| RAP-SAM {b} | {p['params_m']} | {p['gflops']} | not in the material we could read |"
        for b, p in PAPER.items()
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


def charts(report: dict, out: Path) -> list[Path]:
    """latency_by_stage.png (stacked bars per backend and task) and fps_vs_gflops.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r, label in zip(rows, labels, strict=True):
        ax.scatter(r["gflops"], r["fps"])
        ax.annotate(label.replace("\n", " "), (r["gflops"], r["fps"]), fontsize=6)
    ax.set_xlabel("GFLOPs per iteration")
    ax.set_ylabel("FPS (iterations per second)")
    ax.set_title("FPS vs GFLOPs")
    fig.tight_layout()
    paths.append(out / "fps_vs_gflops.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def write_report(report: dict, out: Path) -> list[Path]:
    """Write report.json, report.md and the charts into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    report["targets"] = targets(report)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (out / "report.md").write_text(markdown(report))
    return [out / "report.json", out / "report.md", *charts(report, out)]
