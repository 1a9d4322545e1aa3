"""Loading official checkpoints and class embeddings: strict, safe, and clear when wrong."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import official_keys

from rapsam_deploy.errors import CheckpointError, ClassEmbeddingError, UnknownBackboneError
from rapsam_deploy.model import build_model
from rapsam_deploy.model.build import expected_shapes

_DTYPES = {"float32": torch.float32, "int64": torch.int64}


class HistoryBuffer:
    """Stands for mmengine's metadata classes: not importable where the checkpoint is read."""

    def __init__(self) -> None:
        self.values = np.arange(4.0)


class ConfigDict(dict):
    """A dict subclass, as mmengine's config objects are."""


def official_state_dict(backbone: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with exactly the official key names, shapes and dtypes."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, (shape, dtype) in official_keys(backbone).items():
        if dtype == "int64":
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


def mmengine_checkpoint(state: dict, path: Path) -> Path:
    torch.save(
        {
            "meta": {"epoch": 12, "seed": np.int64(3), "cfg": ConfigDict(model="rapsam"), "time": np.float64(1.5)},
            "state_dict": {f"module.{k}": v for k, v in state.items()},
            "message_hub": {"log_scalars": {"loss": HistoryBuffer()}},
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]},
        },
        path,
    )
    return path


@pytest.mark.parametrize("backbone", ["r18", "r50"])
def test_model_has_the_official_keys_shapes_and_dtypes(backbone):
    ours = {k: (tuple(v), None) for k, v in expected_shapes(backbone).items()}
    official = official_keys(backbone)
    assert set(ours) == set(official)
    assert {k: ours[k][0] for k in ours} == {k: official[k][0] for k in official}


def test_official_checkpoint_round_trip(tmp_path):
    state = official_state_dict("r18")
    model = build_model("r18", checkpoint=mmengine_checkpoint(state, tmp_path / "rapsam_r18.pth"))
    loaded = model.state_dict()
    for key, value in state.items():
        assert torch.equal(loaded[key], value.to(_DTYPES[official_keys("r18")[key][1]])), key
    assert model.info.trained and model.info.checkpoint_sha256 and len(model.info.checkpoint_sha256) == 64
    skipped = "\n".join(model.info.skipped_checkpoint_entries)
    for expected in ("'meta'", "'message_hub'", "'optimizer'", "HistoryBuffer"):
        assert expected in skipped
    assert "random weights" not in model.info.label


@pytest.mark.parametrize("wrap", ["bare", "model"])
def test_bare_and_model_entry_checkpoints(tmp_path, wrap):
    state = official_state_dict("r18", seed=1)
    path = tmp_path / "ckpt.pth"
    torch.save(state if wrap == "bare" else {"model": state}, path)
    model = build_model("r18", checkpoint=path)
    assert torch.equal(model.state_dict()["panoptic_head.kernels.weight"], state["panoptic_head.kernels.weight"])


def test_checkpoint_of_the_other_backbone_is_named(tmp_path):
    path = tmp_path / "r50.pth"
    torch.save({"state_dict": official_state_dict("r50")}, path)
    with pytest.raises(CheckpointError, match="look like r50; you asked for r18") as err:
        build_model("r18", checkpoint=path)
    assert "keys with another shape" in str(err.value) and "unexpected keys" in str(err.value)


def test_missing_unexpected_and_misshaped_keys_are_listed(tmp_path):
    state = official_state_dict("r18")
    del state["neck.loc_conv.bias"]
    state["panoptic_head.extra.weight"] = torch.zeros(3)
    state["panoptic_head.prompt_iou.weight"] = torch.zeros(2, 256)
    path = tmp_path / "edited.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        build_model("r18", checkpoint=path)
    message = str(err.value)
    assert "1 missing keys:\n    neck.loc_conv.bias" in message
    assert "1 unexpected keys:\n    panoptic_head.extra.weight" in message
    assert "panoptic_head.prompt_iou.weight: (2, 256) vs (1, 256)" in message


def test_checkpoint_of_another_model_says_so(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, path)
    with pytest.raises(CheckpointError, match="does not look like a RAP-SAM checkpoint"):
        build_model("r18", checkpoint=path)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "cut.pth"
    torch.save(official_state_dict("r18"), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch file"):
        build_model("r18", checkpoint=path)


def test_not_a_checkpoint_and_missing_file(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch file"):
        build_model("r18", checkpoint=text)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_model("r18", checkpoint=tmp_path / "absent.pth")


def test_code_in_a_checkpoint_is_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        torch.save({"state_dict": official_state_dict("r18"), "meta": Payload()}, f, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="cannot be read without running code from it"):
        build_model("r18", checkpoint=path)
    assert not marker.exists()


def test_unknown_backbone():
    with pytest.raises(UnknownBackboneError, match="r18, r50"):
        build_model("r101")


def _save(tmp_path: Path, obj: object, name: str = "embed.pth") -> Path:
    torch.save(obj, tmp_path / name)
    return tmp_path / name


def _unit(*shape: int) -> torch.Tensor:
    embed = torch.randn(*shape)
    return embed / embed.norm(dim=-1, keepdim=True)


def test_class_embedding_sets_the_classes(tmp_path):
    model = build_model("r18", class_embed=_save(tmp_path, _unit(40, 3, 768)))
    assert model.num_classes == 40
    assert model.panoptic_head.classifier.fc_cls.shape == (768, 41, 3)


@pytest.mark.parametrize(
    "obj,match",
    [
        (torch.randn(40, 768), "expected a float tensor"),
        (torch.randn(40, 3, 768), "not unit-norm"),
        ({"a": _unit(4, 1, 768), "b": _unit(4, 1, 768)}, "dict with 2 tensors"),
    ],
)
def test_bad_class_embedding(tmp_path, obj, match):
    with pytest.raises(ClassEmbeddingError, match=match):
        build_model("r18", class_embed=_save(tmp_path, obj))


def test_class_embedding_dim_must_fit_the_checkpoint(tmp_path):
    ckpt = _save(tmp_path, official_state_dict("r18"), "ckpt.pth")
    with pytest.raises(ClassEmbeddingError, match="dim 512 but the checkpoint's classifier projects to 768"):
        build_model("r18", checkpoint=ckpt, class_embed=_save(tmp_path, _unit(10, 1, 512)))
