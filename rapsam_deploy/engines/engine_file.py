"""Engine files: a plain serialized TensorRT plan and, beside it, a JSON sidecar saying what it
was built from and for.

The plan is exactly what ``build_serialized_network`` made, so ``trtexec --loadEngine``,
Triton's ``tensorrt_plan`` platform, DeepStream and polygraphy load it as it is. But a plan only
runs with the TensorRT version and GPU architecture it was built with, and a plugin-variant plan
only with the plugin library it was built against; deserialising it anywhere else fails deep
inside TensorRT, or crashes. The sidecar records all that (and the plan's size and sha256), so
that :func:`read_engine` can refuse a mismatch with a message that names it and the rebuild
command before TensorRT sees a byte. A plan without a sidecar (built elsewhere, e.g. by trtexec)
is loaded with an :class:`UncheckedEngineWarning`: TensorRT's own check is all it gets. Pure
Python: importable and testable without TensorRT.

Layout: ``ENGINE_DIR/decoder.plan`` (the plan) and ``ENGINE_DIR/decoder.plan.json`` (the
sidecar, :class:`EngineSidecar` as JSON).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..artifacts.files import write_atomic
from ..errors import RapSamError

FORMAT = "rapsam-deploy/engine-sidecar"
FORMAT_VERSION = 1
PLAN_SUFFIX = ".plan"
SIDECAR_SUFFIX = ".json"
# rapsam-deploy's old engine file, refused with the rebuild command: MAGIC, the header's length
# (uint32), a JSON header, then the plan, in ENGINE_DIR/decoder.engine.
OLD_MAGIC = b"\x89RAPSAM-ENGINE\r\n"
OLD_SUFFIX = ".engine"
# The sidecar's text fields in the order the C++ reader checks them (plugin_sha256 may be null).
_TEXT_FIELDS = (
    "tensorrt", "gpu_name", "compute_capability", "precision", "variant", "graph", "onnx_file", "onnx_sha256",
    "plugin_sha256", "rapsam_deploy", "created", "plan_sha256",
)  # fmt: skip


class EngineFileError(RapSamError):
    """An engine file that is missing, damaged, or built for another setup than this one."""


class UncheckedEngineWarning(UserWarning):
    """A plan without a sidecar: nothing says what it was built for, so it is loaded unchecked."""


@dataclass(frozen=True)
class EngineSidecar:
    """What a plan was built from and for.

    ``compute_capability`` is e.g. ``"sm_90"``; ``profile`` maps each input name to its
    optimisation profile ``{"min": [...], "opt": [...], "max": [...]}``; ``plugin_sha256`` is
    the sha256 of ``librapsam_trt_plugin`` for plugin-variant plans, else ``None``;
    ``plan_bytes`` and ``plan_sha256`` are the plan file's size and sha256.
    """

    tensorrt: str
    gpu_name: str
    compute_capability: str
    precision: str
    variant: str
    graph: str
    onnx_file: str
    onnx_sha256: str
    plugin_sha256: str | None
    profile: dict
    rapsam_deploy: str
    created: str
    plan_bytes: int = 0
    plan_sha256: str = ""
    format: str = FORMAT
    version: int = FORMAT_VERSION


@dataclass(frozen=True)
class EngineExpectation:
    """What this process needs an engine to be: its TensorRT, its GPU, the export's graph."""

    tensorrt: str
    gpu_name: str
    compute_capability: str
    precision: str
    variant: str
    graph: str
    onnx_sha256: str
    plugin_sha256: str | None
    export_dir: str = "EXPORT_DIR"


def rebuild_command(export_dir: str | Path, precision: str, variant: str, graphs: list[str] | None = None) -> str:
    """The ``rapsam-build`` command line that (re)builds these engines."""
    command = f"rapsam-build {export_dir} --precision {precision} --variant {variant}"
    if graphs:
        command += " --graphs " + " ".join(graphs)
    return command + " --force"


def default_engine_dir(export_dir: str | Path, precision: str, variant: str) -> Path:
    """Where ``rapsam-build`` puts engines unless told otherwise: ``EXPORT_DIR/engines/fp16-standard``."""
    return Path(export_dir) / "engines" / f"{precision}-{variant}"


def engine_path(engine_dir: str | Path, graph: str) -> Path:
    """The plan of ``graph``: ``ENGINE_DIR/decoder.plan``."""
    return Path(engine_dir) / f"{graph}{PLAN_SUFFIX}"


def sidecar_path(plan: str | Path) -> Path:
    """The sidecar of a plan: ``ENGINE_DIR/decoder.plan.json``."""
    plan = Path(plan)
    return plan.with_name(plan.name + SIDECAR_SUFFIX)


def old_engine_path(plan: str | Path) -> Path:
    """Where rapsam-deploy's old format kept the engine that ``plan`` replaces: ``ENGINE_DIR/decoder.engine``."""
    return Path(plan).with_suffix(OLD_SUFFIX)


