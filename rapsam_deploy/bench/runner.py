"""Runs every requested backend x precision x task on the same inputs and collects the figures."""

from __future__ import annotations

import dataclasses
import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..artifacts import contract
from ..artifacts.export_dir import ExportDir
from ..artifacts.manifest import MANIFEST_FILE
from ..backends.select import check_precision, create_backend
from ..backends.torch_backend import TorchBackend
from ..errors import RapSamError
from ..machine import machine
from ..model.complexity import parameter_counts
from ..predict.postprocess import postprocess_kernel
from ..predict.runtime import load
from ..progress import Log
from .memory import PeakMemory
from .peaks import cpu_peak, cpu_precision_peaks, matmul_peak
from .tasks import TASKS, Task, TaskConfig, flops_of_tasks, make_task
from .timing import TimedBackend, run_iterations

CPU_BACKENDS = ("torch", "torch-compile", "openvino", "onnxruntime")
GPU_BACKENDS = ("torch-cuda", "onnxruntime-cuda", "tensorrt")
# torch.compile recompiles for every input shape (~1 min per graph on a 2-core CPU): by
# default only the panoptic task, which is what the paper's FPS measure.
COMPILE_DEFAULT_TASKS = ("panoptic",)


@dataclass
class BenchConfig:
    """What ``rapsam-bench`` measures; defaults are ``rapsam-bench --backbone r18``."""

    backbones: tuple[str, ...] = ("r18",)
    backends: tuple[str, ...] | None = None  # None: every backend available here
    precisions: tuple[str, ...] | None = None  # None: fp32, and fp16 on a GPU
    tasks: tuple[str, ...] = TASKS
    image_size: tuple[int, int] = (1024, 1024)
    batch: int = 1
    warmup: int = 1
    iters: int = 3
    min_time_s: float = 5.0
    threads: int | None = None
    export_dirs: dict[str, Path] = field(default_factory=dict)
    out: Path = Path("runs/bench")
    num_prompts: int = 5
    video_frames: int = 3


def default_backends() -> tuple[str, ...]:
    return CPU_BACKENDS + (GPU_BACKENDS if torch.cuda.is_available() else ())


def default_precisions() -> tuple[str, ...]:
    return ("fp32", "fp16") if torch.cuda.is_available() else ("fp32",)


def _backend(name: str, export: ExportDir, precision: str, threads: int | None, log: Log):
    check_precision(name.removesuffix("-compile"), precision)
    if name == "tensorrt":
        _build_engines(export, precision, log)
    if name == "torch-compile":
        return TorchBackend.from_export(export, "cpu", precision, compile=True)
    if name == "torch-cuda-compile":
        return TorchBackend.from_export(export, "cuda", precision, compile=True)
    return create_backend(name, export, precision, contract.DEFAULT_VARIANT, threads)


def _build_engines(export: ExportDir, precision: str, log: Log) -> None:
    """Build the TensorRT engines the bench needs unless they are there (TensorRT missing is
    reported by the import, as a backend that cannot run)."""
    from ..engines.build import BuildOptions, build_engines
    from ..engines.engine_file import engine_path
    from ..engines.tensorrt_env import import_tensorrt

    import_tensorrt()
    options = BuildOptions(export=export, precision=precision)
    missing = tuple(g for g in options.graphs if not engine_path(options.engine_dir, g).is_file())
    if missing:
        build_engines(dataclasses.replace(options, graphs=missing), log=lambda line: log("  " + line))


def _ensure_export(
    backbone: str, config: BenchConfig, backends: tuple[str, ...], precisions: tuple[str, ...], log: Log
) -> ExportDir:
    """Reuse ``--export-dir``, or export (without validation: the bench measures parity) once:
    the graph precisions the runs need, with the decomposed deformable convolution where
    OpenVINO is among the backends (it cannot convert ONNX DeformConv)."""
    if backbone in config.export_dirs:
        return ExportDir.open(config.export_dirs[backbone])
    from ..export import export_model

    graph_precisions = tuple(dict.fromkeys(p if p in contract.PRECISIONS else "fp32" for p in precisions))
    deform_conv = "decomposed" if "openvino" in backends else "op"
    directory = config.out / "exports" / backbone
    if (directory / MANIFEST_FILE).is_file():
        export = ExportDir.open(directory)
        have = {a.precision for a in export.manifest.artifacts}
        if (
            export.manifest.image["trace_size"] == list(config.image_size)
            and set(graph_precisions) <= have
            and export.manifest.model.get("deform_conv") == deform_conv
        ):
            log(f"reusing {directory}")
            return export
    log(f"exporting {backbone} to {directory} (random weights, {config.image_size}, deform conv {deform_conv}) ...")
    export_model(
        backbone=backbone,
        output=directory,
        image_size=config.image_size,
        precisions=graph_precisions,
        deform_conv=deform_conv,
        validate=False,
        force=True,
        log=lambda line: log("  " + line),
    )
    return ExportDir.open(directory)


def _measure(task: Task, config: BenchConfig) -> dict:
    with PeakMemory() as memory:
        setup = task.setup()
        total, stages = run_iterations(task.step, config.warmup, config.iters, config.min_time_s)
    stats = total.to_json()
    return {
        "latency": stats,
        "fps": 1e3 / stats["mean_ms"] * (config.batch if task.name == "panoptic" else 1),
        "stages_ms": {name: s.to_json()["mean_ms"] for name, s in stages.items()},
        "setup_ms": setup,
        "peak_rss_mib": memory.rss_mib,
        "peak_cuda_mib": memory.cuda_mib,
    }


