"""The int8 graphs' speed in ONNX Runtime against the fp32 ones: the encoder on a photo and the
decoder on its features with the object queries, at each size, batch 1, the two forms run
alternately so that a busy machine slows both alike. Needs an export with both forms::

    python -c "from rapsam_deploy.export import export_model; \\
        export_model(backbone='r18', image_size=(512, 512), precisions=('fp32', 'int8'), output='exports/r18-int8')"
    python benchmarks/int8_speed.py --export-dir exports/r18-int8 --sizes 512 1024 --threads 2 --out runs/int8-speed
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from report_files import write_report

from rapsam_deploy.artifacts import contract
from rapsam_deploy.artifacts.export_dir import ExportDir
from rapsam_deploy.backends.onnxruntime_session import create_session, run
from rapsam_deploy.export.reference_cases import photos
from rapsam_deploy.machine import cpu_label, machine

PRECISIONS = ("fp32", "int8")
GRAPHS = (contract.ENCODER, contract.DECODER)


def feeds(export: ExportDir, size: int, threads: int | None) -> dict[str, dict[str, np.ndarray]]:
    """Each timed graph's inputs at ``size`` x ``size``: a photo, then its fp32 features with the
    object queries (every query may attend to every other)."""
    image = photos(1, (size, size)).numpy()
    encoder = create_session(export.graph_file(contract.ENCODER.name), threads=threads)
    (features,) = contract.ENCODER.unpack(run(encoder, contract.ENCODER.bind(image)))
    queries = export.object_queries()[None]
    attn_mask = np.zeros((queries.shape[1], queries.shape[1]), dtype=bool)
    return {
        contract.ENCODER.name: contract.ENCODER.bind(image),
        contract.DECODER.name: contract.DECODER.bind(features, queries, attn_mask),
    }


def time_graph(export: ExportDir, spec: contract.GraphSpec, feed: dict, iters: int, threads: int | None) -> dict:
    """Milliseconds per run of each precision's file of ``spec`` (median and all), after one
    warm-up run each; the precisions alternate run by run."""
    sessions = {p: create_session(export.graph_file(spec.name, precision=p), threads=threads) for p in PRECISIONS}
    for session in sessions.values():
        run(session, feed)
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for _ in range(iters):
        for precision, session in sessions.items():
            start = time.perf_counter()
            run(session, feed)
            times[precision].append((time.perf_counter() - start) * 1e3)
    return {p: {"median_ms": statistics.median(t), "ms": t} for p, t in times.items()}


def _markdown(report: dict) -> str:
    lines = [
        "# int8 against fp32 in ONNX Runtime (CPU)",
        "",
        f"Export: {report['export']}. Machine: {report['machine']}, {report['threads']} threads. Batch 1, "
        f"{report['iters']} runs per form after a warm-up, alternating; median.",
        "",
        "| graph | size | fp32 ms | int8 ms | int8 / fp32 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in report["rows"]:
        fp32, int8 = r["fp32"]["median_ms"], r["int8"]["median_ms"]
        lines.append(f"| {r['graph']} | {r['size']} | {fp32:.0f} | {int8:.0f} | {int8 / fp32:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--export-dir", type=Path, required=True, help="an export with fp32 and int8 standard graphs")
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("runs/int8-speed"))
    args = p.parse_args(argv)
    export = ExportDir.open(args.export_dir)
    rows = []
    for size in args.sizes:
        graph_feeds = feeds(export, size, args.threads)
        for spec in GRAPHS:
            row = {"graph": spec.name, "size": size}
            row |= time_graph(export, spec, graph_feeds[spec.name], args.iters, args.threads)
            print(f"{spec.name} {size}: fp32 {row['fp32']['median_ms']:.0f} ms, int8 {row['int8']['median_ms']:.0f} ms",
                  file=sys.stderr, flush=True)  # fmt: skip
            rows.append(row)
    report = {
        "export": export.manifest.model.get("label", str(args.export_dir)),
        "machine": cpu_label(machine(args.threads)),
        "threads": args.threads,
        "iters": args.iters,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
    }
    write_report(args.out, report, _markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
