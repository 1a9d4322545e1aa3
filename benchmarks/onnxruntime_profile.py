"""Where ONNX Runtime's CPU time goes: for each graph of the panoptic path (encoder, decoder,
object adapter), the time of each operator type, from ONNX Runtime's own node profile, on a
photo at the bench size, and the GFLOP/s each graph achieves (FLOPs from PyTorch's counter on the
reference model). The warm-up run is left out.

    rapsam-export --backbone r18
    python benchmarks/onnxruntime_profile.py --export-dir exports/r18 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.backends.onnxruntime_backend import OnnxRuntimeBackend
from rapsam_deploy.bench.tasks import photos
from rapsam_deploy.machine import machine
from rapsam_deploy.model.build import build_model
from rapsam_deploy.model.complexity import flop_counts
from rapsam_deploy.predict.panoptic import PanopticPredictor
from rapsam_deploy.predict.preprocess import ResizePolicy
from rapsam_deploy.predict.runtime import load


def op_times_ms(trace: Path, skip_runs: int) -> tuple[Counter, int]:
    """ONNX Runtime trace -> (milliseconds per operator type over the runs after the first
    ``skip_runs``, number of those runs)."""
    events = json.loads(trace.read_text())
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    start = runs[skip_runs - 1]["ts"] + runs[skip_runs - 1]["dur"] if skip_runs else 0
    times: Counter = Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= start:
            times[e["args"]["op_name"]] += e["dur"] / 1e3
    return times, len(runs) - skip_runs


def markdown(profile: dict) -> str:
    lines = [
        f"# ONNX Runtime CPU profile: {profile['backbone']}, panoptic, {profile['image_size'][0]}x"
        f"{profile['image_size'][1]}",
        "",
        f"Machine: {profile['machine']['cpu']}, {profile['machine']['cores']} cores, {profile['threads']} threads; "
        f"onnxruntime {profile['machine']['versions'].get('onnxruntime')}; {profile['runs']} profiled runs after "
        "one warm-up. Times are ONNX Runtime's per-node kernel times, summed by operator type.",
        "",
    ]
    for graph, ops in profile["graphs"].items():
        total = sum(ops.values())
        gflops = profile["gflops"][graph]
        lines += [
            f"## {graph}: {total:.0f} ms per run in kernels, {gflops:.1f} GFLOPs, {gflops / total * 1e3:.0f} GFLOP/s",
            "",
            "| op | ms per run | share |",
            "| --- | ---: | ---: |",
        ]
        major = {op: ms for op, ms in ops.items() if ms >= 0.01 * total}
        lines += [f"| {op} | {ms:.1f} | {ms / total:.0%} |" for op, ms in major.items()]
        rest = total - sum(major.values())
        lines.append(f"| {len(ops) - len(major)} other op types | {rest:.1f} | {rest / total:.0%} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export-dir", required=True, type=Path, help="a rapsam-export output folder")
    parser.add_argument("--image-size", nargs=2, type=int, default=(1024, 1024), metavar=("H", "W"))
    parser.add_argument("--iters", type=int, default=3, help="profiled runs after the warm-up (default: 3)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default: 2)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    size = tuple(args.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        export = ExportDir.open(args.export_dir)
        backend = OnnxRuntimeBackend(export, threads=args.threads, profile_dir=tmp)
        runtime = load(export, backend=backend)
        predictor = PanopticPredictor(runtime, ResizePolicy(long_side=max(size)))
        image = photos(1, size)[0]
        for i in range(args.iters + 1):
            print(f"run {i + 1}/{args.iters + 1} ...", flush=True)
            predictor.predict(image)
        graphs = {}
        for graph, trace in backend.end_profiling().items():
            times, runs = op_times_ms(trace, skip_runs=1)
            graphs[graph] = {op: ms / runs for op, ms in times.most_common()}
    backbone = runtime.export.manifest.model["backbone"]
    flops = flop_counts(build_model(backbone), size).flops
    profile = {
        "backbone": backbone,
        "image_size": list(size),
        "threads": args.threads,
        "runs": args.iters,
        "machine": machine(args.threads),
        "graphs": graphs,
        "gflops": {
            contract.ENCODER.name: (flops["backbone"] + flops["neck"]) / 1e9,
            contract.DECODER.name: flops[contract.DECODER.name] / 1e9,
            contract.ADAPTER_OBJECT.name: flops[contract.ADAPTER_OBJECT.name] / 1e9,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"onnxruntime_profile_{backbone}"
    stem.with_suffix(".json").write_text(json.dumps(profile, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(profile))
    print(markdown(profile))
    print(f"wrote {stem}.json and {stem}.md")


if __name__ == "__main__":
    main()
