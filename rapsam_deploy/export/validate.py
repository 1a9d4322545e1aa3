"""Export-time validation: every exported graph run by ONNX Runtime (CPU) against the PyTorch
reference (fp32) on real photos, graph by graph on the same inputs.

Cases (H x W is the tracing size, H2 x W2 a second size):
- image path at H x W, batch 1, the 100 object queries: encoder, decoder, object adapter;
- image path at H2 x W2, batch 2 (two photos), the first 37 object queries;
- prompt path at H x W with 5 prompts (4 points as the official 6-pixel boxes, 1 box) and at
  H2 x W2 with 2: prompt encoder, decoder (prompts see only themselves), prompt adapter;
- video path: 2 frames at H2 x W2 stacked along height (tube pooling): decoder, object adapter.

Per output: max |a - b|, that divided by max |reference| ("max rel"), and for mask logits the
fraction of pixels whose sign (logit > 0) agrees. Thresholds per precision are in
``THRESHOLDS`` (and the README).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..artifacts import contract
from ..backends.onnxruntime_session import create_session, run
from ..model import RapSam
from ..model.graphs import GRAPH_MODULES
from ..model.video import stack_frames


@dataclass(frozen=True)
class Threshold:
    """Largest accepted max-rel error and smallest accepted mask-sign agreement."""

    max_rel: float
    sign_agreement: float


# fp16 rounding (11-bit mantissa) in a 50-layer backbone, amplified by the deformable neck
# (sampling positions move with the features), reaches 0.12 max rel on r50 features; the fp16
# limits catch broken graphs (overflow, NaN, a wrong cast: max rel >= 1), not that rounding.
THRESHOLDS = {
    "fp32": Threshold(max_rel=1e-3, sign_agreement=0.999),
    "fp16": Threshold(max_rel=0.25, sign_agreement=0.98),
}
_PHOTOS = ("astronaut", "coffee", "chelsea")
_VIDEO_SHIFT = 16


@dataclass
class Case:
    """Inputs of one graph and the PyTorch reference's outputs for them."""

    name: str
    graph: str
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]


@dataclass
class OutputParity:
    case: str
    output: str
    max_abs: float
    max_rel: float
    sign_agreement: float | None = None
    passed: bool = True


@dataclass
class ArtifactParity:
    """Parity of one ONNX file over every case of its graph."""

    file: str
    precision: str
    outputs: list[OutputParity] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    def worst(self) -> dict:
        """Worst figures over all cases, per output name."""
        worst: dict[str, dict] = {}
        for o in self.outputs:
            w = worst.setdefault(o.output, {"max_abs": 0.0, "max_rel": 0.0})
            w["max_abs"] = max(w["max_abs"], o.max_abs)
            w["max_rel"] = max(w["max_rel"], o.max_rel)
            if o.sign_agreement is not None:
                w["sign_agreement"] = min(w.get("sign_agreement", 1.0), o.sign_agreement)
        return worst


def other_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """The second validation size: about 5/8 of the height and 3/4 of the width, multiples of 32."""
    height, width = image_size
    step = contract.SIZE_DIVISOR
    return max(2 * step, round(height * 0.625 / step) * step), max(2 * step, round(width * 0.75 / step) * step)


def photo(name: str, size: tuple[int, int]) -> Tensor:
    """A scikit-image sample photo resized to [1,3,H,W], RGB float 0..255."""
    from skimage import data

    image = np.asarray(getattr(data, name)(), dtype=np.float32)[..., :3]
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 255)


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


