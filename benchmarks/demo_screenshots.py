"""Screenshots of the demo's three tabs (README, "Demo"), taken in Debian's headless chromium as a
visitor uses the page: prompts (two clicks and a box on a sample photo), panoptic (a sample photo,
thresholds lowered so that an untrained model's segments show), video (the sample clip, only
tracks scoring above 0.9).

Usage: python benchmarks/demo_screenshots.py [--export-dir exports/r18] [--out docs/demo]
Needs the demo and dev extras and apt's chromium + chromium-driver. Writes prompt.png,
panoptic.png and video.png, each reduced to a 256-colour palette when larger than 300 kB.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path

from PIL import Image

from rapsam_deploy.demo import app
from rapsam_deploy.demo.browser import Browser
from rapsam_deploy.demo.handlers import BOX, CLICK_MODES, DemoHandlers
from rapsam_deploy.demo.models import LocalModel
from rapsam_deploy.predict.preprocess import parse_resize
from rapsam_deploy.predict.runtime import load

MAX_BYTES = 300_000
WINDOW = (1200, 1100)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _shrink(path: Path) -> None:
    """A screenshot over ``MAX_BYTES`` as a 256-colour PNG (text stays sharp, photos dither)."""
    if path.stat().st_size > MAX_BYTES:
        with Image.open(path) as image:
            image.convert("RGB").quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


def take(
    browser: Browser, url: str, out: Path, panoptic_thresholds: tuple[float, float], video_score: float
) -> list[Path]:
    browser.open(url)
    browser.choose("prompt-sample", "astronaut")
    browser.wait_for_text("prompt-info", "encoded once")
    _, shown = browser.image("prompt-image")
    for x, y in ((250, 120), (390, 420)):
        browser.click_image("prompt-image", x, y)
        browser.wait_for_text("prompt-info", f"point ({x}, {y})")
        _, shown = browser.image("prompt-image", shown)
    browser.pick("prompt-mode", CLICK_MODES[BOX])
    browser.click_image("prompt-image", 20, 300)
    browser.click_image("prompt-image", 170, 505)
    browser.wait_for_text("prompt-info", "3 prompts → 3 masks")
    browser.image("prompt-image", shown)
    browser.wait_idle()
    paths = [out / "prompt.png"]
    browser.screenshot(paths[-1])

    browser.tab("Panoptic")
    browser.press("panoptic-thresholds")  # opens the accordion
    browser.set_number("panoptic-score", panoptic_thresholds[0])
    browser.set_number("panoptic-overlap", panoptic_thresholds[1])
    browser.choose("panoptic-sample", "coffee")
    browser.wait_for_text("panoptic-info", " ms (encoder")
    browser.image("panoptic-image")
    browser.wait_idle()
    paths.append(out / "panoptic.png")
    browser.screenshot(paths[-1])

    browser.tab("Video")
    browser.set_number("video-threshold", video_score)
    browser.press("video-sample")
    browser.wait_for_text("video-info", "frames,")
    browser.element("#video-frames img")
    browser.wait_idle()
    paths.append(out / "video.png")
    browser.screenshot(paths[-1])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export-dir", type=Path, default=Path("exports/r18"))
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--resize", default="long:512", help="the encoder input (default: long:512, quick on a CPU)")
    # An untrained model's masks overlap: at the official 0.8 and 0.8 the panoptic tab is empty.
    parser.add_argument("--segment-score", type=float, default=0.5, help="the panoptic tab's segment score slider")
    parser.add_argument("--mask-left", type=float, default=0.3, help="the panoptic tab's mask-left slider")
    parser.add_argument("--video-score", type=float, default=0.9,
                        help="the video tab's slider: an untrained model's many tracks hide the frames")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("docs/demo"))
    args = parser.parse_args()

    model = LocalModel(load(args.export_dir, args.backend), parse_resize(args.resize))
    with tempfile.TemporaryDirectory(prefix="rapsam-demo-") as downloads:
        page = app.build(DemoHandlers(model, Path(downloads)), model.line)
        url = app.launch(page, port=_free_port(), block=False)
        try:
            with Browser(*WINDOW) as browser:
                paths = take(browser, url, args.out, (args.segment_score, args.mask_left), args.video_score)
        finally:
            page.close()
    for path in paths:
        _shrink(path)
        print(f"wrote {path} ({path.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main()
