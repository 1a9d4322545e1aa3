"""Graph simplification: onnxslim and onnxsim both run, and the smaller graph whose outputs
equal the unsimplified graph's on a probe input is kept (the dynamo exporter has already
folded constants, so the gains are small: shape arithmetic and duplicated Casts)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx

from ..backends.onnxruntime_session import create_session, run

# Outputs may differ by rounding where constants were folded differently.
_EQUAL_RTOL = 1e-4


@dataclass
class Simplified:
    """The kept graph, which simplifier made it, and why the others were not kept."""

    model: onnx.ModelProto
    simplifier: str
    rejected: dict[str, str] = field(default_factory=dict)


def _onnxslim(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnxslim

    return onnxslim.slim(copy.deepcopy(model))


def _onnxsim(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnxsim

    simplified, ok = onnxsim.simplify(copy.deepcopy(model))
    if not ok:
        raise RuntimeError("onnxsim's own check failed")
    return simplified


SIMPLIFIERS: dict[str, Callable[[onnx.ModelProto], onnx.ModelProto]] = {"onnxslim": _onnxslim, "onnxsim": _onnxsim}


def _equal(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> bool:
    for name, ref in expected.items():
        out = got[name]
        if out.shape != ref.shape or not np.isfinite(out).all():
            return False
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        if ref.size and float(np.abs(out.astype(np.float64) - ref).max()) > _EQUAL_RTOL * scale + 1e-6:
            return False
    return True


def simplify(model: onnx.ModelProto, probe: dict[str, np.ndarray]) -> Simplified:
    """Run every simplifier; keep the smallest graph that still computes the same outputs."""
    expected = run(create_session(model.SerializeToString()), probe)
    result = Simplified(model, "none")
    for name, simplifier in SIMPLIFIERS.items():
        try:
            candidate = simplifier(model)
            same = _equal(expected, run(create_session(candidate.SerializeToString()), probe))
        except Exception as err:
            result.rejected[name] = f"failed: {str(err).splitlines()[0][:200] if str(err) else type(err).__name__}"
            continue
        if not same:
            result.rejected[name] = "changed the outputs"
        elif (candidate.ByteSize(), len(candidate.graph.node)) < (
            result.model.ByteSize(),
            len(result.model.graph.node),
        ):
            if result.simplifier != "none":
                result.rejected[result.simplifier] = f"larger than {name}"
            result.model, result.simplifier = candidate, name
        else:
            result.rejected[name] = f"not smaller than {result.simplifier}"
    return result
