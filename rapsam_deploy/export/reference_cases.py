"""The PyTorch reference's outputs on the validation inputs, graph by graph.

A case is one graph's inputs and the reference (fp32) model's outputs for them, plus the hard
masks the reference computed inside the graph (``export.teacher_forcing``). Each graph's inputs
are the reference outputs of the graph before it, so every graph is checked on its own.

The export's cases (H x W is the tracing size, H2 x W2 a second size, ``other_size``):
- image path at H x W, batch 1, the 100 object queries: encoder, decoder, object adapter;
- image path at H2 x W2, batch 2 (two photos), the first 37 object queries;
- prompt path at H x W with 5 prompts (4 points as the official 6-pixel boxes, 1 box) and at
  H2 x W2 with 2: prompt encoder, decoder (prompts see only themselves), prompt adapter;
- video path: 2 frames at H2 x W2 stacked along height (tube pooling): decoder, object adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..artifacts import contract
from ..backends.base import GraphRun
from ..model import RapSam
from ..model.graphs import GRAPH_MODULES
from ..model.mask_pool import observe_hard_masks
from ..model.video import stack_frames

PHOTOS = ("astronaut", "coffee", "chelsea")
_VIDEO_SHIFT = 16
_POINTS = [(0.3, 0.35), (0.62, 0.5), (0.45, 0.8), (0.005, 0.005)]  # the last one at the corner


@dataclass
class Case:
    """Inputs of one graph, the PyTorch reference's outputs for them, and the hard masks (bool
    [B,N,H,W]) the reference thresholded inside the graph, in order."""

    name: str
    graph: str
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    hard_masks: list[np.ndarray] = field(default_factory=list)


def other_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """The second validation size: about 5/8 of the height and 3/4 of the width, multiples of 32."""
    height, width = image_size
    step = contract.SIZE_DIVISOR
    return max(2 * step, round(height * 0.625 / step) * step), max(2 * step, round(width * 0.75 / step) * step)


def photo(name: str, size: tuple[int, int]) -> Tensor:
    """A scikit-image sample photo resized to [1,3,H,W], RGB float 0..255."""
    from skimage import data

    image = getattr(data, name)()
    if isinstance(image, tuple):  # a stereo pair (and its disparity): the left frame
        image = image[0]
    image = np.asarray(image, dtype=np.float32)[..., :3]
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 255)


def photos(batch: int, size: tuple[int, int]) -> Tensor:
    """``batch`` different sample photos (cycling through ``PHOTOS``) as [B,3,H,W]."""
    return torch.cat([photo(PHOTOS[i % len(PHOTOS)], size) for i in range(batch)])


def point_prompts(points: list[tuple[float, float]], boxes: list[tuple[float, ...]], size: tuple[int, int]) -> Tensor:
    """Prompt boxes [1,N,4] normalised xyxy: points (fractions of W, H) become the official
    +-3-pixel boxes, boxes are given as fractions already."""
    height, width = size
    half = contract.POINT_BOX_HALF_SIZE
    rows = []
    for fx, fy in points:
        x, y = round(fx * width), round(fy * height)
        rows.append(((x - half) / width, (y - half) / height, (x + half) / width, (y + half) / height))
    return torch.tensor([rows + list(boxes)], dtype=torch.float32)


def _numpy(tensors) -> list[np.ndarray]:
    return [t.detach().cpu().numpy() for t in tensors]


def torch_run(model: RapSam) -> GraphRun:
    """``model``'s graph modules as a :data:`GraphRun`."""

    def run(spec: contract.GraphSpec, *inputs: Tensor) -> tuple[Tensor, ...]:
        outputs = GRAPH_MODULES[spec.name](model)(*inputs)
        return outputs if isinstance(outputs, tuple) else (outputs,)

    return run


@torch.no_grad()
def graph_case(
    model: RapSam, name: str, spec: contract.GraphSpec, *inputs: Tensor, run: GraphRun | None = None
) -> tuple[Case, tuple[Tensor, ...]]:
    """The case of ``spec`` on ``inputs`` (contract order) with ``run``'s outputs (the
    reference's: ``model``'s graph modules, by default), and those outputs as tensors (the next
    graph's inputs). Hard masks are observed in PyTorch runs only."""
    hard_masks: list[Tensor] = []
    with observe_hard_masks(hard_masks.append):
        outputs = (run or torch_run(model))(spec, *inputs)
    expected = dict(zip(spec.output_names, _numpy(outputs), strict=True))
    case = Case(name, spec.name, spec.bind(*_numpy(inputs)), expected, _numpy(hard_masks))
    return case, outputs


