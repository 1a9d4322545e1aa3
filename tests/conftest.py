"""Shared fixtures: the r18 reference model with random weights and real photos."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))


def skip_unless_required(variable: str, reason: str) -> None:
    """Skip for `reason`, or fail where CI set `variable`=1 to say the missing piece was installed."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{variable}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def taken_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port that something listens on for the block (for the commands' port-in-use errors)."""
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        yield taken.getsockname()[1]


def official_keys(backbone: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every key of the official state dict with shape and dtype (tests/data, from the
    official code at the commit named in the file's header)."""
    keys = {}
    for line in (TESTS / "data" / f"official_keys_{backbone}.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        key, shape, dtype = line.split("\t")
        keys[key] = (tuple(int(s) for s in shape.strip("()").split(",") if s.strip()), dtype)
    return keys


def photo(height: int, width: int, name: str = "astronaut") -> torch.Tensor:
    """A scikit-image sample photo resized to [1,3,H,W], RGB float 0..255."""
    from skimage import data

    image = np.asarray(getattr(data, name)(), dtype=np.float32)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    tensor = torch.from_numpy(image[..., :3]).permute(2, 0, 1)[None]
    return F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 255)


def photo_rgb(height: int, width: int, name: str = "astronaut") -> np.ndarray:
    """A scikit-image sample photo resized to RGB uint8 [H,W,3], as the predictors take images."""
    return photo(height, width, name)[0].permute(1, 2, 0).round().to(torch.uint8).numpy()


EXPORT_SIZE = (128, 160)


@pytest.fixture(scope="session")
def exported_r18(tmp_path_factory) -> tuple[Path, str]:
    """r18 exported by the CLI at 128x160 with both variants and precisions, and what it printed."""
    import contextlib
    import io

    from rapsam_deploy.cli import export as export_cli
    from rapsam_deploy.cli.common import run

    output = tmp_path_factory.mktemp("export") / "r18"
    argv = ["--image-size", *map(str, EXPORT_SIZE), "--variant", "both", "--precision", "both", "--output", str(output)]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert run(export_cli.main, argv) == 0
    return output, stdout.getvalue()


@pytest.fixture(scope="session")
def exported_decomposed(tmp_path_factory) -> Path:
    """r18 exported at 128x160 with ``--deform-conv decomposed`` (standard fp32, validated)."""
    from rapsam_deploy.export import export_model

    output = tmp_path_factory.mktemp("decomposed") / "r18"
    export_model(output=output, image_size=EXPORT_SIZE, deform_conv="decomposed", log=lambda _: None)
    return output


@pytest.fixture(scope="session")
def r18():
    from rapsam_deploy.model import build_model

    return build_model("r18", seed=0)


torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