def _case(model: RapSam, name: str, spec: contract.GraphSpec, *inputs: Tensor) -> tuple[Case, tuple[Tensor, ...]]:
    """The case of ``spec`` on ``inputs`` (contract order) with the reference's outputs, and
    those outputs as tensors (the next graph's inputs)."""
    outputs = GRAPH_MODULES[spec.name](model)(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    expected = dict(zip(spec.output_names, _numpy(outputs), strict=True))
    return Case(name, spec.name, spec.bind(*_numpy(inputs)), expected), outputs


def _object_cases(model: RapSam, name: str, features: Tensor, num_queries: int) -> list[Case]:
    queries = model.object_queries[:num_queries].unsqueeze(0).expand(features.shape[0], -1, -1).contiguous()
    decoder, (kernels, masks, _, _) = _case(
        model, name, contract.DECODER, features, queries, model.object_attn_mask(num_queries)
    )
    adapter, _ = _case(model, name, contract.ADAPTER_OBJECT, features, kernels, masks)
    return [decoder, adapter]


def _prompt_cases(model: RapSam, name: str, features: Tensor, boxes: Tensor) -> list[Case]:
    kinds = torch.full(boxes.shape[:2], contract.PROMPT_KIND_DEFAULT, dtype=torch.int64)
    encoder, (queries,) = _case(model, name, contract.PROMPT_ENCODER, boxes, kinds)
    decoder, (kernels, _, _, _) = _case(
        model, name, contract.DECODER, features, queries, model.prompt_attn_mask(boxes.shape[1])
    )
    adapter, _ = _case(model, name, contract.ADAPTER_PROMPT, features, kernels)
    return [encoder, decoder, adapter]


@torch.no_grad()
def reference_cases(model: RapSam, image_size: tuple[int, int]) -> list[Case]:
    """Every validation case with the PyTorch reference's outputs."""
    size_b = other_size(image_size)
    image_a = photo(_PHOTOS[0], image_size)
    images_b = torch.cat([photo(_PHOTOS[1], size_b), photo(_PHOTOS[2], size_b)])
    frames = torch.cat([images_b[:1], images_b[:1].roll(_VIDEO_SHIFT, dims=-1)])
    size_a_name, size_b_name = "x".join(map(str, image_size)), "x".join(map(str, size_b))
    encoder_a, (features_a,) = _case(model, f"image@{size_a_name}", contract.ENCODER, image_a)
    encoder_b, (features_b,) = _case(model, f"image@{size_b_name}/B=2", contract.ENCODER, images_b)
    video = stack_frames(GRAPH_MODULES[contract.ENCODER.name](model)(frames), num_frames=2)
    cases = [encoder_a, encoder_b]
    cases += _object_cases(model, f"image@{size_a_name}/N=100", features_a, 100)
    cases += _object_cases(model, f"image@{size_b_name}/B=2/N=37", features_b, 37)
    points = [(0.3, 0.35), (0.62, 0.5), (0.45, 0.8), (0.005, 0.005)]
    cases += _prompt_cases(
        model, f"prompt@{size_a_name}/N=5", features_a, point_prompts(points, [(0.1, 0.1, 0.6, 0.7)], image_size)
    )
    cases += _prompt_cases(model, f"prompt@{size_b_name}/N=2", features_b[:1], point_prompts(points[:2], [], size_b))
    cases += _object_cases(model, f"video@{size_b_name}/T=2", video, 100)
    return cases


def _compare(case: Case, got: dict[str, np.ndarray], threshold: Threshold) -> list[OutputParity]:
    results = []
    for name, ref in case.expected.items():
        out = got[name].astype(np.float64)
        finite = bool(np.isfinite(out).all()) and out.shape == ref.shape
        max_abs = float(np.abs(out - ref).max()) if finite else float("inf")
        max_rel = max_abs / max(float(np.abs(ref).max()), 1e-12)
        sign = float(((out > 0) == (ref > 0)).mean()) if contract.is_mask_logits(name) and finite else None
        passed = finite and max_rel <= threshold.max_rel and (sign is None or sign >= threshold.sign_agreement)
        results.append(OutputParity(case.name, name, max_abs, max_rel, sign, passed))
    return results


def validate_files(
    files: list[tuple[str, str, Path]], cases: list[Case], log: Callable[[str], None] = print
) -> list[ArtifactParity]:
    """Run each ``(graph, precision, path)`` on every case of its graph with ONNX Runtime."""
    reports = []
    for graph, precision, path in files:
        session = create_session(path)
        report = ArtifactParity(path.name, precision)
        for case in (c for c in cases if c.graph == graph):
            report.outputs += _compare(case, run(session, case.inputs), THRESHOLDS[precision])
        status = "ok" if report.passed else "FAILED"
        worst = ", ".join(f"{k} rel {v['max_rel']:.1e}" for k, v in report.worst().items())
        log(f"  validated {path.name}: {status} ({worst})")
        reports.append(report)
    return reports