def encoder_case(model: RapSam, name: str, images: Tensor, run: GraphRun | None = None) -> tuple[Case, Tensor]:
    """The encoder on ``images`` [B,3,H,W]; returns the case and the features [B,C,H/4,W/4]."""
    case, (features,) = graph_case(model, name, contract.ENCODER, images, run=run)
    return case, features


def object_cases(
    model: RapSam, name: str, features: Tensor, num_queries: int, run: GraphRun | None = None
) -> list[Case]:
    """Decoder and object adapter on ``features`` [B,C,Hf,Wf] with the first ``num_queries``
    object queries."""
    queries = model.object_queries[:num_queries].unsqueeze(0).expand(features.shape[0], -1, -1).contiguous()
    decoder, (kernels, masks, _, _) = graph_case(
        model, name, contract.DECODER, features, queries, model.object_attn_mask(num_queries), run=run
    )
    adapter, _ = graph_case(model, name, contract.ADAPTER_OBJECT, features, kernels, masks, run=run)
    return [decoder, adapter]


def prompt_cases(model: RapSam, name: str, features: Tensor, boxes: Tensor, run: GraphRun | None = None) -> list[Case]:
    """Prompt encoder, decoder and prompt adapter on ``features`` [1,C,Hf,Wf] and normalised
    ``boxes`` [1,N,4]."""
    kinds = torch.full(boxes.shape[:2], contract.PROMPT_KIND_DEFAULT, dtype=torch.int64)
    encoder, (queries,) = graph_case(model, name, contract.PROMPT_ENCODER, boxes, kinds, run=run)
    decoder, (kernels, _, _, _) = graph_case(
        model, name, contract.DECODER, features, queries, model.prompt_attn_mask(boxes.shape[1]), run=run
    )
    adapter, _ = graph_case(model, name, contract.ADAPTER_PROMPT, features, kernels, run=run)
    return [encoder, decoder, adapter]


def _size_name(size: tuple[int, int]) -> str:
    return "x".join(map(str, size))


@torch.no_grad()
def size_cases(
    model: RapSam, size: tuple[int, int], batch: int, num_queries: int, num_prompts: int, run: GraphRun | None = None
) -> list[Case]:
    """Every graph at one input size, each on the outputs of the one before (a chain): the image
    path with ``batch`` photos and ``num_queries`` object queries, the prompt path with
    ``num_prompts`` prompts (points, then one box). ``run`` runs the graphs (``model``'s, by
    default; ``model`` gives the queries either way)."""
    tag = f"{_size_name(size)}/B={batch}"
    encoder, features = encoder_case(model, f"image@{tag}", photos(batch, size), run)
    points = [_POINTS[i % len(_POINTS)] for i in range(max(num_prompts - 1, 1))]
    boxes = point_prompts(points, [(0.1, 0.1, 0.6, 0.7)], size)[:, :num_prompts]
    cases = [encoder, *object_cases(model, f"image@{tag}/N={num_queries}", features, num_queries, run)]
    return cases + prompt_cases(model, f"prompt@{_size_name(size)}/N={num_prompts}", features[:1], boxes, run)


@torch.no_grad()
def reference_cases(model: RapSam, image_size: tuple[int, int]) -> list[Case]:
    """The export's validation cases (module docstring) with the PyTorch reference's outputs."""
    size_b = other_size(image_size)
    image_a, images_b = photos(1, image_size), torch.cat([photo(PHOTOS[1], size_b), photo(PHOTOS[2], size_b)])
    frames = torch.cat([images_b[:1], images_b[:1].roll(_VIDEO_SHIFT, dims=-1)])
    name_a, name_b = _size_name(image_size), _size_name(size_b)
    encoder_a, features_a = encoder_case(model, f"image@{name_a}", image_a)
    encoder_b, features_b = encoder_case(model, f"image@{name_b}/B=2", images_b)
    video = stack_frames(GRAPH_MODULES[contract.ENCODER.name](model)(frames), num_frames=2)
    cases = [encoder_a, encoder_b]
    cases += object_cases(model, f"image@{name_a}/N=100", features_a, 100)
    cases += object_cases(model, f"image@{name_b}/B=2/N=37", features_b, 37)
    boxes_a = point_prompts(_POINTS, [(0.1, 0.1, 0.6, 0.7)], image_size)
    cases += prompt_cases(model, f"prompt@{name_a}/N=5", features_a, boxes_a)
    cases += prompt_cases(model, f"prompt@{name_b}/N=2", features_b[:1], point_prompts(_POINTS[:2], [], size_b))
    cases += object_cases(model, f"video@{name_b}/T=2", video, 100)
    return cases
