"""The machine a benchmark ran on, and its measured matrix-multiply peak."""

from __future__ import annotations

import os
import platform
import subprocess
import threading
import time
from importlib import metadata
from pathlib import Path

import torch

from ..engines.engine_file import compute_capability

_PACKAGES = ("torch", "onnx", "onnxruntime", "onnxruntime-gpu", "tensorrt", "numpy", "opencv-python-headless")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
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
    """CPU model, cores, threads used, GPU, library versions and git commit."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": threads,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "gpu": gpu_info(),
        "versions": versions(),
        "git_commit": git_commit(),
    }


def _best_gflops(multiply, size: int, seconds: float, synchronize=lambda: None) -> float:
    """Best achieved GFLOP/s of ``multiply()`` (one size x size x size product) over ``seconds``."""
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:
        synchronize()
        start = time.perf_counter()
        multiply()
        synchronize()
        best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def matmul_peak(
    device: str = "cpu", dtype: torch.dtype = torch.float32, size: int = 2048, seconds: float = 2.0
) -> float:
    """Achieved GFLOP/s of a large square torch matmul, best of repeated runs."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    synchronize = torch.cuda.synchronize if device != "cpu" else lambda: None
    return _best_gflops(lambda: torch.matmul(a, b), size, seconds, synchronize)


def onnxruntime_matmul_peak(threads: int, size: int = 2048, seconds: float = 2.0) -> float | None:
    """The same with ONNX Runtime's CPU MatMul (its own GEMM, not torch's BLAS); ``None``
    without onnxruntime."""
    try:
        import onnx
        from onnx import TensorProto, helper

        from ..backends.onnxruntime_session import create_session
    except ImportError:
        return None
    io = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size]) for name in "abc"]
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "matmul", io[:2], io[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    session = create_session(model.SerializeToString(), threads=threads)
    feeds = {name: torch.randn(size, size).numpy() for name in "ab"}
    return _best_gflops(lambda: session.run(None, feeds), size, seconds)


def cpu_peak(threads: int) -> dict[str, float]:
    """The CPU's practical fp32 peak: the best of torch's and ONNX Runtime's matmul (their GEMMs
    differ by CPU vendor), each by name."""
    peaks = {"torch_matmul": matmul_peak("cpu", seconds=1.0)}
    ort = onnxruntime_matmul_peak(threads, seconds=1.0)
    if ort is not None:
        peaks["onnxruntime_matmul"] = ort
    return peaks


class PeakMemory:
    """Peak resident memory (MiB) of this process while the block runs, sampled every few
    milliseconds from /proc (``ru_maxrss`` only grows, so it cannot separate backends), and the
    peak CUDA memory torch allocated in it."""

    def __enter__(self) -> PeakMemory:
        self.rss_mib = self._rss()
        self.cuda_mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if torch.cuda.is_available():
            self.cuda_mib = torch.cuda.max_memory_allocated() / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.rss_mib = max(self.rss_mib, self._rss())

    @staticmethod
    def _rss() -> float:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
