"""Export-time validation: every exported graph run by ONNX Runtime (CPU) against the PyTorch
reference (fp32), graph by graph on the same inputs (the cases of ``reference_cases``).

Two runs per case, because the hard-mask thresholds inside the decoder and the object adapter
turn float noise into flipped pixels that later stages amplify (``teacher_forcing``):

- forced: the thresholds' consumers read the reference's own hard masks. Checked against the
  thresholds in ``THRESHOLDS``: every output's max |a - b| divided by max |reference| ("max
  rel"), the mask logits' sign agreement, each threshold's result (exactly ``logits > 0`` of its
  own logits), and the fraction of hard-mask pixels the graph's logits flip;
- free: the graph as shipped. Its outputs must be finite; its mean per-query mask IoU against
  the reference is reported (flips included, so a figure, not a gate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from ..artifacts import contract
from ..backends.onnxruntime_session import create_session, run
from ..parity import mask_agreement
from .reference_cases import Case
from .teacher_forcing import THRESHOLD_LOGITS, THRESHOLD_RESULT, ForcedGraph, teacher_forced


@dataclass(frozen=True)
class Threshold:
    """Limits of the forced run: largest max rel (every output), smallest mask-logit sign
    agreement, largest fraction of hard-mask pixels flipped at any threshold."""

    max_rel: float
    sign_agreement: float
    hard_mask_flips: float


# fp32: float noise alone, measured over a grid of sizes 128-1344, batches 1-4 (README). fp16:
# rounding (11-bit mantissa) in a 50-layer backbone, amplified by the deformable neck, reaches
# 0.12 max rel on r50 features; these limits catch broken graphs (overflow, NaN, a wrong cast).
# int8, measured with every block in int8 (r18 at 128x160, 256, 512; r50 at 256): up to 0.42 max
# rel (r50 features), mask sign agreement down to 0.925 (r50 prompt adapter), flips up to 0.020;
# one decoder weight scale 16x too large, or one activation range 16x too small (saturation),
# flips 0.09-0.18 of a threshold's pixels. So these catch broken quantization, not int8's
# rounding, which the chain's task figures judge (``task_parity``); a scale 4x off flips 0.03-0.06
# and may pass here.
THRESHOLDS = {
    "fp32": Threshold(max_rel=1e-3, sign_agreement=0.999, hard_mask_flips=1e-3),
    "fp16": Threshold(max_rel=0.25, sign_agreement=0.98, hard_mask_flips=0.02),
    "int8": Threshold(max_rel=1.0, sign_agreement=0.85, hard_mask_flips=0.05),
}


@dataclass
class OutputParity:
    """One output of one case (``output`` is a contract name, or ``hard_mask_<i>`` for the
    graph's i-th threshold); figures that do not apply are None."""

    case: str
    output: str
    max_abs: float | None = None
    max_rel: float | None = None
    sign_agreement: float | None = None
    free_mask_iou: float | None = None
    flips: float | None = None
    note: str = ""
    passed: bool = True


_WORST = {"max_abs": max, "max_rel": max, "flips": max, "sign_agreement": min, "free_mask_iou": min}


@dataclass
class ArtifactParity:
    """Parity of one ONNX file over every case of its graph."""

    file: str
    precision: str
    outputs: list[OutputParity] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    def worst(self) -> dict[str, dict[str, float]]:
        """Worst figures over all cases, per output name (only the figures that apply)."""
        worst: dict[str, dict[str, float]] = {}
        for o in self.outputs:
            figures = worst.setdefault(o.output, {})
            for key, pick in _WORST.items():
                value = getattr(o, key)
                if value is not None:
                    figures[key] = pick(figures.get(key, value), value)
        return worst


def _compare_output(case: Case, name: str, forced: np.ndarray, free: np.ndarray, limit: Threshold) -> OutputParity:
    ref = case.expected[name]
    if forced.shape != ref.shape or free.shape != ref.shape:
        return OutputParity(case.name, name, note=f"shape {forced.shape}, expected {ref.shape}", passed=False)
    if not (np.isfinite(forced).all() and np.isfinite(free).all()):
        return OutputParity(case.name, name, note="not finite (NaN or inf)", passed=False)
    max_abs = float(np.abs(forced.astype(np.float64) - ref).max()) if ref.size else 0.0
    max_rel = max_abs / max(float(np.abs(ref).max()) if ref.size else 0.0, 1e-12)
    parity = OutputParity(case.name, name, max_abs, max_rel)
    if contract.is_mask_logits(name):
        parity.sign_agreement = mask_agreement(forced, ref).sign
        parity.free_mask_iou = mask_agreement(free, ref).iou_mean
    sign = parity.sign_agreement
    parity.passed = max_rel <= limit.max_rel and (sign is None or sign >= limit.sign_agreement)
    return parity


def _compare_thresholds(case: Case, forced: dict[str, np.ndarray], count: int, limit: Threshold) -> list[OutputParity]:
    results = []
    for index in range(count):
        above = forced[THRESHOLD_LOGITS.format(index)] > 0
        exact = np.array_equal(forced[THRESHOLD_RESULT.format(index)], above)
        flips = float((above != case.hard_masks[index]).mean()) if above.size else 0.0
        note = "" if exact else "the graph's threshold is not logits > 0"
        passed = exact and flips <= limit.hard_mask_flips
        results.append(OutputParity(case.name, f"hard_mask_{index}", flips=flips, note=note, passed=passed))
    return results


def compare_case(case: Case, free_session, forced_session, forced: ForcedGraph, limit: Threshold) -> list[OutputParity]:
    """Run ``case`` free and forced (the same session when the graph has no thresholds) and
    compare both with the reference."""
    if forced.count != len(case.hard_masks):
        note = f"the graph thresholds {forced.count} mask logits, the reference {len(case.hard_masks)}"
        return [OutputParity(case.name, "hard_masks", note=note, passed=False)]
    free = run(free_session, case.inputs)
    forced_outputs = run(forced_session, case.inputs | forced.feeds(case.hard_masks)) if forced.count else free
    results = [_compare_output(case, n, forced_outputs[n], free[n], limit) for n in case.expected]
    return results + _compare_thresholds(case, forced_outputs, forced.count, limit)


def describe(parity: OutputParity) -> str:
    """The figures of one output, for people: 'max abs 0.002, max rel 3.1e-05, ...'."""
    labels = {"max_abs": "max abs", "max_rel": "max rel", "sign_agreement": "mask sign agreement",
              "free_mask_iou": "free-run mask IoU", "flips": "hard-mask flips"}  # fmt: skip
    figures = [f"{label} {getattr(parity, k):.3g}" for k, label in labels.items() if getattr(parity, k) is not None]
    return ", ".join(figures + [parity.note] * bool(parity.note))


def failures(reports: list[ArtifactParity]) -> list[str]:
    """One line per failed output: 'decoder.onnx [image@256x256/N=100] kernels: max abs ...'."""
    return [f"{r.file} [{o.case}] {o.output}: {describe(o)}" for r in reports for o in r.outputs if not o.passed]


def _summary(report: ArtifactParity) -> str:
    figures = []
    for name, worst in report.worst().items():
        if "max_rel" in worst:
            figures.append(f"{name} rel {worst['max_rel']:.1e}")
        if "flips" in worst:
            figures.append(f"{name} flips {worst['flips']:.1e}")
    return ", ".join(figures)


def validate_files(
    files: list[tuple[str, str, Path]], cases: list[Case], log: Callable[[str], None] = print
) -> list[ArtifactParity]:
    """Run each ``(graph, precision, path)`` on every case of its graph with ONNX Runtime."""
    reports = []
    for graph, precision, path in files:
        free_session = create_session(path)
        forced = teacher_forced(onnx.load(path))
        forced_session = create_session(forced.model.SerializeToString()) if forced.count else free_session
        report = ArtifactParity(path.name, precision)
        for case in (c for c in cases if c.graph == graph):
            report.outputs += compare_case(case, free_session, forced_session, forced, THRESHOLDS[precision])
        log(f"  validated {path.name}: {'ok' if report.passed else 'FAILED'} ({_summary(report)})")
        reports.append(report)
    return reports
