"""Image loading and pre-processing, shared by every backend, as the official test pipelines do.

Official pipeline (MMDetection): ``LoadImageFromFile`` (OpenCV, colour, EXIF orientation
applied), ``Resize(scale, keep_ratio=True)`` with mmcv's rule (the largest scale that fits
``max(scale)`` on the long edge and ``min(scale)`` on the short edge, sizes rounded half up,
bilinear ``cv2.resize`` on uint8), then normalisation (inside ``encoder.onnx``) and padding to a
multiple of 32 at the right and bottom with 0 after normalisation, i.e. the mean colour in the
0..255 space the encoder takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..artifacts.contract import IMAGE_MEAN, SIZE_DIVISOR
from ..artifacts.files import check_input_file
from ..errors import RapSamError

COCO_SCALE = (1333, 800)  # the COCO panoptic / COCO-SAM test pipelines
YOUTUBE_VIS_SCALE = (1280, 736)  # the YouTube-VIS 2019 test pipeline


@dataclass(frozen=True)
class ResizePolicy:
    """Keep-aspect resize: fit within ``scale`` (long edge <= max, short edge <= min, mmcv's
    rule), or, with ``long_side``, make the long edge exactly that (SAM's convention)."""

    scale: tuple[int, int] = COCO_SCALE
    long_side: int | None = None

    def factor(self, height: int, width: int) -> float:
        if self.long_side is not None:
            return self.long_side / max(height, width)
        return min(max(self.scale) / max(height, width), min(self.scale) / min(height, width))

    def size(self, height: int, width: int) -> tuple[int, int]:
        """Resized (H, W), rounded half up as mmcv does."""
        factor = self.factor(height, width)
        return int(height * factor + 0.5), int(width * factor + 0.5)

    def describe(self) -> str:
        return f"long side {self.long_side}" if self.long_side else f"fit {self.scale[0]}x{self.scale[1]}"


def parse_resize(text: str | None, video: bool = False) -> ResizePolicy:
    """``coco`` (fit 1333x800), ``ytvis`` (fit 1280x736) or ``long:N``; None is the test
    pipeline's default for images (COCO) or videos (YouTube-VIS)."""
    if text is None:
        return ResizePolicy(YOUTUBE_VIS_SCALE if video else COCO_SCALE)
    if text == "coco":
        return ResizePolicy(COCO_SCALE)
    if text == "ytvis":
        return ResizePolicy(YOUTUBE_VIS_SCALE)
    if text.startswith("long:") and text[5:].isdigit() and int(text[5:]) >= SIZE_DIVISOR:
        return ResizePolicy(long_side=int(text[5:]))
    raise RapSamError(f"bad resize {text!r}", "use coco, ytvis or long:N (e.g. long:1024)")


@dataclass(frozen=True)
class ImageMeta:
    """Where an image's pixels went: original (H, W), resized (H, W) and padded (H, W)."""

    ori_shape: tuple[int, int]
    img_shape: tuple[int, int]
    pad_shape: tuple[int, int]

    @property
    def scale(self) -> tuple[float, float]:
        """(sy, sx): resized pixels per original pixel."""
        return self.img_shape[0] / self.ori_shape[0], self.img_shape[1] / self.ori_shape[1]


def load_image(source: str | Path | bytes) -> np.ndarray:
    """An image file (or its bytes) as RGB uint8 [H,W,3], as the official loader reads it:
    8- or 16-bit, gray, RGB or RGBA, EXIF orientation applied. One clear error otherwise."""
    if isinstance(source, (str, Path)):
        check_input_file(Path(source), "image")
        data, name = Path(source).read_bytes(), str(source)
    else:
        data, name = source, "image bytes"
    if not data:
        raise RapSamError(f"{name} is empty", "pass a JPEG, PNG, TIFF, BMP or WebP image")
    if _truncated(data):
        raise RapSamError(f"{name} is truncated (the file ends before the image does)", "copy or download it again")
    try:
        # IMREAD_COLOR applies EXIF orientation and maps 16-bit, gray and RGBA to 8-bit BGR.
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as err:
        raise _undecodable(name, err) from err
    if image is None:
        raise RapSamError(
            f"{name} cannot be decoded as an image (corrupt, truncated or not an image)",
            "pass a JPEG, PNG, TIFF, BMP or WebP image",
        )
    return np.ascontiguousarray(image[..., ::-1])


def _undecodable(name: str, err: cv2.error) -> RapSamError:
    """OpenCV asserts, rather than returning None, on a header that asks for too much memory."""
    detail = str(err).strip().splitlines()[-1]
    if "CV_IO_MAX_IMAGE_PIXELS" in detail:
        detail = "its header says more pixels than OpenCV decodes (2^30, or $OPENCV_IO_MAX_IMAGE_PIXELS)"
    return RapSamError(f"{name} cannot be decoded: {detail}", "pass a JPEG, PNG, TIFF, BMP or WebP image")


def _truncated(data: bytes) -> bool:
    """JPEG and PNG files end with a marker; OpenCV decodes a cut JPEG without error (grey rows)."""
    if data[:2] == b"\xff\xd8":
        return b"\xff\xd9" not in data[-64:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in data[-16:]
    return False


def check_image(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 [H,W,3] array, or a clear error for anything else."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise RapSamError(f"expected an RGB uint8 array [H,W,3], got {dtype} {shape}", "use load_image(path)")
    if min(image.shape[:2]) < 1:
        raise RapSamError(f"the image is empty ({image.shape})", "pass an image with pixels")
    return image


def resize(image: np.ndarray, policy: ResizePolicy) -> np.ndarray:
    """RGB uint8 [H,W,3] -> resized RGB uint8, bilinear (``cv2.INTER_LINEAR``, as mmcv)."""
    height, width = policy.size(*image.shape[:2])
    if (height, width) == image.shape[:2]:
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def padded_size(height: int, width: int, divisor: int = SIZE_DIVISOR) -> tuple[int, int]:
    """(H, W) rounded up to multiples of ``divisor``."""
    return -(-height // divisor) * divisor, -(-width // divisor) * divisor


def to_batch(images: list[np.ndarray], pad_to: tuple[int, int] | None = None) -> torch.Tensor:
    """Resized RGB uint8 images -> [B,3,Hp,Wp] float32 0..255, padded at the right and bottom
    with the mean colour to a common multiple of 32 (or to ``pad_to``)."""
    height = max(i.shape[0] for i in images)
    width = max(i.shape[1] for i in images)
    pad_h, pad_w = pad_to or padded_size(height, width)
    batch = torch.empty(len(images), 3, pad_h, pad_w, dtype=torch.float32)
    batch[:] = torch.tensor(IMAGE_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        batch[i, :, :h, :w] = torch.from_numpy(image).permute(2, 0, 1)
    return batch


def preprocess(images: list[np.ndarray], policy: ResizePolicy) -> tuple[torch.Tensor, list[ImageMeta]]:
    """RGB uint8 images -> the encoder's input [B,3,Hp,Wp] and each image's :class:`ImageMeta`."""
    resized = [resize(check_image(image), policy) for image in images]
    batch = to_batch(resized)
    pad_shape = tuple(batch.shape[-2:])
    metas = [ImageMeta(i.shape[:2], r.shape[:2], pad_shape) for i, r in zip(images, resized, strict=True)]
    return batch, metas
