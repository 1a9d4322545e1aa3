"""What the page takes in, checked before the model sees it: photos (uploaded files or the
scikit-image samples) and short clips (uploaded videos or a sample clip panned over a photo).

Every refusal is a :class:`RapSamError` the page shows as a message: a file that is not an
image, an image with more pixels than the demo segments, a clip that does not decode.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import RapSamError
from ..predict.preprocess import load_image
from ..predict.video import read_video

# 16.7 MP (4096 x 4096): more than any camera photo people try a demo with, and an encoder
# input the CPU still answers in seconds after the resize; a larger upload is refused, not slowed.
MAX_PIXELS = 4096 * 4096
# A clip is cut after this many frames: the page shows every frame and the CPU encodes each.
MAX_FRAMES = 16
SAMPLE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
_SAMPLE_CLIP_FRAMES = 6


@dataclass
class Photo:
    """An RGB uint8 [H,W,3] photo, its encoded bytes (what a server is sent) and where it came from."""

    rgb: np.ndarray
    data: bytes
    source: str


def _check_size(height: int, width: int, source: str, max_pixels: int) -> None:
    if height * width > max_pixels:
        raise RapSamError(
            f"{source} is {width}x{height} ({height * width / 1e6:.1f} MP): the demo segments up to "
            f"{max_pixels / 1e6:.1f} MP",
            "downscale it first, or start rapsam-demo with a larger --max-pixels",
        )


def _check_header(data: bytes, source: str, max_pixels: int) -> None:
    """Refuse a huge (or decompression-bomb) image from its header alone, before it is decoded;
    formats Pillow does not know pass (OpenCV decides, and the decoded size is checked)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                height, width = image.height, image.width
    except Image.DecompressionBombError as err:  # Pillow's own limit, far above any sensible --max-pixels
        raise RapSamError(f"{source} is too large to segment ({err})", "downscale it first") from err
    except (UnidentifiedImageError, OSError, ValueError):
        return
    _check_size(height, width, source, max_pixels)


def read_photo(path: str | Path, max_pixels: int = MAX_PIXELS) -> Photo:
    """An uploaded image file as a :class:`Photo`; refused if it is not an image or has more
    than ``max_pixels`` pixels."""
    path = Path(path)
    source = path.name
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RapSamError(f"{source} cannot be read ({err.strerror})", "upload it again") from err
    if data:
        _check_header(data, source, max_pixels)
    try:
        rgb = load_image(data)
    except RapSamError as err:  # its message names "image bytes"; the page names the file
        raise RapSamError(f"{source}: {err.what}", err.fix) from err
    _check_size(*rgb.shape[:2], source, max_pixels)
    return Photo(rgb, data, source)


def encode_png(rgb: np.ndarray) -> bytes:
    """RGB uint8 [H,W,3] -> PNG bytes (lossless: a server sees the pixels the page shows)."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RapSamError("the image cannot be encoded as PNG")
    return encoded.tobytes()


def sample_photo(name: str, long_side: int | None = None) -> Photo:
    """One of ``SAMPLE_PHOTOS`` (shipped with scikit-image: nothing is downloaded), optionally
    resized so that its long side is ``long_side`` (small pages and fast tests)."""
    from skimage import data

    if name not in SAMPLE_PHOTOS:
        raise RapSamError(f"no sample photo {name!r}", f"choose from {', '.join(SAMPLE_PHOTOS)}")
    rgb = np.ascontiguousarray(getattr(data, name)()[..., :3])
    if long_side is not None:
        factor = long_side / max(rgb.shape[:2])
        size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return Photo(rgb, encode_png(rgb), name)


def sample_clip(long_side: int | None = None) -> list[np.ndarray]:
    """A short clip without a video file: a window panning across the ``coffee`` photo,
    ``_SAMPLE_CLIP_FRAMES`` RGB uint8 frames of one size (objects move, so tracks must follow)."""
    rgb = sample_photo("coffee", long_side).rgb
    width = rgb.shape[1]
    window = width * 3 // 4
    steps = np.linspace(0, width - window, _SAMPLE_CLIP_FRAMES).round().astype(int)
    return [np.ascontiguousarray(rgb[:, x : x + window]) for x in steps]


def read_clip(path: str | Path, max_frames: int = MAX_FRAMES, max_pixels: int = MAX_PIXELS) -> tuple[list, bool]:
    """An uploaded video's first ``max_frames`` frames (RGB uint8 [H,W,3]) and whether it had
    more; refused if it does not decode or its frames are larger than ``max_pixels``."""
    path = Path(path)
    reader = read_video(path)
    try:
        first = next(reader)
    except RapSamError as err:  # its message names the server's temporary copy; the page names the file
        raise RapSamError(
            f"{path.name} cannot be decoded as a video",
            "upload an MP4, AVI, MOV or WebM clip that OpenCV reads, or try the sample clip",
        ) from err
    _check_size(*first.shape[:2], path.name, max_pixels)
    frames = [first]
    for frame in reader:
        if len(frames) == max_frames:
            reader.close()
            return frames, True
        frames.append(frame)
    return frames, False
