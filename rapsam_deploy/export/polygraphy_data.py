"""Polygraphy files of an export: per graph, the validation cases' inputs and the PyTorch
reference's outputs, so that NVIDIA's polygraphy checks a runtime against PyTorch:

    polygraphy run EXPORT/decoder.onnx --onnxrt \\
        --load-inputs EXPORT/polygraphy/decoder.inputs.json \\
        --load-outputs EXPORT/polygraphy/decoder.reference.json CHECK_ARGS

``--trt --strongly-typed TRT_SHAPES`` instead of ``--onnxrt`` builds and checks a TensorRT
engine (as ``rapsam-build`` does: strongly typed, fp16 from the ``*.fp16.onnx`` graphs, never
the FP16 builder flag); it needs the profile ``TRT_SHAPES``, since polygraphy's default profile
sets every dynamic axis to 1.

``<graph>.inputs.json`` is a list of feed dicts (``polygraphy.json``), one iteration per
validation case of the graph; ``<graph>.reference.json`` a ``polygraphy.comparator.RunResults``
of the runner ``pytorch-reference`` with the same iterations in the same order, which
``polygraphy run`` compares with its own run iteration by iteration. The fp16 and plugin files
of a graph take the same files (same tensors). The manifest's ``validation.polygraphy`` lists,
per graph, the files, the case of each iteration, ``trt_shapes`` and ``check_args``.
polygraphy is imported only here, and only when these files are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..artifacts import contract
from ..artifacts.files import write_atomic
from ..errors import RapSamError
from .reference_cases import Case

POLYGRAPHY_DIR = "polygraphy"
RUNNER_NAME = "pytorch-reference"


@dataclass(frozen=True)
class Check:
    """How ``polygraphy run`` compares one graph's outputs: element by element (``--rtol 1e-3``
    besides) or by the median error (with ``--validate`` for NaN and inf, which a median hides),
    and the absolute tolerance of each output, in the contract's order."""

    stat: str  # "elemwise" or "median"
    atol: tuple[float, ...]

    def args(self, spec: contract.GraphSpec) -> str:
        """The options as polygraphy takes them: ``--atol name:tol ... [--check-error-stat ...]``."""
        atol = " ".join(f"{name}:{tol:g}" for name, tol in zip(spec.output_names, self.atol, strict=True))
        if self.stat == "elemwise":
            return f"--atol {atol} --rtol 1e-3"
        return f"--atol {atol} --check-error-stat median --rtol 0 --validate"


# Measured with --onnxrt on CPU (r18, exports at 128x160 and 256x288, every case; README
# "Checking with polygraphy"). fp32: errors of at most 3e-4 absolute, while scaling one weight
# tensor by 1.01 moves the outputs by 1.5e-4 (an iou near 0.05) to 1.3; the tolerances sit >= 10x
# from both. The decoder thresholds mask logits at 0 and pools under the hard masks: float noise
# flips a pixel now and then, which moves that query's outputs by up to 1e-3 of their scale in
# fp32 (0.13 in a class logit), so the decoder is checked on the median error, which a few
# flipped queries cannot move. fp16 rounding moves single elements as far as such damage does,
# so fp16 checks the median too: a correct fp16 graph's is 3-10x below that of one with a weight
# tensor scaled by 1.1. The prompt encoder has no fp16 form (the export keeps it fp32).
_CHECKS: dict[contract.GraphSpec, dict[str, Check]] = {
    contract.ENCODER: {"fp32": Check("elemwise", (1e-2,)), "fp16": Check("median", (0.1,))},
    contract.PROMPT_ENCODER: {"fp32": Check("elemwise", (1e-4,))},
    contract.DECODER: {
        "fp32": Check("median", (1e-4, 1e-3, 1e-3, 1e-6)),
        "fp16": Check("median", (3e-3, 0.1, 0.2, 1e-4)),
    },
    contract.ADAPTER_OBJECT: {
        "fp32": Check("elemwise", (1e-2, 1e-3, 1e-4)),
        "fp16": Check("median", (0.05, 1e-2, 1e-3)),
    },
    contract.ADAPTER_PROMPT: {"fp32": Check("elemwise", (1e-2, 1e-4)), "fp16": Check("median", (0.05, 1e-3))},
}
# Per graph name and precision: the comparison options of ``polygraphy run``.
CHECK_ARGS: dict[str, dict[str, str]] = {
    spec.name: {precision: check.args(spec) for precision, check in checks.items()} for spec, checks in _CHECKS.items()
}


def require_polygraphy():
    """polygraphy's ``to_json`` and ``RunResults``; a clear error where it is not installed."""
    try:
        from polygraphy.comparator import RunResults
        from polygraphy.json import to_json
    except ImportError as err:
        raise RapSamError(
            f"--polygraphy-data needs polygraphy, which is not installed ({err})",
            "pip install polygraphy (or rapsam-deploy's dev extras), or leave out --polygraphy-data",
        ) from err
    return to_json, RunResults


def _shape_arg(shapes: dict[str, np.ndarray]) -> str:
    """``name:[d0,d1,..]`` per input, as polygraphy's shape options take them."""
    return " ".join(f"{name}:[{','.join(str(int(d)) for d in shape)}]" for name, shape in shapes.items())


def trt_shapes(cases: Sequence[Case]) -> str:
    """The TensorRT profile that fits every case of one graph, as polygraphy arguments
    (``--trt-min-shapes image:[1,3,64,128] --trt-opt-shapes ... --trt-max-shapes ...``):
    per axis the smallest and largest size over the cases, the first case's shapes as opt."""
    shapes = {name: np.array([c.inputs[name].shape for c in cases]) for name in cases[0].inputs}
    profile = {
        "min": {name: s.min(axis=0) for name, s in shapes.items()},
        "opt": {name: s[0] for name, s in shapes.items()},
        "max": {name: s.max(axis=0) for name, s in shapes.items()},
    }
    return " ".join(f"--trt-{bound}-shapes {_shape_arg(sizes)}" for bound, sizes in profile.items())


def write_polygraphy_data(cases: Sequence[Case], directory: Path) -> dict:
    """Write ``polygraphy/<graph>.inputs.json`` and ``<graph>.reference.json`` for every graph of
    the contract into the export ``directory``; returns the manifest's record of them (paths
    relative to the export, the case of each iteration, the TensorRT profile and the comparison
    options as polygraphy arguments)."""
    to_json, RunResults = require_polygraphy()
    record: dict = {"runner": RUNNER_NAME}
    for spec in contract.GRAPHS:
        graph_cases = [c for c in cases if c.graph == spec.name]
        inputs = f"{POLYGRAPHY_DIR}/{spec.name}.inputs.json"
        reference = f"{POLYGRAPHY_DIR}/{spec.name}.reference.json"
        # polygraphy's own encoders, written atomically like every file of an export.
        write_atomic(directory / inputs, to_json([c.inputs for c in graph_cases]).encode())
        results = RunResults()
        results.add([c.expected for c in graph_cases], runner_name=RUNNER_NAME)
        write_atomic(directory / reference, results.to_json().encode())
        record[spec.name] = {
            "inputs": inputs,
            "reference": reference,
            "iterations": [c.name for c in graph_cases],
            "trt_shapes": trt_shapes(graph_cases),
            "check_args": CHECK_ARGS[spec.name],
        }
    return record
