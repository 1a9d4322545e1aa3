"""``rapsam-demo``: an interactive page in the browser: click on a photo to segment with prompts,
segment a photo panoptically, track a short clip (gradio, on loopback unless --host says otherwise)."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys

from ..artifacts.files import private_directory
from ..demo.address import DEFAULT_HOST, DEFAULT_PORT, check_port
from ..demo.inputs import MAX_FRAMES, MAX_PIXELS
from ..serve.names import DEFAULT_PREFIX
from .common import command_parser, entry_point
from .options import add_runtime_options, check_at_least

EPILOG = f"""examples:
  rapsam-demo --export-dir exports/r18                    then open http://{DEFAULT_HOST}:{DEFAULT_PORT}
  rapsam-demo --export-dir exports/r18 --resize long:512  faster on a CPU: smaller encoder input
  rapsam-demo --server localhost:8001 --port 7861         prompts and panoptic from a Triton server

Needs the demo extra: pip install 'rapsam-deploy[demo]'. Nothing is downloaded and no share link
is made; --host 0.0.0.0 opens the page to the network (it has no login).
"""


def parser() -> argparse.ArgumentParser:
    p = command_parser("rapsam-demo", __doc__, EPILOG)
    add_runtime_options(p)
    page = p.add_argument_group("the page")
    page.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST}, loopback)")
    page.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    page.add_argument(
        "--resize", default=None, metavar="coco|ytvis|long:N",
        help="every task's resize (default: per task, coco for photos, ytvis for clips)",
    )  # fmt: skip
    page.add_argument("--score-thr", type=float, default=0.3, help="instances shown above this (default: 0.3)")
    page.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                      help=f"larger uploads are refused (default: {MAX_PIXELS}, 4096x4096)")  # fmt: skip
    page.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                      help=f"frames of an uploaded clip that are tracked (default: {MAX_FRAMES})")  # fmt: skip
    served = p.add_argument_group("a Triton server instead of a local runtime (rapsam-serve; prompts and panoptic)")
    served.add_argument("--server", metavar="HOST:PORT", help="the server's gRPC address, e.g. localhost:8001")
    served.add_argument("--model-prefix", default=DEFAULT_PREFIX,
                        help=f"the repository's --name-prefix (default: {DEFAULT_PREFIX})")  # fmt: skip
    return p


def _model(args):
    """The local predictors, or the server's models, that the page calls."""
    from ..demo.models import LocalModel, ServedModel
    from ..predict.preprocess import parse_resize
    from ..predict.runtime import load

    if args.server:
        from ..serve.client import TritonClient

        return ServedModel(TritonClient(args.server, args.model_prefix), args.score_thr)
    resize = parse_resize(args.resize) if args.resize else None
    runtime = load(args.export_dir, args.backend, args.precision, args.variant, args.threads)
    return LocalModel(runtime, resize, args.score_thr)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    check_at_least(args, {"threads": 1, "port": 1, "max_pixels": 1, "max_frames": 1})
    from ..predict.preprocess import parse_resize

    parse_resize(args.resize)  # a bad value is refused before gradio and the model load
    try:
        from ..demo import app
    except ImportError as err:
        from ..errors import RapSamError

        raise RapSamError(f"the demo needs gradio ({err})", "pip install 'rapsam-deploy[demo]'") from err
    from ..demo.handlers import DemoHandlers

    check_port(args.host, args.port)
    model = _model(args)
    print(model.line.text(), file=sys.stderr)
    downloads = private_directory("rapsam-demo-")
    # SIGTERM (a service manager, a container stopping) as Ctrl-C: the server closes and the
    # downloads folder goes, rather than the process dying mid-request.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        handlers = DemoHandlers(model, downloads, args.max_pixels, args.max_frames)
        app.launch(app.build(handlers, model.line), args.host, args.port)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
    return 0


entry = entry_point(main)


if __name__ == "__main__":
    entry()
