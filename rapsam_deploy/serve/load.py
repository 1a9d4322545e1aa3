"""``rapsam-bench --server``: a served repository under load, beside the in-process runtime.

For each task (``panoptic``: an encoded photo to the ensemble; ``prompt``: one click on a photo
the server already holds) and each concurrency C, C clients (threads, each with its own gRPC
channel) send requests back to back for a fixed time; the report gives throughput, latency
percentiles and the failed requests by status. Every request has a client timeout, so none
hangs; under overload the server's bounded queues refuse requests (UNAVAILABLE), and those are
counted, not retried. The same requests run in this process on the export with ONNX Runtime
(one at a time), so served and in-process figures come from one machine in one run.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..artifacts.files import write_atomic
from ..errors import RapSamError
from ..machine import cpu_label, machine
from ..progress import Log
from .client import TritonClient
from .names import DEFAULT_PREFIX

LOAD_TASKS = ("panoptic", "prompt")
_PHOTO = "astronaut"
_CLICK = (250.0, 150.0)


@dataclass
class LoadConfig:
    """What ``rapsam-bench --server`` measures."""

    server: str
    prefix: str = DEFAULT_PREFIX
    tasks: tuple[str, ...] = LOAD_TASKS
    concurrency: tuple[int, ...] = (1, 4, 8)
    duration_s: float = 10.0
    timeout_s: float = 60.0
    export_dir: Path | None = None
    threads: int | None = None
    score_thr: float = 0.3
    out: Path = Path("runs/bench-server")


def photo_bytes() -> bytes:
    """A scikit-image sample photo as a PNG file's bytes (what a client uploads)."""
    import cv2
    from skimage import data

    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(getattr(data, _PHOTO)()[..., ::-1]))
    if not ok:
        raise RapSamError("cannot encode the sample photo")
    return encoded.tobytes()


@dataclass
class _Outcomes:
    """What the clients of one measurement saw (shared between threads under a lock)."""

    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, started: float, failure: str | None) -> None:
        with self.lock:
            if failure is None:
                self.latencies_ms.append((time.perf_counter() - started) * 1e3)
            else:
                self.failures[failure] += 1


def _request(task: str, client: TritonClient, image: bytes, config: LoadConfig):
    if task == "panoptic":
        return client.panoptic(image, config.score_thr)
    return client.click([_CLICK], image=image)


def _client_loop(task: str, config: LoadConfig, image: bytes, deadline: float, outcomes: _Outcomes) -> None:
    client = TritonClient(config.server, config.prefix, config.timeout_s)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                _request(task, client, image, config)
            except RapSamError as err:
                cause = getattr(err.__cause__, "status", None)
                outcomes.add(started, cause() if callable(cause) else type(err).__name__)
                continue
            outcomes.add(started, None)
    finally:
        client.close()


def _figures(outcomes: _Outcomes, elapsed_s: float) -> dict:
    done = np.asarray(outcomes.latencies_ms)
    figures = {
        "requests": len(done) + sum(outcomes.failures.values()),
        "succeeded": len(done),
        "failed": sum(outcomes.failures.values()),
        "failures": dict(outcomes.failures),
        "seconds": elapsed_s,
        "throughput_per_s": len(done) / elapsed_s,
    }
    if len(done):
        figures |= {f"p{q}_ms": float(np.percentile(done, q)) for q in (50, 90, 99)}
        figures["mean_ms"] = float(done.mean())
    return figures


def _served(task: str, concurrency: int, config: LoadConfig, image: bytes) -> dict:
    warm = TritonClient(config.server, config.prefix, config.timeout_s)
    _request(task, warm, image, config)  # warm-up, and the prompt model holds the image from here
    warm.close()
    outcomes = _Outcomes()
    started = time.perf_counter()
    deadline = started + config.duration_s
    workers = [
        threading.Thread(target=_client_loop, args=(task, config, image, deadline, outcomes), daemon=True)
        for _ in range(concurrency)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=config.duration_s + config.timeout_s + 10)
    if any(worker.is_alive() for worker in workers):
        raise RapSamError(f"a {task} client did not finish within its timeout", "the server hangs: look at its log")
    return {"task": task, "mode": "served", "concurrency": concurrency} | _figures(
        outcomes, time.perf_counter() - started
    )


