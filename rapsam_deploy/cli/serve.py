"""``rapsam-serve``: serve an export with NVIDIA's Triton Inference Server: write a model repository
(``repository``), or start a server on one (``start``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..serve.names import DEFAULT_PREFIX
from .common import command_parser, entry_point
from .options import add_export_dir, add_precision, add_threads, add_variant

EPILOG = """examples:
  rapsam-serve repository exports/r18 --output repo                     CPU serving: Python-backend graph models
  rapsam-serve repository exports/r18 --output repo --graphs onnxruntime --instances 2
  rapsam-serve repository exports/r18 --output repo --graphs tensorrt --precision fp16   after rapsam-build
  rapsam-serve start repo --grpc-port 8001 --http-port 8000             until Ctrl-C
  rapsam-infer photo.jpg --server localhost:8001                         a client

A client calls rapsam_panoptic (IMAGE: encoded bytes, SCORE_THRESHOLD -> PANOPTIC_ID_MAP, RESULT_JSON) or
rapsam_prompt (IMAGE_ID, IMAGE once, POINTS/BOXES -> MASKS, IOU, PROMPT_INDEX). README, "Serving".
"""


def parser() -> argparse.ArgumentParser:
    p = command_parser("rapsam-serve", __doc__, EPILOG)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    repository = commands.add_parser(
        "repository",
        help="write a Triton model repository from an export",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_export_dir(repository, positional=True)
    repository.add_argument("--output", type=Path, required=True, metavar="REPO", help="the repository folder")
    repository.add_argument(
        "--graphs",
        choices=["python", "onnxruntime", "tensorrt"],
        default="python",
        help="how the graphs run: Python-backend models on ONNX Runtime (any server, CPU), "
        "Triton's onnxruntime backend, or TensorRT plans from rapsam-build (default: python)",
    )
    add_precision(repository)
    add_variant(repository)
    serving = repository.add_argument_group("serving")
    serving.add_argument("--instances", type=int, default=1, help="instances of each model (default: 1)")
    serving.add_argument(
        "--max-batch",
        type=int,
        default=4,
        help="the largest batch the dynamic batcher forms for the graphs that batch (default: 4)",
    )
    serving.add_argument(
        "--queue-size",
        type=int,
        default=16,
        help="requests waiting per model before new ones are refused as UNAVAILABLE (default: 16)",
    )
    serving.add_argument(
        "--timeout-ms",
        type=int,
        default=30_000,
        help="the longest a request waits in a queue before it is refused (default: 30000)",
    )
    serving.add_argument(
        "--name-prefix", default=DEFAULT_PREFIX, help=f"of every model's name (default: {DEFAULT_PREFIX})"
    )
    serving.add_argument(
        "--resize", metavar="coco|ytvis|long:N", help="the images' resize (default: coco, fit 1333x800)"
    )
    serving.add_argument(
        "--cache-images", type=int, default=8, help="encoded images the prompt model keeps per instance (default: 8)"
    )
    add_threads(serving)
    repository.add_argument("--force", action="store_true", help="replace an existing repository")

    start = commands.add_parser("start", help="start a Triton server on a repository and wait until it stops")
    start.add_argument("repository", type=Path, metavar="REPO", help="a repository written by rapsam-serve repository")
    start.add_argument("--http-port", type=int, help="default: a free port")
    start.add_argument("--grpc-port", type=int, help="default: a free port")
    start.add_argument("--metrics-port", type=int, help="default: a free port")
    start.add_argument("--server-binary", type=Path, help="a tritonserver (default: on PATH, else nvidia-pytriton's)")
    start.add_argument("--log", type=Path, help="the server's log file (default: a temporary file)")
    start.add_argument(
        "--ready-timeout", type=float, default=300.0, help="seconds to wait for readiness (default: 300)"
    )
    return p


def _repository(args) -> int:
    from ..artifacts.export_dir import ExportDir
    from ..predict.preprocess import parse_resize
    from ..serve.repository import RepositoryOptions, write_repository
    from ..serve.triton_config import ServingOptions

    parse_resize(args.resize)  # a bad value is refused before anything is written
    options = RepositoryOptions(
        output=args.output,
        graphs=args.graphs,
        precision=args.precision,
        variant=args.variant,
        prefix=args.name_prefix,
        resize=args.resize,
        threads=args.threads,
        cache_images=args.cache_images,
        force=args.force,
        serving=ServingOptions(args.instances, args.max_batch, args.queue_size, args.timeout_ms),
    )
    models = write_repository(ExportDir.open(args.export_dir), options)
    print(f"wrote {args.output}: {len(models)} models: {', '.join(models)}")
    print(f"serve it: rapsam-serve start {args.output}")
    return 0


def _start(args) -> int:
    from ..serve.server import ServerOptions, TritonServer

    options = ServerOptions(
        args.repository,
        args.http_port,
        args.grpc_port,
        args.metrics_port,
        args.server_binary,
        ready_timeout_s=args.ready_timeout,
        log=args.log,
    )
    server = TritonServer(options)
    print(f"starting {server.binary.path} on {args.repository} ...", file=sys.stderr)
    with server:
        print(
            f"ready: gRPC {server.grpc_url}, HTTP {server.http_url}, metrics 127.0.0.1:{server.metrics_port}; "
            "Ctrl-C stops it",
            flush=True,
        )
        status = server.wait()
    print(f"the server stopped (exit status {status})", file=sys.stderr)
    return 0 if status in (0, -2, -15) else 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return _repository(args) if args.command == "repository" else _start(args)


entry = entry_point(main)


if __name__ == "__main__":
    entry()
