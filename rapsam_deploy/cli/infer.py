"""``rapsam-infer``: segment images, folders or videos with an exported model; writes overlay PNGs
and JSON results (COCO RLE masks; COCO-panoptic PNGs for panoptic)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import RapSamError
from ..predict.preprocess import parse_resize
from ..serve.names import DEFAULT_PREFIX
from .common import command_parser, entry_point
from .options import add_runtime_options, check_at_least

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}

EPILOG = """examples:
  rapsam-infer photo.jpg                                   panoptic, best backend, results in runs/infer
  rapsam-infer photos/ --backend onnxruntime --output out
  rapsam-infer photo.jpg --points 320,240 100,80 --boxes 10,20,200,300
  rapsam-infer clip.mp4 --clip-size 5 --score-thr 0.3
  rapsam-infer photo.jpg --server localhost:8001           the same files, computed by a Triton server
"""


def parser() -> argparse.ArgumentParser:
    p = command_parser("rapsam-infer", __doc__, EPILOG)
    p.add_argument("inputs", nargs="+", type=Path, help="images, folders of images, or video files")
    add_runtime_options(p)
    p.add_argument("--points", nargs="*", default=[], metavar="X,Y", help="point prompts in image pixels")
    p.add_argument("--boxes", nargs="*", default=[], metavar="X1,Y1,X2,Y2", help="box prompts in image pixels")
    p.add_argument(
        "--resize", default=None, metavar="coco|ytvis|long:N",
        help="coco: fit 1333x800 (images), ytvis: fit 1280x736 (videos), long:N: long side N (default: per task)",
    )  # fmt: skip
    p.add_argument("--score-thr", type=float, default=0.3, help="instances drawn and written above this (default: 0.3)")
    p.add_argument("--clip-size", type=int, help="video: frames per clip T (default: 5, or 3 up to 15 frames)")
    p.add_argument("--stride", type=int, help="video: frames between clip starts (default: T, no overlap)")
    p.add_argument("--output", type=Path, default=Path("runs/infer"), help="output folder (default: runs/infer)")
    served = p.add_argument_group("a Triton server instead of a local runtime (rapsam-serve)")
    served.add_argument("--server", metavar="HOST:PORT", help="the server's gRPC address, e.g. localhost:8001")
    served.add_argument("--model-prefix", default=DEFAULT_PREFIX,
                        help=f"the repository's --name-prefix (default: {DEFAULT_PREFIX})")  # fmt: skip
    return p


def _numbers(texts: list[str], count: int, what: str) -> list[list[float]]:
    values = []
    for text in texts:
        try:
            numbers = [float(v) for v in text.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
            raise RapSamError(f"bad {what} {text!r}", f"write each as {count} comma-separated finite numbers")
        values.append(numbers)
    return values


def check_images(images: list[Path], prompts) -> None:
    """Decode every image once before the model loads, and check the prompts against each
    image's size: a bad file or prompt is refused before any work rather than after hours of it
    (decoding costs a small part of segmenting)."""
    from ..predict.preprocess import load_image
    from ..predict.prompt import check_prompts

    for path in images:
        height, width = load_image(path).shape[:2]
        if prompts:
            try:
                check_prompts(*prompts, height, width)
            except RapSamError as err:
                raise RapSamError(f"{path}: {err.what}", err.fix or "give prompts inside every image") from err


def collect(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """Images and videos named or found in the folders given."""
    images, videos = [], []
    for path in inputs:
        if not path.exists():
            raise RapSamError(f"{path} does not exist", "check the path")
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise RapSamError(f"{path} holds no images", f"images end in {', '.join(sorted(IMAGE_SUFFIXES))}")
            images += found
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            videos.append(path)
        else:
            images.append(path)
    return images, videos


def _image_results(predictor, path: Path, args, prompts) -> None:
    """One image through the local runtime's predictor."""
    from ..predict import results
    from ..predict.preprocess import load_image

    stem, image = args.output / path.stem, load_image(path)
    if prompts:
        predictor.set_image(image)
        results.write_prompt(stem, image, str(path), predictor.predict(*prompts))
    else:
        (found,) = predictor.predict(image)
        names = predictor.runtime.vocabulary.classes
        results.write_panoptic(stem, image, str(path), found.panoptic.id_map, results.panoptic_json(found, names))


