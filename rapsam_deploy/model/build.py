"""``build_model``: the reference model from an official checkpoint, or random weights.

Random weights (no checkpoint) are reproducible from a seed and marked untrained. They follow
the official initialisation (ResNet as torchvision, Xavier neck, truncated-normal decoder
stages) and are then calibrated on one synthetic batch (BatchNorm statistics, deformable
offsets of about a pixel), so that activations have the scale of a trained network: exports,
parity checks and fp16 behave as they would with real weights, and the numbers are labelled
as random weights everywhere.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ClassEmbeddingError
from .backbones import backbone_names, get_backbone_spec, init_resnet
from .checkpoint import LoadedCheckpoint, compare_keys, load_strict, read_checkpoint, read_class_embed
from .neck import DeformLayer
from .rapsam import ModelInfo, RapSam

# Without a class-embedding file: COCO panoptic's 133 classes, one prototype, and the
# embedding dim of the official classifier (ConvNeXt-L CLIP text tower).
DEFAULT_NUM_CLASSES = 133
DEFAULT_EMBED_DIM = 768
_CALIBRATION_SIZE = (256, 256)


def random_class_embed(num_classes: int = DEFAULT_NUM_CLASSES, dim: int = DEFAULT_EMBED_DIM, seed: int = 0) -> Tensor:
    """Unit-norm random class embeddings [K,1,D] from a seed."""
    generator = torch.Generator().manual_seed(seed)
    embed = torch.randn(num_classes, 1, dim, generator=generator)
    return embed / embed.norm(dim=-1, keepdim=True)


def _init_random(model: RapSam) -> None:
    init_resnet(model.backbone)
    model.neck.init_official()
    model.panoptic_head.init_official()


def _calibration_batch(seed: int) -> Tensor:
    """Two smooth random images (photo-like low frequencies plus fine texture), RGB 0..255."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(2, 3, 16, 16, generator=generator)
    smooth = F.interpolate(coarse, size=_CALIBRATION_SIZE, mode="bicubic", align_corners=False)
    texture = torch.rand(2, 3, *_CALIBRATION_SIZE, generator=generator) - 0.5
    return ((smooth + 0.2 * texture) * 255).clamp(0, 255)


@torch.no_grad()
def calibrate_random_weights(model: RapSam, seed: int) -> None:
    """Give random weights a trained network's scale, from one synthetic batch:

    1. every BatchNorm's running statistics become the batch's, so normalised activations have
       zero mean and unit variance;
    2. each deformable layer's offset conv is rescaled so that offsets and modulation logits
       have a standard deviation of 1 (a pixel), as in trained models; Xavier initialisation
       alone gives offsets of tens of pixels, which makes the neck numerically chaotic.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch gives exactly its statistics
        bn.train()
    batch = _calibration_batch(seed)
    model.forward_encoder(batch)
    for bn in norms:
        bn.momentum = 0.1
        bn.eval()

    offset_convs = [m.dcn_offset for m in model.modules() if isinstance(m, DeformLayer)]
    stds: dict[nn.Module, Tensor] = {}

    def record(conv: nn.Module, args: tuple, out: Tensor) -> None:
        stds[conv] = out.std(dim=(0, 2, 3))

    hooks = [conv.register_forward_hook(record) for conv in offset_convs]
    model.forward_encoder(batch)
    for hook in hooks:
        hook.remove()
    for conv in offset_convs:
        scale = 1.0 / stds[conv].clamp(min=1e-6)
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
        conv.bias.mul_(scale)


def expected_shapes(backbone: str, embed_dim: int = DEFAULT_EMBED_DIM) -> dict[str, torch.Size]:
    """State-dict key -> shape of the model for ``backbone`` (built on the meta device)."""
    with torch.device("meta"):
        model = RapSam(backbone, torch.empty(1, 1, embed_dim))
    return {k: v.shape for k, v in model.state_dict().items()}


def diagnose(checkpoint: LoadedCheckpoint, backbone: str) -> str:
    """The likely cause of a key mismatch, as advice for the error message."""
    keys = checkpoint.state_dict
    prefixes = sorted({k.split(".", 1)[0] for k in keys})
    if not {"backbone", "neck", "panoptic_head"} & set(prefixes):
        return (
            f"this does not look like a RAP-SAM checkpoint (its keys start with {', '.join(prefixes[:6])}); "
            "pass an official RAP-SAM checkpoint (e.g. rapsam_r50_12e.pth)"
        )
    embed_dim = _checkpoint_embed_dim(checkpoint) or DEFAULT_EMBED_DIM
    fits = {name: compare_keys(expected_shapes(name, embed_dim), keys) for name in backbone_names()}
    best = min(fits, key=lambda name: len(fits[name].missing) + len(fits[name].unexpected) + len(fits[name].mismatched))
    if best != backbone and fits[best].ok:
        return f"these keys look like {best}; you asked for {backbone}: pass --backbone {best}"
    if best != backbone:
        return (
            f"these keys are closest to {best} (you asked for {backbone}); the file may be from another model variant"
        )
    return (
        f"the keys are those of {backbone} but some differ; the file may be truncated, "
        "edited, or from another version of the model"
    )


def _checkpoint_embed_dim(checkpoint: LoadedCheckpoint) -> int | None:
    weight = checkpoint.state_dict.get("panoptic_head.panoptic_cls.0.weight")
    return None if weight is None else int(weight.shape[0])


def build_model(
    backbone: str = "r18",
    checkpoint: str | Path | None = None,
    class_embed: str | Path | None = None,
    seed: int = 0,
) -> RapSam:
    """The reference model, in eval mode, gradients off.

    - ``checkpoint``: an official RAP-SAM checkpoint (``state_dict``/``model`` entry or a bare
      state dict), loaded strictly; without it, random weights from ``seed`` (untrained).
    - ``class_embed``: the official [K,P,D] class-embedding file; K and D come from it. Without
      it, random unit-norm embeddings for 133 classes (class scores are then meaningless).
    """
    get_backbone_spec(backbone)
    loaded = read_checkpoint(checkpoint) if checkpoint is not None else None
    info = ModelInfo(backbone=backbone, seed=None if loaded else seed)
    if class_embed is not None:
        embed, info.class_embed_sha256 = read_class_embed(class_embed)
        info.class_embed = str(class_embed)
    else:
        embed = random_class_embed(dim=(loaded and _checkpoint_embed_dim(loaded)) or DEFAULT_EMBED_DIM, seed=seed)
    if loaded is not None:
        ckpt_dim = _checkpoint_embed_dim(loaded)
        if ckpt_dim is not None and ckpt_dim != embed.shape[-1]:
            raise ClassEmbeddingError(
                f"class embeddings have dim {embed.shape[-1]} but the checkpoint's classifier projects to {ckpt_dim}",
                "pass the class-embedding file released with this checkpoint",
            )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RapSam(backbone, embed)
        if loaded is None:
            _init_random(model)
    if loaded is None:
        calibrate_random_weights(model, seed)
    else:
        load_strict(model, loaded, lambda: diagnose(loaded, backbone))
        info.trained = True
        info.checkpoint, info.checkpoint_sha256 = loaded.path, loaded.sha256
        info.skipped_checkpoint_entries = loaded.skipped
    model.info = info
    return model.eval().requires_grad_(False)