def write_engine(path: str | Path, sidecar: EngineSidecar, plan: bytes | memoryview) -> EngineSidecar:
    """Write ``plan`` to ``path`` and then its sidecar beside it, each atomically, with the plan's
    size and sha256 filled in; returns the sidecar as written."""
    plan = memoryview(plan).cast("B")
    sidecar = EngineSidecar(
        **{**asdict(sidecar), "plan_bytes": plan.nbytes, "plan_sha256": hashlib.sha256(plan).hexdigest()}
    )
    write_atomic(path, plan)
    # Last, so that a sidecar never describes a plan that is not (yet) there.
    write_atomic(sidecar_path(path), json.dumps(asdict(sidecar), indent=2, sort_keys=True).encode() + b"\n")
    return sidecar


def _rebuild_fix(rebuild: str | None) -> str:
    return f"rebuild it: {rebuild}" if rebuild else "rebuild it with rapsam-build"


def _parse_sidecar(path: Path, data: bytes, rebuild: str | None) -> EngineSidecar:
    """The sidecar in ``data`` (read from ``path``); errors for anything malformed."""
    fix = _rebuild_fix(rebuild)
    try:
        raw = json.loads(data)
    # ValueError: also undecodable bytes and integers of more digits than Python converts;
    # RecursionError: nesting deeper than the interpreter's stack.
    except (ValueError, RecursionError) as err:
        raise EngineFileError(f"{path} is a corrupt engine sidecar ({err})", fix) from err
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise EngineFileError(f"{path} is a corrupt engine sidecar (not a {FORMAT} file)", fix)
    if raw.get("version") != FORMAT_VERSION or isinstance(raw.get("version"), bool):  # True == 1 in Python
        raise EngineFileError(
            f"{path} is an engine sidecar of format version {raw.get('version')}; this rapsam-deploy reads "
            f"version {FORMAT_VERSION}",
            f"use the rapsam-deploy that built it, or {fix}",
        )
    known = {f.name for f in fields(EngineSidecar)}
    if set(raw) != known:
        raise EngineFileError(
            f"{path} is a corrupt engine sidecar (fields missing: {sorted(known - set(raw))}, unknown: "
            f"{sorted(set(raw) - known)})",
            fix,
        )
    problem = _mistyped(raw)
    if problem:
        raise EngineFileError(f"{path} is a corrupt engine sidecar ({problem})", fix)
    return EngineSidecar(**raw)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _mistyped(raw: dict) -> str | None:
    """The first field of a sidecar's JSON that is not of its type, as C++'s SidecarReader (cpp/src/
    engine_file.cpp) checks them and in its words; None if all are."""
    for name in _TEXT_FIELDS:
        if not isinstance(raw[name], str) and not (name == "plugin_sha256" and raw[name] is None):
            return f"{name} is not a string"
    if not _is_int(raw["plan_bytes"]):
        return "plan_bytes is not an integer"
    if not isinstance(raw["profile"], dict):
        return "profile is not a mapping"
    for name, points in raw["profile"].items():
        if not isinstance(points, dict) or not {"min", "opt", "max"} <= points.keys():
            return f"the profile of {name} lacks min, opt or max"
        for shape in (points["min"], points["opt"], points["max"]):
            if not isinstance(shape, list):
                return "a profile shape is not a list"
            if not all(_is_int(d) for d in shape):
                return "a profile shape has a non-integer dimension"
    return None


def _load_sidecar(plan: Path, rebuild: str | None) -> EngineSidecar | None:
    path = sidecar_path(plan)
    return _parse_sidecar(path, path.read_bytes(), rebuild) if path.is_file() else None


def read_sidecar(plan: str | Path) -> EngineSidecar | None:
    """The sidecar of ``plan`` (for listings), ``None`` if it has none; the plan is not read."""
    return _load_sidecar(Path(plan), None)


def _gpu_label(capability: str, name: str) -> str:
    return f"{capability} ({name})"


def mismatches(sidecar: EngineSidecar, expect: EngineExpectation) -> list[str]:
    """Each way in which ``sidecar`` differs from ``expect``, as a sentence; empty if none."""
    found = []
    if sidecar.tensorrt != expect.tensorrt:
        found.append(f"built with TensorRT {sidecar.tensorrt} but this is TensorRT {expect.tensorrt}")
    if sidecar.compute_capability != expect.compute_capability:
        found.append(
            f"built for {_gpu_label(sidecar.compute_capability, sidecar.gpu_name)} but this GPU is "
            f"{_gpu_label(expect.compute_capability, expect.gpu_name)}"
        )
    if (sidecar.graph, sidecar.precision, sidecar.variant) != (expect.graph, expect.precision, expect.variant):
        found.append(
            f"it is the {sidecar.precision} {sidecar.variant}-variant {sidecar.graph} engine, not the "
            f"{expect.precision} {expect.variant}-variant {expect.graph} one"
        )
    if sidecar.onnx_sha256 != expect.onnx_sha256:
        found.append(
            f"the ONNX graph changed since: the engine was built from {sidecar.onnx_file} with sha256 "
            f"{sidecar.onnx_sha256[:12]}…, the export's manifest now says {expect.onnx_sha256[:12]}…"
        )
    if sidecar.plugin_sha256 != expect.plugin_sha256 and sidecar.variant == expect.variant:
        found.append(
            f"plugin library changed: the engine was built with librapsam_trt_plugin sha256 "
            f"{(sidecar.plugin_sha256 or 'none')[:12]}…, the loaded one has {(expect.plugin_sha256 or 'none')[:12]}…"
        )
    return found