def _served_image_results(client, path: Path, args, prompts) -> None:
    """One image through a Triton server (encoded bytes in): the same files as a local run."""
    from ..predict import results
    from ..predict.preprocess import load_image

    data = path.read_bytes()
    stem, image = args.output / path.stem, load_image(data)
    if prompts:
        results.write_prompt(stem, image, str(path), client.prompt(*prompts, image=data))
    else:
        id_map, result = client.panoptic(data, args.score_thr)
        results.write_panoptic(stem, image, str(path), id_map, result)


def _video_results(runtime, path: Path, args) -> None:
    from tqdm import tqdm

    from ..predict import results
    from ..predict.video import VideoPredictor, read_video

    names = runtime.vocabulary.classes
    frames = list(tqdm(read_video(path), desc=f"reading {path.name}", unit="frame"))
    video = VideoPredictor(runtime, args.clip_size, args.stride, parse_resize(args.resize, video=True), args.score_thr)
    rows = []
    for index, found in enumerate(tqdm(video.predict(frames), desc="writing", unit="frame")):
        drawn = results.frame_overlay(frames[index], found, names)
        results.write_png(args.output / path.stem / f"frame_{index:05d}.png", drawn)
        rows.append(results.frame_json(index, found, names))
    results.write_json(args.output / f"{path.stem}.json", {"video": str(path), "frames": rows})


def _checked_export(args):
    """The export, its graph files verified now (present, as the manifest says): backends open
    them at first use, which would be after the first images' work. Torch backends rebuild the
    model instead."""
    from ..artifacts import contract
    from ..artifacts.export_dir import ExportDir

    export = ExportDir.open(args.export_dir)
    if not args.backend.startswith("torch"):
        for graph in contract.GRAPH_NAMES:
            export.graph_file(graph, args.variant, args.precision)
    return export


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from tqdm import tqdm

    from ..artifacts.files import check_writable
    from ..predict.panoptic import PanopticPredictor
    from ..predict.prompt import PromptPredictor
    from ..predict.runtime import load

    check_at_least(args, {"threads": 1, "clip_size": 1, "stride": 1})
    points, boxes = _numbers(args.points, 2, "point"), _numbers(args.boxes, 4, "box")
    prompts = (points or None, boxes or None) if points or boxes else None
    resize = parse_resize(args.resize, video=False)
    check_writable(args.output)
    export = None if args.server else _checked_export(args)
    images, videos = collect(args.inputs)
    check_images(images, prompts)
    progress = tqdm(images, desc="images", unit="image", disable=not images)
    if args.server:
        _served(args, images, videos, prompts, progress)
    else:
        runtime = load(export, args.backend, args.precision, args.variant, args.threads)
        print(f"backend: {runtime.backend.info.label}; model: {runtime.label}", file=sys.stderr)
        predictor = (
            PromptPredictor(runtime, resize)
            if prompts
            else PanopticPredictor(runtime, resize, score_thr=args.score_thr)
        )
        for path in progress:
            _image_results(predictor, path, args, prompts)
        for path in videos:
            _video_results(runtime, path, args)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _served(args, images: list[Path], videos: list[Path], prompts, progress) -> None:
    from ..serve.client import TritonClient

    if videos:
        raise RapSamError(
            f"{videos[0]} is a video: the Triton repository serves images (panoptic and prompts)",
            "segment videos locally (without --server)",
        )
    if args.resize is not None:
        raise RapSamError("--resize applies to local runs: a server resizes as its repository says",
                          "set it with rapsam-serve repository --resize, or run without --server")  # fmt: skip
    client = TritonClient(args.server, args.model_prefix)
    print(f"server: {args.server}; model: {client.label}", file=sys.stderr)
    for path in progress:
        _served_image_results(client, path, args, prompts)


entry = entry_point(main)


if __name__ == "__main__":
    entry()
