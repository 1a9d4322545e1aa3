"""Benchmark of the fused op RapSamMaskPoolDynConv (CUDA kernels of plugins/) against the PyTorch
decomposition ``KernelUpdator()(mask_pool(mask_logits, features), kernels)``: eager fp32 and fp16,
and ``torch.compile`` where it works, at B=1, N=100, C=256 and Hf x Wf = 200x336 (1333x800 input)
and 256x256 (1024x1024 input).

For each variant: the median over many runs of the latency of one call as Python sees it (CUDA
events around the call, host overhead included) and of one CUDA-graph replay (GPU time alone, as
an engine or a C++ caller sees it), and the effective bandwidth (the op's compulsory bytes: every
input read once and the output written once, over the graph time) against the GPU's peak.

Writes ``<out-dir>/<gpu-name>/fused_op.json`` and ``fused_op.md``. Needs a CUDA GPU and
``librapsam_ops`` built with nvcc (``bash .ci/build_plugins.sh``)::

    python benchmarks/fused_op_bench.py [--runs 500] [--peak-gbps 3350]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import platform
import re
import statistics
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from rapsam_deploy.model.kernel_updator import KernelUpdator
from rapsam_deploy.model.mask_pool import mask_pool
from rapsam_deploy.plugins import PluginLibraryError, cuda_kernels_available, mask_pool_dynconv, ops_library_path

BATCH, QUERIES, CHANNELS = 1, 100, 256
FEATURE_SIZES = ((200, 336), (256, 256))
TARGET_SPEEDUP = 2.0  # fused fp16 against eager PyTorch fp16 (issue 4)

# Nominal DRAM bandwidth in GB/s by device-name fragment, checked in order (first match wins).
NOMINAL_PEAK_GBPS = (
    ("H200", 4800.0),
    ("H100 PCIe", 2000.0),
    ("H100", 3350.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100", 1555.0),
    ("L40S", 864.0),
    ("L40", 864.0),
    ("RTX 4090", 1008.0),
    ("RTX 3090", 936.0),
    ("A10G", 600.0),
    ("A10", 600.0),
    ("L4", 300.0),
)


@dataclass
class Result:
    variant: str
    feature_size: str
    call_median_us: float | None = None
    graph_median_us: float | None = None
    effective_gbps: float | None = None
    fraction_of_peak: float | None = None
    max_abs_diff_vs_eager_fp32: float | None = None
    note: str = ""


@dataclass
class Report:
    gpu: dict
    software: dict
    settings: dict
    results: list[Result] = field(default_factory=list)


def median_event_time_us(fn: Callable[[], object], runs: int, warmup: int) -> float:
    """Median over `runs` of CUDA-event time around one call of `fn`, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0)
    return statistics.median(times)