def _rebuild(expect: EngineExpectation) -> str:
    return rebuild_command(expect.export_dir, expect.precision, expect.variant, [expect.graph])


def _old_format(path: Path, expect: EngineExpectation) -> EngineFileError:
    return EngineFileError(
        f"{path} is an engine in rapsam-deploy's old format (a header in front of the TensorRT plan), which this "
        "rapsam-deploy no longer reads",
        f"rebuild it with rapsam-build: {_rebuild(expect)}",
    )


def _unchecked(plan: Path) -> str:
    return (
        f"{plan} has no sidecar {sidecar_path(plan).name}: nothing says which TensorRT, GPU, plugin library and graph "
        "it was built for (a plan built elsewhere, e.g. by trtexec), so it is loaded unchecked and TensorRT's own "
        "compatibility check is all there is"
    )


def check_engine(path: str | Path, expect: EngineExpectation) -> EngineSidecar | None:
    """The sidecar of the plan at ``path`` after checking that the plan was built for ``expect``;
    ``None``, with an :class:`UncheckedEngineWarning`, for a plan without one (unless its first
    bytes say it is in the old format). The plan is not read beyond those: cheap enough to check
    every engine of an export up front."""
    path = Path(path)
    if not path.is_file():
        if old_engine_path(path).is_file():
            raise _old_format(old_engine_path(path), expect)
        raise EngineFileError(f"no TensorRT engine for {expect.graph} at {path}", f"build it: {_rebuild(expect)}")
    sidecar = _load_sidecar(path, _rebuild(expect))
    if sidecar is None:
        with open(path, "rb") as f:
            if f.read(len(OLD_MAGIC)) == OLD_MAGIC:
                raise _old_format(path, expect)
        # Always from this line: Python's default filter then warns once per plan, not once per check.
        warnings.warn(_unchecked(path), UncheckedEngineWarning, stacklevel=1)
        return None
    found = mismatches(sidecar, expect)
    if found:
        raise EngineFileError(f"{path} cannot run here: " + "; ".join(found), f"rebuild it: {_rebuild(expect)}")
    return sidecar


def read_engine(path: str | Path, expect: EngineExpectation) -> tuple[EngineSidecar | None, memoryview]:
    """The sidecar (``None`` for a plan without one, with an :class:`UncheckedEngineWarning`) and
    the plan at ``path``, after checking that the plan is the one its sidecar describes (size and
    sha256) and was built for ``expect``; one :class:`EngineFileError` otherwise, naming every
    difference and the rebuild command. Nothing is deserialised here."""
    path = Path(path)
    sidecar = check_engine(path, expect)
    plan = memoryview(path.read_bytes())
    if sidecar is None:
        return None, plan
    fix = f"rebuild it: {_rebuild(expect)}"
    name = sidecar_path(path).name
    if plan.nbytes != sidecar.plan_bytes:
        raise EngineFileError(
            f"{path} is truncated or was replaced: its sidecar {name} says {sidecar.plan_bytes} bytes, the file has "
            f"{plan.nbytes}",
            fix,
        )
    if hashlib.sha256(plan).hexdigest() != sidecar.plan_sha256:
        raise EngineFileError(
            f"{path} is corrupt or was replaced: its sha256 differs from the one its sidecar {name} recorded", fix
        )
    return sidecar, plan


def check_engine_dir(engine_dir: str | Path, expects: list[EngineExpectation]) -> None:
    """Refuse ``engine_dir`` if the plan of any graph of ``expects`` (one export, precision and
    variant) is missing, with one error that names them all (and those still in the old format)
    and the one command that builds them."""
    engine_dir = Path(engine_dir)
    missing = [e.graph for e in expects if not engine_path(engine_dir, e.graph).is_file()]
    if not missing:
        return
    old = [p.name for p in (old_engine_path(engine_path(engine_dir, g)) for g in missing) if p.is_file()]
    note = f" ({', '.join(old)}: rapsam-deploy's old engine format, no longer read)" if old else ""
    first = expects[0]
    raise EngineFileError(
        f"no TensorRT engines for {', '.join(missing)} in {engine_dir}{note}",
        "build them: " + rebuild_command(first.export_dir, first.precision, first.variant, missing),
    )


def refused_by_tensorrt(
    path: str | Path, expect: EngineExpectation, sidecar: EngineSidecar | None, why: str
) -> EngineFileError:
    """The error for a plan that TensorRT would not deserialise; ``why`` is where TensorRT's own
    messages are."""
    if sidecar is None:
        what = (
            f"TensorRT refused {path}, a plan without a sidecar: it was probably built by another TensorRT version "
            f"or for another GPU ({why})"
        )
    else:
        what = f"TensorRT could not deserialise the {expect.graph} engine {path} ({why})"
    return EngineFileError(what, f"rebuild it: {_rebuild(expect)}")
