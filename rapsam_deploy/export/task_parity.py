"""Parity where it means something for a task: two runs of the whole chain of graphs (encoder ->
decoder -> adapter, each graph on the previous one's outputs, as ``reference_cases.size_cases``
runs them) compared by what users see, not tensor by tensor.

- object path: per-query class-agnostic mask IoU (logit > 0, feature resolution; mean and
  minimum over every query of every image) and class agreement (argmax per query);
- prompt path: per-prompt mask IoU (mean and minimum);
- features: mean |a - b| / mean |reference|, the size of the disturbance the chain starts from.

``GATES`` are what a reduced-precision form must reach against fp32. They presume trained
weights: an untrained model with random weights is chaotic (measured in
``benchmarks/results/precision-blocks-*``: Gaussian noise of 1/20 of a gray level on the photos
already moves its per-query masks below them in fp32). So ``validate_tasks`` gates an untrained
model's reduced-precision forms against that model's own response to the noise that rounding
to 8-bit gray levels adds (``QUANTISATION_NOISE``): a form may move the answers no more than
re-saving the photo would, give or take the figures' own spread (``noise_gates``). Every form
of a trained model meets ``GATES``; fp32 forms of an untrained one meet them on the means (the
minimum over queries is one query's IoU, which float noise moves through the same chaos).

A miss fails the export, but for the precisions in ``APPROXIMATE``: int8 is an approximation by
nature, so its chain's misses are recorded and the form is kept, marked failing (a form that
misses is reported as missing, not hidden).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..artifacts import contract
from ..backends.onnxruntime_session import create_session, run
from ..model import RapSam
from ..parity import class_agreement, mask_agreement
from .reference_cases import Case, GraphRun, size_cases

QUANTISATION_NOISE = 0.29  # gray levels: the standard deviation of rounding to whole levels, 1/sqrt(12)
# Precisions whose chains may miss the gates and still be written (int8), or that are no file of
# the export but what a runtime computes from the fp32 graphs (OpenVINO's bf16): recorded for
# ``--precision auto``, which picks only forms that passed.
APPROXIMATE = ("int8", "bf16")
# The chain the task figures run: photos, object queries and prompts at the export's size.
TASK_BATCH, TASK_QUERIES, TASK_PROMPTS = 2, 100, 5


@dataclass(frozen=True)
class TaskParity:
    """Task figures of one chain against a reference chain (module docstring)."""

    features_mean_rel: float
    mask_iou_mean: float
    mask_iou_min: float
    mask_sign: float
    class_agreement: float
    prompt_iou_mean: float
    prompt_iou_min: float

    def misses(self, gates: TaskParity | None = None) -> list[str]:
        """The gates this misses, as 'mask IoU min 0.9400 < 0.97' (none: it meets them all)."""
        gates = gates or GATES
        return [
            f"{label} {getattr(self, key):.4f} < {getattr(gates, key):.4g}"
            for key, label in _GATED.items()
            if getattr(self, key) < getattr(gates, key)
        ]

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


_GATED = {
    "mask_iou_mean": "mask IoU mean",
    "mask_iou_min": "mask IoU min",
    "class_agreement": "class agreement",
    "prompt_iou_mean": "prompt mask IoU mean",
}
# Reduced precision against fp32 (the precision issue's gates); figures not gated are 0.
GATES = TaskParity(0.0, mask_iou_mean=0.99, mask_iou_min=0.97, mask_sign=0.0, class_agreement=0.99,
                   prompt_iou_mean=0.98, prompt_iou_min=0.0)  # fmt: skip


def _outputs(cases: list[Case], spec: contract.GraphSpec, prompt: bool) -> list[tuple[np.ndarray, ...]]:
    """The outputs of every case of ``spec`` on the prompt (or the image) path, in order."""
    return [spec.unpack(c.expected) for c in cases if c.graph == spec.name and c.name.startswith("prompt") == prompt]


def _paired(ours: list[Case], reference: list[Case], spec: contract.GraphSpec, prompt: bool) -> list[tuple]:
    return list(zip(_outputs(ours, spec, prompt), _outputs(reference, spec, prompt), strict=True))


def task_parity(ours: list[Case], reference: list[Case]) -> TaskParity:
    """Compare two lists of chained cases of the same inputs (``size_cases`` of two models)."""
    (features,), (ref_features,) = (_outputs(cases, contract.ENCODER, False)[0] for cases in (ours, reference))
    objects = _paired(ours, reference, contract.ADAPTER_OBJECT, prompt=False)
    prompts = _paired(ours, reference, contract.ADAPTER_PROMPT, prompt=True)
    masks = [mask_agreement(a[0], b[0]) for a, b in objects]
    prompt_masks = [mask_agreement(a[0], b[0]) for a, b in prompts]
    return TaskParity(
        features_mean_rel=float(np.abs(features - ref_features).mean() / max(np.abs(ref_features).mean(), 1e-12)),
        mask_iou_mean=float(np.mean([m.iou_mean for m in masks])),
        mask_iou_min=min(m.iou_min for m in masks),
        mask_sign=float(np.mean([m.sign for m in masks])),
        class_agreement=float(np.mean([class_agreement(a[1], b[1]) for a, b in objects])),
        prompt_iou_mean=float(np.mean([m.iou_mean for m in prompt_masks])),
        prompt_iou_min=min(m.iou_min for m in prompt_masks),
    )


def with_image_noise(model: RapSam, sigma: float, seed: int = 0) -> RapSam:
    """A copy of ``model`` that adds Gaussian noise of ``sigma`` gray levels to every image (after
    normalisation, so ``sigma / std`` there), the same noise on every run."""
    noisy = copy.deepcopy(model)

    def add_noise(module: nn.Module, args: tuple) -> tuple:
        (x,) = args
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x) * (sigma / noisy.pixel_std)
        return (x + noise,)

    noisy.backbone.register_forward_pre_hook(add_noise)
    return noisy


# How much more than the noise floor's disagreement (1 - figure) a form may show, on top of what
# the absolute gates allow. The figures are counts over 200 queries and 5 prompts: the floor's
# class agreement at 576x576 was 1.000, 0.985 and 0.995 for three noise seeds, and fp16 0.995.
# A wrong cast or weight disagrees on most queries.
NOISE_MARGIN = 1.5


def noise_gates(floor: TaskParity) -> TaskParity:
    """Gates from the noise floor: each mean figure may disagree ``NOISE_MARGIN`` times as much
    as the floor, plus the absolute gate's own allowance (``1 - GATES``). The minimum over
    queries is not held: it is one near-empty query's IoU, which with random weights falls
    either way between two perturbations of the same size."""
    means = {
        key: 1 - NOISE_MARGIN * (1 - getattr(floor, key)) - (1 - getattr(GATES, key))
        for key in _GATED
        if key != "mask_iou_min"
    }
    return replace(floor, mask_iou_min=0.0, **means)


def onnx_run(paths: Mapping[str, Path], sessions: dict[Path, object] | None = None) -> GraphRun:
    """ONNX Runtime (CPU) sessions of ``paths`` (graph name -> file) as a ``GraphRun``, made on
    first use and kept in ``sessions`` (by file: forms share files, so they may share it)."""
    sessions = {} if sessions is None else sessions

    def run_graph(spec: contract.GraphSpec, *inputs: Tensor) -> tuple[Tensor, ...]:
        path = paths[spec.name]
        if path not in sessions:
            sessions[path] = create_session(path)
        outputs = run(sessions[path], spec.bind(*(t.numpy() for t in inputs)))
        return tuple(torch.from_numpy(o) for o in spec.unpack(outputs))

    return run_graph


@dataclass
class TaskReport:
    """One exported form's chain against the PyTorch fp32 chain, and the gates it was held to."""

    form: str
    parity: TaskParity
    gates: str
    misses: list[str]

    @property
    def fatal(self) -> bool:
        """Whether the misses fail the export (they are recorded either way)."""
        return bool(self.misses) and self.form.rpartition("/")[2] not in APPROXIMATE

    def verdict(self) -> str:
        """'ok', 'FAILED', or for an approximate form 'MISSES its gates (kept, marked failing)'."""
        return "ok" if not self.misses else "FAILED" if self.fatal else "MISSES its gates (kept, marked failing)"

    def as_dict(self) -> dict:
        return {"gates": self.gates, "passed": not self.misses, "misses": self.misses, **self.parity.as_dict()}


