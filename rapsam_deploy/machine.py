"""The machine a run happened on: CPU, GPU, library versions and the code's commit, for every
report (benchmarks, evaluations, GPU checks)."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch


def compute_capability(major: int, minor: int) -> str:
    """``sm_90`` for (9, 0): the name nvcc and TensorRT's messages use."""
    return f"sm_{major}{minor}"


_PACKAGES = ("torch", "onnx", "onnxruntime", "onnxruntime-gpu", "tensorrt", "numpy", "opencv-python-headless")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The CPU features that decide which kernels run (what /proc/cpuinfo calls them, and our name).
_ISA_FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX512-VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX512-BF16",
    "avx512_fp16": "AVX512-FP16",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}


def cpu_isa() -> list[str]:
    """The vector and matrix extensions of this CPU that matter for speed, e.g. ["AVX2",
    "AVX-512", "AVX512-BF16", "AMX-BF16"] (empty where /proc/cpuinfo cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [name for flag, name in _ISA_FLAGS.items() if flag in flags]


def cpu_label(machine_info: dict) -> str:
    """'Intel(R) Xeon(R) Processor (AVX2, AVX-512, AMX-BF16)': the CPU of a machine record."""
    isa = machine_info.get("cpu_isa")
    return f"{machine_info['cpu']} ({', '.join(isa)})" if isa else machine_info["cpu"]


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[1]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def gpu_info() -> dict | None:
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    info = {
        "name": props.name,
        "capability": compute_capability(props.major, props.minor),
        "memory_gib": props.total_memory / 2**30,
    }
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        info["driver"] = out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        info["driver"] = None
    return info


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def machine(threads: int) -> dict:
    """CPU model and extensions, cores, threads used, GPU, library versions and git commit."""
    return {
        "cpu": cpu_model(),
        "cpu_isa": cpu_isa(),
        "cores": os.cpu_count(),
        "threads": threads,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "gpu": gpu_info(),
        "versions": versions(),
        "git_commit": git_commit(),
    }