def graph_replay(fn: Callable[[], object], warmup: int) -> Callable[[], object]:
    """`fn` captured in a CUDA graph (after warm-up on a side stream, as PyTorch requires)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def compulsory_bytes(tensors: list[Tensor], output: Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors) + output.numel() * output.element_size()


def peak_gbps(name: str, override: float | None) -> tuple[float | None, str]:
    if override is not None:
        return override, "--peak-gbps"
    for fragment, gbps in NOMINAL_PEAK_GBPS:
        if fragment in name:
            return gbps, f"nominal for {fragment}"
    return None, "unknown (pass --peak-gbps)"


def measured_copy_gbps() -> float:
    """Device-to-device copy bandwidth (read + write) of 1 GiB: what the memory really delivers."""
    source = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    target = torch.empty_like(source)
    seconds = median_event_time_us(lambda: target.copy_(source), runs=20, warmup=3) / 1e6
    return 2 * source.numel() / seconds / 1e9


def make_inputs(height: int, width: int, seed: int) -> tuple[KernelUpdator, list[Tensor]]:
    torch.manual_seed(seed)
    updator = KernelUpdator(CHANNELS).cuda().eval()
    mask_logits = torch.randn(BATCH, QUERIES, height, width, device="cuda")
    features = torch.randn(BATCH, CHANNELS, height, width, device="cuda")
    kernels = torch.randn(BATCH, QUERIES, CHANNELS, device="cuda")
    return updator, [mask_logits, features, kernels]


def variants(updator: KernelUpdator, inputs: list[Tensor], with_compile: bool) -> dict[str, Callable[[], Tensor]]:
    fp16_inputs = [t.half() for t in inputs]
    updator_fp16 = copy.deepcopy(updator).half()

    def eager(module: KernelUpdator, m: Tensor, f: Tensor, k: Tensor) -> Tensor:
        return module(mask_pool(m, f), k)

    table: dict[str, Callable[[], Tensor]] = {
        "fused CUDA fp32": lambda: mask_pool_dynconv(*inputs, updator),
        "fused CUDA fp16": lambda: mask_pool_dynconv(*fp16_inputs, updator),
        "eager PyTorch fp32": lambda: eager(updator, *inputs),
        "eager PyTorch fp16": lambda: eager(updator_fp16, *fp16_inputs),
    }
    if with_compile:
        compiled = torch.compile(eager)
        table["torch.compile fp32"] = lambda: compiled(updator, *inputs)
        table["torch.compile fp16"] = lambda: compiled(updator_fp16, *fp16_inputs)
    return table


def bench_variant(
    name: str,
    fn: Callable[[], Tensor],
    reference: Tensor,
    bytes_by_dtype: dict[torch.dtype, int],
    peak: float | None,
    args: argparse.Namespace,
) -> Result:
    result = Result(variant=name, feature_size="")
    try:
        with torch.no_grad():
            out = fn()
            result.max_abs_diff_vs_eager_fp32 = (out.float() - reference).abs().max().item()
            result.call_median_us = median_event_time_us(fn, args.runs, args.warmup)
            try:
                result.graph_median_us = median_event_time_us(graph_replay(fn, args.warmup), args.runs, args.warmup)
            except Exception as error:  # the per-call timing above still stands
                result.note = f"CUDA graph capture failed: {type(error).__name__}: {first_line(error)}"
    except Exception as error:  # torch.compile raises many kinds; the others still run
        result.note = f"failed: {type(error).__name__}: {first_line(error)}"
        return result
    seconds = (result.graph_median_us or result.call_median_us) / 1e6
    result.effective_gbps = bytes_by_dtype[out.dtype] / seconds / 1e9
    if peak:
        result.fraction_of_peak = result.effective_gbps / peak
    return result


def bench_size(height: int, width: int, peak: float | None, args: argparse.Namespace) -> list[Result]:
    updator, inputs = make_inputs(height, width, seed=0)
    weights = [p.detach() for p in updator.state_dict().values()]
    with torch.no_grad():
        reference = updator(mask_pool(*inputs[:2]), inputs[2]).float()
    bytes_by_dtype = {
        dtype: compulsory_bytes([t.to(dtype) for t in inputs] + weights, reference.to(dtype))
        for dtype in (torch.float32, torch.float16)
    }
    results = []
    for name, fn in variants(updator, inputs, not args.no_compile).items():
        result = bench_variant(name, fn, reference, bytes_by_dtype, peak, args)
        result.feature_size = f"{height}x{width}"
        results.append(result)
        print(
            f"  {name:22s} call {result.call_median_us or float('nan'):9.1f} us   "
            f"graph {result.graph_median_us or float('nan'):9.1f} us   {result.note}"
        )
    return results


def gpu_info() -> dict:
    props = torch.cuda.get_device_properties(0)
    return {
        "name": props.name,
        "compute_capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "memory_gib": round(props.total_memory / 2**30, 1),
    }


def software_info() -> dict:
    return {
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "python": platform.python_version(),
        "ops_library": str(ops_library_path()),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def speedup_line(results: list[Result], size: str) -> str:
    by_name = {r.variant: r for r in results if r.feature_size == size}
    fused, eager = by_name.get("fused CUDA fp16"), by_name.get("eager PyTorch fp16")
    if not fused or not eager or not fused.call_median_us or not eager.call_median_us:
        return f"- {size}: speed-up not measured"
    parts = []
    for label, attr in (("per call", "call_median_us"), ("CUDA graph", "graph_median_us")):
        a, b = getattr(fused, attr), getattr(eager, attr)
        if a and b:
            verdict = "meets" if b / a >= TARGET_SPEEDUP else "misses"
            parts.append(f"{label} {b / a:.2f}x ({verdict} the {TARGET_SPEEDUP:.0f}x target)")
    return f"- {size}: fused fp16 vs eager PyTorch fp16: " + ", ".join(parts)


def markdown(report: Report) -> str:
    def cell(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    gpu, sw, st = report.gpu, report.software, report.settings
    lines = [
        f"# RapSamMaskPoolDynConv benchmark: {gpu['name']}",
        "",
        f"GPU {gpu['name']} (sm_{gpu['compute_capability'].replace('.', '')}, {gpu['multiprocessors']} SMs, "
        f"{gpu['memory_gib']} GiB); torch {sw['torch']} (CUDA {sw['torch_cuda']}); {sw['date_utc']}.",
        f"B={BATCH}, N={QUERIES}, C={CHANNELS}; median of {st['runs']} runs after {st['warmup']} warm-up runs. "
        f"Peak bandwidth {cell(st['peak_gbps'], '.0f')} GB/s ({st['peak_source']}); measured device copy "
        f"{st['measured_copy_gbps']:.0f} GB/s.",
        "",
        "`call`: CUDA events around one call from Python (host overhead included). `graph`: one CUDA-graph "
        "replay (GPU time). Bandwidth: compulsory bytes (inputs read once, output written once) over the graph "
        "time (call time where capture failed).",
        "",
        "| Hf x Wf | variant | call (us) | graph (us) | GB/s | of peak | max abs diff vs eager fp32 | note |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in report.results:
        lines.append(
            f"| {r.feature_size} | {r.variant} | {cell(r.call_median_us, '.1f')} | {cell(r.graph_median_us, '.1f')} "
            f"| {cell(r.effective_gbps, '.0f')} | {cell(r.fraction_of_peak, '.0%')} "
            f"| {cell(r.max_abs_diff_vs_eager_fp32, '.2e')} | {r.note} |"
        )
    lines += ["", "Speed-up:"]
    lines += [speedup_line(report.results, f"{h}x{w}") for h, w in FEATURE_SIZES]
    return "\n".join(lines) + "\n"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500, help="timed runs per variant (median reported)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument("--peak-gbps", type=float, default=None, help="the GPU's peak DRAM bandwidth, GB/s")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    parser.add_argument(
        "--out-dir", type=Path, default=Path(__file__).resolve().parent / "results", help="results root"
    )
    return parser.parse_args(argv)


def check_environment() -> str | None:
    if not torch.cuda.is_available():
        return "no CUDA GPU (torch.cuda.is_available() is False): this benchmark only runs on a GPU machine"
    try:
        if not cuda_kernels_available():
            return "librapsam_ops was built without the CUDA kernels: rebuild with nvcc on PATH"
    except PluginLibraryError as error:
        return str(error)
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = check_environment()
    if problem:
        print(f"fused_op_bench: {problem}", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 stays fp32 in every variant
    gpu = gpu_info()
    peak, peak_source = peak_gbps(gpu["name"], args.peak_gbps)
    settings = {
        "runs": args.runs,
        "warmup": args.warmup,
        "peak_gbps": peak,
        "peak_source": peak_source,
        "measured_copy_gbps": measured_copy_gbps(),
    }
    report = Report(gpu=gpu, software=software_info(), settings=settings)
    for height, width in FEATURE_SIZES:
        print(f"Hf x Wf = {height}x{width}")
        report.results += bench_size(height, width, peak, args)

    out_dir = args.out_dir / slug(gpu["name"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "fused_op.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    (out_dir / "fused_op.md").write_text(markdown(report))
    print(f"wrote {out_dir / 'fused_op.json'} and {out_dir / 'fused_op.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
