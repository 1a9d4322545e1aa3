"""Timing done right: warm-up, device synchronisation, enough samples, and their spread."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..artifacts.contract import GraphSpec
from ..backends.base import Backend


@dataclass
class Stats:
    """Latency statistics of a set of samples, in milliseconds."""

    samples_ms: list[float]

    def to_json(self) -> dict:
        values = np.asarray(self.samples_ms)
        return {
            "n": len(values),
            "mean_ms": float(values.mean()),
            "p50_ms": float(np.percentile(values, 50)),
            "p90_ms": float(np.percentile(values, 90)),
            "p99_ms": float(np.percentile(values, 99)),
            "std_ms": float(values.std()),
            "min_ms": float(values.min()),
            "max_ms": float(values.max()),
        }


class TimedBackend(Backend):
    """Wraps a backend and records the wall time of every graph run, synchronising the device
    before and after so that asynchronous GPU work is counted where it happens."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.info = inner.info
        self.times: dict[str, list[float]] = defaultdict(list)

    def _run(self, spec: GraphSpec, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.inner.synchronize()
        start = time.perf_counter()
        out = self.inner._run(spec, inputs)
        self.inner.synchronize()
        self.times[spec.name].append((time.perf_counter() - start) * 1e3)
        return out

    def take(self) -> dict[str, float]:
        """Milliseconds per graph since the last call (summed over runs), then reset."""
        totals = {graph: sum(values) for graph, values in self.times.items()}
        self.times.clear()
        return totals


@dataclass
class StageTimer:
    """Times named stages of one iteration (``with timer.stage("pre"): ...``)."""

    backend: Backend
    stages: dict[str, float] = field(default_factory=dict)

    def stage(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                timer.backend.synchronize()
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.backend.synchronize()
                timer.stages[name] = timer.stages.get(name, 0.0) + (time.perf_counter() - self.start) * 1e3

        return _Stage()


def run_iterations(
    step: Callable[[], dict[str, float]], warmup: int, iters: int, min_time_s: float
) -> tuple[Stats, dict[str, Stats]]:
    """Run ``step`` (which returns its stage times in ms) ``warmup`` times unrecorded, then at
    least ``iters`` times and at least ``min_time_s`` seconds. Returns end-to-end and per-stage
    statistics."""
    for _ in range(warmup):
        step()
    totals, stages = [], defaultdict(list)
    start = time.perf_counter()
    while len(totals) < iters or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        stage_times = step()
        totals.append((time.perf_counter() - t0) * 1e3)
        for name, ms in stage_times.items():
            stages[name].append(ms)
    return Stats(totals), {name: Stats(values) for name, values in stages.items()}
