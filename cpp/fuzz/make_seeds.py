"""Seed corpora for the fuzz targets of cpp/fuzz: real files as the Python runtime writes them.

``python cpp/fuzz/make_seeds.py OUT_DIR`` writes OUT_DIR/<target>/ for each target: the manifest
of tests/cpp_reference.py's export, engine sidecars as ``write_engine``
writes them (for the 4-byte plan the harness puts beside them), .npy files of every dtype and
format version the reader takes, and small images in every format the demo reads.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from cpp_reference import SIDECAR, smooth_image, write_manifest

from rapsam_deploy.engines import engine_file

# The plan fuzz_engine_sidecar.cpp writes beside each sidecar.
PLAN = b"ftrt"


def manifest_seeds(out: Path, scratch: Path) -> None:
    write_manifest(scratch / "export")
    text = (scratch / "export" / "manifest.json").read_bytes()
    (out / "manifest.json").write_bytes(text)
    # The same with one artefact, compact: a fifth of the bytes for the mutations to go through.
    small = json.loads(text)
    small["artifacts"] = small["artifacts"][:1]
    (out / "one_artifact.json").write_text(json.dumps(small, separators=(",", ":")))


def sidecar_seeds(out: Path, scratch: Path) -> None:
    standard = replace(SIDECAR, variant="standard", plugin_sha256=None, graph="encoder")
    for name, sidecar in (("plugin", SIDECAR), ("standard", standard)):
        plan = scratch / f"{name}.plan"
        engine_file.write_engine(plan, sidecar, PLAN)
        (out / f"{name}.plan.json").write_bytes(engine_file.sidecar_path(plan).read_bytes())


def npy_seeds(out: Path) -> None:
    arrays = {
        "object_queries": np.linspace(-1, 1, 4 * 256, dtype=np.float32).reshape(4, 256),
        "int32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "int64": np.arange(5, dtype=np.int64),
        "float64": np.ones((2, 1, 2)),
        "uint8": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "bool": np.eye(3, dtype=bool),
        "scalar": np.float32(1.5),
        "empty": np.zeros((0, 256), np.float32),
    }
    for name, array in arrays.items():
        np.save(out / f"{name}.npy", array)
    for version in ((2, 0), (3, 0)):
        data = io.BytesIO()
        np.lib.format.write_array(data, arrays["int32"], version=version)
        (out / f"version{version[0]}.npy").write_bytes(data.getvalue())


def exif_jpeg(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with an EXIF segment that says ``orientation`` (which IMREAD_COLOR applies)."""
    tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + bytes(4)
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def image_seeds(out: Path) -> None:
    bgr = smooth_image(np.random.default_rng(0), 6, 8)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    images = {
        "rgb.png": (bgr, []),
        "gray16.png": ((gray.astype(np.uint16) * 257), []),
        "rgba.png": (np.dstack([bgr, gray]), []),
        "photo.jpg": (bgr, [cv2.IMWRITE_JPEG_QUALITY, 90]),
        "progressive.jpg": (bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        "image.bmp": (bgr, []),
        "image.tiff": (bgr, []),
        "image.webp": (bgr, []),
    }
    for name, (image, params) in images.items():
        ok, data = cv2.imencode(Path(name).suffix, image, params)
        if ok:  # an OpenCV built without one of the codecs writes the others
            (out / name).write_bytes(data.tobytes())
    (out / "rotated.jpg").write_bytes(exif_jpeg((out / "photo.jpg").read_bytes(), 6))


def main(out: Path) -> None:
    folders = {name: out / name for name in ("manifest", "engine_sidecar", "npy", "image")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        manifest_seeds(folders["manifest"], Path(scratch))
        sidecar_seeds(folders["engine_sidecar"], Path(scratch))
    npy_seeds(folders["npy"])
    image_seeds(folders["image"])
    for folder in folders.values():
        print(f"{folder}: {len(list(folder.iterdir()))} seeds")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python cpp/fuzz/make_seeds.py OUT_DIR")
    main(Path(sys.argv[1]))