def needs_floor(trained: bool, precision: str) -> bool:
    """Whether a chain in ``precision`` is gated by the noise floor (``gates_for``)."""
    return not trained and precision != "fp32"


def gates_for(trained: bool, precision: str, floor: TaskParity | None) -> tuple[TaskParity, str]:
    """The gates a chain computing in ``precision`` is held to, and their label: trained weights,
    ``GATES``; random weights, fp32 on the means, reduced precision by ``noise_gates(floor)``
    (``floor`` is needed then: ``needs_floor``)."""
    if trained:
        return GATES, "absolute"
    if precision == "fp32":
        # Float noise flips a few pixels of a small mask, which random weights amplify: one
        # query's IoU fell to 0.93 at 192x192 while the mean stayed 0.9995.
        return replace(GATES, mask_iou_min=0.0), "absolute, on the means (random weights)"
    if floor is None:
        raise ValueError(f"{precision} chains of an untrained model are gated by the noise floor: measure it")
    label = f"means: {NOISE_MARGIN}x the disagreement under {QUANTISATION_NOISE} gray levels of noise, + slack"
    return noise_gates(floor), label


def validate_tasks(
    model: RapSam,
    forms: Mapping[str, Mapping[str, Path] | GraphRun],
    size: tuple[int, int],
    log: Callable[[str], None] = print,
) -> tuple[TaskParity | None, list[TaskReport]]:
    """Run each form's chain at ``size`` and compare it with ``model``'s: ``'standard/fp16'`` ->
    graph -> ONNX file (run with ONNX Runtime), or ``'openvino/bf16'`` -> a ``GraphRun``.
    Returns the noise floor (the fp32 model under quantisation noise; None where no form is
    gated by it) and a report per form."""
    chain = (size, TASK_BATCH, TASK_QUERIES, TASK_PROMPTS)
    reference = size_cases(model, *chain)
    floor = None
    reports = []
    sessions: dict[Path, object] = {}
    for form, paths in forms.items():
        run = onnx_run(paths, sessions) if isinstance(paths, Mapping) else paths
        parity = task_parity(size_cases(model, *chain, run=run), reference)
        precision = form.rpartition("/")[2]
        if floor is None and needs_floor(model.info.trained, precision):
            floor = task_parity(size_cases(with_image_noise(model, QUANTISATION_NOISE), *chain), reference)
            log(f"  fp32 model under {QUANTISATION_NOISE} gray levels of noise: {describe(floor)}")
        gates, label = gates_for(model.info.trained, precision, floor)
        report = TaskReport(form, parity, label, parity.misses(gates))
        log(f"  {form} chain: {describe(parity)}: {report.verdict()} ({label})")
        reports.append(report)
    return floor, reports


def tasks_json(floor: TaskParity | None, tasks: list[TaskReport]) -> dict:
    """What ``validate_tasks`` found, for the manifest's validation section ({} when it did not run)."""
    if not tasks:
        return {}
    return {
        "chain": {"photos": TASK_BATCH, "object_queries": TASK_QUERIES, "prompts": TASK_PROMPTS},
        "gates": GATES.as_dict(),
        "noise_floor": {"gray_levels": QUANTISATION_NOISE, **floor.as_dict()} if floor else None,
        "forms": {t.form: t.as_dict() for t in tasks},
    }


def describe(parity: TaskParity) -> str:
    """The gated figures for people: 'mask IoU mean 0.9990, min 0.9800, class 1.0000, prompt 0.9990'."""
    return (
        f"mask IoU mean {parity.mask_iou_mean:.4f}, min {parity.mask_iou_min:.4f}, "
        f"class agreement {parity.class_agreement:.4f}, prompt IoU {parity.prompt_iou_mean:.4f}"
    )
