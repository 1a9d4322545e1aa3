"""The machine's practical matrix-multiply peak, measured: what the achieved GFLOP/s of a run
are compared with."""

from __future__ import annotations

import time

import torch


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


def int8_matmul_peak(size: int = 2048, seconds: float = 1.0) -> float | None:
    """Achieved GOP/s of torch's int8 x int8 -> int32 product (VNNI/AMX-INT8 where the CPU has
    them); ``None`` where this torch has no CPU int8 product."""
    a = torch.randint(-128, 128, (size, size), dtype=torch.int8)
    b = torch.randint(-128, 128, (size, size), dtype=torch.int8)
    try:
        torch._int_mm(a, b)
    except RuntimeError:
        return None
    return _best_gflops(lambda: torch._int_mm(a, b), size, seconds)


def cpu_precision_peaks() -> dict[str, float]:
    """The CPU's matmul peak per reduced precision, in G(FL)OP/s: ``cpu_bf16_gflops`` and
    ``cpu_fp16_gflops`` (torch; several times fp32 where the CPU has AMX or AVX512-BF16/FP16
    hardware, and below it where it emulates them) and ``cpu_int8_gops``."""
    peaks = {
        "cpu_bf16_gflops": matmul_peak("cpu", torch.bfloat16, seconds=1.0),
        "cpu_fp16_gflops": matmul_peak("cpu", torch.float16, seconds=1.0),
    }
    int8 = int8_matmul_peak()
    if int8 is not None:
        peaks["cpu_int8_gops"] = int8
    return peaks


def cpu_peak(threads: int) -> dict[str, float]:
    """The CPU's practical fp32 peak: the best of torch's and ONNX Runtime's matmul (their GEMMs
    differ by CPU vendor), each by name."""
    peaks = {"torch_matmul": matmul_peak("cpu", seconds=1.0)}
    ort = onnxruntime_matmul_peak(threads, seconds=1.0)
    if ort is not None:
        peaks["onnxruntime_matmul"] = ort
    return peaks