def run_bench(config: BenchConfig, log: Log = print) -> dict:
    """Measure everything; returns the report (``report.json`` content)."""
    threads = config.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    backends = config.backends or default_backends()
    precisions = config.precisions or default_precisions()
    log(f"measuring the matmul peak ({threads} threads) ...")
    peaks = _peaks(threads)
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(threads),
        "peaks": peaks,
        "postprocess": postprocess_kernel("cpu"),
        "config": {
            "image_size": list(config.image_size),
            "batch": config.batch,
            "warmup": config.warmup,
            "iters": config.iters,
            "min_time_s": config.min_time_s,
            "num_prompts": config.num_prompts,
            "video_frames": config.video_frames,
        },
        "models": {},
        "results": [],
    }
    task_config = TaskConfig(config.image_size, config.batch, config.num_prompts, config.video_frames)
    for backbone in config.backbones:
        export = _ensure_export(backbone, config, backends, precisions, log)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        reference = load(export, TimedBackend(TorchBackend.from_export(export, device)))
        model = reference.backend.inner.model
        report["models"][backbone] = {
            "label": export.label,
            "params": parameter_counts(model),
            "gflops": flops_of_tasks(model, config.tasks, task_config),
        }
        references = {}
        for task in config.tasks:
            references[task] = make_task(task, reference, task_config)
            references[task].setup()
            references[task].step()
        for name in backends:
            for precision in precisions:
                report["results"] += _run_backend(
                    name, precision, backbone, export, config, task_config, references, report, threads, log
                )
    log("measuring the matmul peak again ...")
    _settle_peaks(report, _peaks(threads))
    return report


def _peaks(threads: int) -> dict:
    """Practical peaks in GFLOP/s: ``cpu_fp32_gflops`` (the best of torch's and ONNX Runtime's
    matmul, each also under ``cpu_probes``), the CPU's bf16, fp16 and int8 peaks
    (``cpu_precision_peaks``) and, on a GPU, ``cuda_fp32_gflops``/``cuda_fp16_gflops``."""
    probes = cpu_peak(threads)
    peaks = {"cpu_fp32_gflops": max(probes.values()), "cpu_probes": probes, **cpu_precision_peaks()}
    if torch.cuda.is_available():
        peaks["cuda_fp32_gflops"] = matmul_peak("cuda")
        peaks["cuda_fp16_gflops"] = matmul_peak("cuda", torch.float16, size=4096)
    return peaks


def _settle_peaks(report: dict, again: dict) -> None:
    """Keep the best of the peaks measured before and after the runs (a probe that ran while the
    machine was busy would flatter every fraction), and set each row's fraction of peak."""
    report["peaks"] = _best(report["peaks"], again)
    for row in report["results"]:
        if row["status"] == "ok":
            row["fraction_of_peak"] = row["achieved_gflops_per_s"] / report["peaks"][_peak_key(row, report["peaks"])]


def _best(before: dict, after: dict) -> dict:
    """Key by key (nested dicts too), the larger of two measurements of the same peaks."""
    return {k: _best(v, after[k]) if isinstance(v, dict) else max(v, after[k]) for k, v in before.items()}


def _peak_key(row: dict, peaks: dict) -> str:
    """The peak a row's achieved rate is a fraction of: its device's in its precision where it
    was measured (int8 rows: the int8 product's rate), else fp32."""
    device = "cpu" if row["device"] == "cpu" else "cuda"
    for key in (f"{device}_{row['precision']}_gflops", f"{device}_{row['precision']}_gops"):
        if key in peaks:
            return key
    return f"{device}_fp32_gflops"


def _run_backend(
    name: str,
    precision: str,
    backbone: str,
    export: ExportDir,
    config: BenchConfig,
    task_config: TaskConfig,
    references: dict[str, Task],
    report: dict,
    threads: int,
    log: Log,
) -> list[dict]:
    rows = []
    base = {"backbone": backbone, "backend": name, "precision": precision}
    try:
        started = time.perf_counter()
        runtime = load(export, TimedBackend(_backend(name, export, precision, threads, log)))
        load_s = time.perf_counter() - started
    except (RapSamError, ImportError, RuntimeError) as err:
        reason = str(err).splitlines()[0]
        log(f"{backbone} {name} {precision}: not run ({reason})")
        return [base | {"task": task, "status": "not run", "reason": reason} for task in config.tasks]
    for task in config.tasks:
        if name.endswith("compile") and task not in COMPILE_DEFAULT_TASKS and config.backends is None:
            reason = "torch.compile recompiles per shape (about a minute per graph here); ask with --backends"
            rows.append(base | {"task": task, "status": "not run", "reason": reason})
            continue
        log(f"{backbone} {runtime.backend.info.label}: {task} ...")
        try:
            bench = make_task(task, runtime, task_config)
            started = time.perf_counter()
            bench.setup()
            bench.step()
            first_s = time.perf_counter() - started
            figures = _measure(bench, config)
        except (RapSamError, RuntimeError) as err:
            reason = str(err).splitlines()[0]
            log(f"  not run ({reason})")
            rows.append(base | {"task": task, "status": "not run", "reason": reason})
            continue
        gflops = report["models"][backbone]["gflops"][task]
        achieved = gflops / (figures["latency"]["mean_ms"] / 1e3)
        row = base | {
            "task": task,
            "status": "ok",
            "device": runtime.backend.info.device,
            "load_s": load_s,
            "first_iteration_s": first_s,
            **figures,
            "gflops": gflops,
            "achieved_gflops_per_s": achieved,
            "parity": bench.parity(references[task]),
        }
        log(f"  {row['latency']['mean_ms']:.1f} ms mean, {row['fps']:.2f} FPS, {achieved:.0f} GFLOP/s")
        rows.append(row)
    return rows