def _in_process(task: str, config: LoadConfig, image: bytes) -> dict:
    """The same requests through this process's runtime (ONNX Runtime on the export), one at a
    time: decoding, pre-processing, graphs, post-processing and (panoptic) the results JSON."""
    from ..predict.panoptic import PanopticPredictor
    from ..predict.preprocess import load_image
    from ..predict.prompt import PromptPredictor
    from ..predict.results import panoptic_json
    from ..predict.runtime import load

    runtime = load(config.export_dir, "onnxruntime", threads=config.threads)
    if task == "panoptic":
        predictor = PanopticPredictor(runtime, score_thr=config.score_thr)

        def step() -> None:
            (found,) = predictor.predict(load_image(image))
            panoptic_json(found, runtime.vocabulary.classes)

    else:
        predictor = PromptPredictor(runtime)
        predictor.set_image(load_image(image))

        def step() -> None:
            predictor.predict([_CLICK])

    step()
    outcomes = _Outcomes()
    started = time.perf_counter()
    while time.perf_counter() - started < config.duration_s:
        begun = time.perf_counter()
        step()
        outcomes.add(begun, None)
    return {"task": task, "mode": "in-process", "concurrency": 1, "backend": runtime.backend.info.label} | _figures(
        outcomes, time.perf_counter() - started
    )


def load_test(config: LoadConfig, log: Log = print) -> dict:
    """Every task at every concurrency against the server (and in process, with ``export_dir``)."""
    if any(c < 1 for c in config.concurrency) or config.duration_s <= 0:
        raise RapSamError("--concurrency values and --duration must be positive", "e.g. --concurrency 1,4,8")
    unknown = [t for t in config.tasks if t not in LOAD_TASKS]
    if unknown:
        raise RapSamError(f"unknown tasks {unknown} for a server", f"use {', '.join(LOAD_TASKS)}")
    client = TritonClient(config.server, config.prefix, config.timeout_s)
    image = photo_bytes()
    report = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(config.threads or 0),
        "server": {"url": config.server, "model": client.label},
        "config": {
            "tasks": list(config.tasks),
            "concurrency": list(config.concurrency),
            "duration_s": config.duration_s,
            "timeout_s": config.timeout_s,
            "photo": _PHOTO,
        },
        "rows": [],
    }
    client.close()
    for task in config.tasks:
        if config.export_dir is not None:
            log(f"{task}: in process ...")
            report["rows"].append(_in_process(task, config, image))
        for concurrency in config.concurrency:
            log(f"{task}: served, {concurrency} client(s) for {config.duration_s:.0f} s ...")
            report["rows"].append(_served(task, concurrency, config, image))
    return report


def markdown(report: dict) -> str:
    lines = [
        "# rapsam-bench --server report",
        "",
        f"Server {report['server']['url']} ({report['server']['model']}); this machine: "
        f"{cpu_label(report['machine'])}, {report['machine']['cores']} cores; {report['created']}. Each measurement: "
        f"{report['config']['duration_s']:.0f} s "
        f"of requests back to back from each client; photo: scikit-image's {report['config']['photo']}. Panoptic: "
        "the encoded photo to the ensemble (decoding, resize, graphs, panoptic merge, instances, JSON); prompt: one "
        "click on the photo the server already holds (prompt graphs and mask upsampling).",
        "",
        "| task | where | clients | requests/s | p50 ms | p90 ms | p99 ms | failed (of) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report["rows"]:
        where = "in process" if row["mode"] == "in-process" else "served"
        latency = " | ".join(f"{row[k]:.0f}" if k in row else "-" for k in ("p50_ms", "p90_ms", "p99_ms"))
        failures = ", ".join(f"{k} {v}" for k, v in row["failures"].items())
        lines.append(f"| {row['task']} | {where} | {row['concurrency']} | {row['throughput_per_s']:.2f} | {latency} | "
                     f"{row['failed']} ({row['requests']}){': ' + failures if failures else ''} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def write_load_report(report: dict, out: Path) -> list[Path]:
    paths = [out / "report.json", out / "report.md"]
    write_atomic(paths[0], (json.dumps(report, indent=1) + "\n").encode())
    write_atomic(paths[1], markdown(report).encode())
    return paths
