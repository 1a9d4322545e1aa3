"""The engine file: a small metadata header in front of a serialized TensorRT engine.

A TensorRT engine only runs with the TensorRT version and GPU architecture it was built with,
and a plugin-variant engine only with the plugin library it was built against; deserialising
it anywhere else fails deep inside TensorRT, or crashes. The header says what the engine was
built from and for, so that :func:`read_engine` can refuse a mismatch with a message that names
it and the rebuild command, before TensorRT sees a byte. Pure Python: importable and testable
without TensorRT.

Layout: ``MAGIC`` (16 bytes), the header's length (uint32, little endian), the header (UTF-8
JSON, :class:`EngineHeader`), then the engine exactly as ``build_serialized_network`` made it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..artifacts.files import write_atomic
from ..errors import RapSamError

# PNG-style: a non-ASCII first byte and CR LF catch transfers in text mode, which mangle both.
MAGIC = b"\x89RAPSAM-ENGINE\r\n"
FORMAT = "rapsam-deploy/engine"
FORMAT_VERSION = 1
ENGINE_SUFFIX = ".engine"
_LENGTH = struct.Struct("<I")
_MAX_HEADER_BYTES = 1 << 20


class EngineFileError(RapSamError):
    """An engine file that is missing, damaged, or built for another setup than this one."""


@dataclass(frozen=True)
class EngineHeader:
    """What an engine was built from and for.

    ``compute_capability`` is e.g. ``"sm_90"``; ``profile`` maps each input name to its
    optimisation profile ``{"min": [...], "opt": [...], "max": [...]}``; ``plugin_sha256`` is
    the sha256 of ``librapsam_trt_plugin`` for plugin-variant engines, else ``None``.
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
    engine_bytes: int = 0
    engine_sha256: str = ""
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
    """``ENGINE_DIR/decoder.engine``."""
    return Path(engine_dir) / f"{graph}{ENGINE_SUFFIX}"


def write_engine(path: str | Path, header: EngineHeader, engine: bytes | memoryview) -> EngineHeader:
    """Write ``header`` + ``engine`` to ``path`` atomically, filling in the engine's size and
    sha256; returns the header as written."""
    engine = memoryview(engine).cast("B")
    header = EngineHeader(
        **{**asdict(header), "engine_bytes": engine.nbytes, "engine_sha256": hashlib.sha256(engine).hexdigest()}
    )
    blob = json.dumps(asdict(header), sort_keys=True).encode()
    write_atomic(path, MAGIC + _LENGTH.pack(len(blob)) + blob, engine)
    return header


def _parse_header(path: Path, data: bytes) -> tuple[EngineHeader, int]:
    """The header and the offset where the engine starts; errors for anything malformed."""
    fix = "rebuild it with rapsam-build (engines are written only by rapsam-build, with a header)"
    if not data.startswith(MAGIC):
        raise EngineFileError(
            f"{path} is not a rapsam-deploy engine file (no engine header: a bare TensorRT plan, e.g. "
            "from trtexec, or another file)",
            fix,
        )
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start:
        raise EngineFileError(f"{path} is truncated ({len(data)} bytes, inside the header)", fix)
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    if length > _MAX_HEADER_BYTES or len(data) < start + length:
        raise EngineFileError(f"{path} is truncated or corrupt (its header length {length} does not fit)", fix)
    try:
        raw = json.loads(data[start : start + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EngineFileError(f"{path} has a corrupt header ({err})", fix) from err
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise EngineFileError(f"{path} has a corrupt header (not a {FORMAT} header)", fix)
    if raw.get("version") != FORMAT_VERSION:
        raise EngineFileError(
            f"{path} is an engine file of format version {raw.get('version')}; this rapsam-deploy reads "
            f"version {FORMAT_VERSION}",
            fix + " of this rapsam-deploy version",
        )
    known = {f.name for f in fields(EngineHeader)}
    if set(raw) != known:
        raise EngineFileError(
            f"{path} has a corrupt header (fields missing: {sorted(known - set(raw))}, unknown: "
            f"{sorted(set(raw) - known)})",
            fix,
        )
    return EngineHeader(**raw), start + length


def read_header(path: str | Path) -> EngineHeader:
    """Only the header of an engine file (for listings); the engine bytes are not checked."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + _LENGTH.size + _MAX_HEADER_BYTES)
    return _parse_header(path, head)[0]


def _gpu_label(capability: str, name: str) -> str:
    return f"{capability} ({name})"


def mismatches(header: EngineHeader, expect: EngineExpectation) -> list[str]:
    """Each way in which ``header`` differs from ``expect``, as a sentence; empty if none."""
    found = []
    if header.tensorrt != expect.tensorrt:
        found.append(f"built with TensorRT {header.tensorrt} but this is TensorRT {expect.tensorrt}")
    if header.compute_capability != expect.compute_capability:
        found.append(
            f"built for {_gpu_label(header.compute_capability, header.gpu_name)} but this GPU is "
            f"{_gpu_label(expect.compute_capability, expect.gpu_name)}"
        )
    if (header.graph, header.precision, header.variant) != (expect.graph, expect.precision, expect.variant):
        found.append(
            f"it is the {header.precision} {header.variant}-variant {header.graph} engine, not the "
            f"{expect.precision} {expect.variant}-variant {expect.graph} one"
        )
    if header.onnx_sha256 != expect.onnx_sha256:
        found.append(
            f"the ONNX graph changed since: the engine was built from {header.onnx_file} with sha256 "
            f"{header.onnx_sha256[:12]}…, the export's manifest now says {expect.onnx_sha256[:12]}…"
        )
    if header.plugin_sha256 != expect.plugin_sha256 and header.variant == expect.variant:
        found.append(
            f"plugin library changed: the engine was built with librapsam_trt_plugin sha256 "
            f"{(header.plugin_sha256 or 'none')[:12]}…, the loaded one has {(expect.plugin_sha256 or 'none')[:12]}…"
        )
    return found


def _missing(path: Path, expect: EngineExpectation) -> EngineFileError:
    rebuild = rebuild_command(expect.export_dir, expect.precision, expect.variant, [expect.graph])
    return EngineFileError(f"no TensorRT engine for {expect.graph} at {path}", f"build it: {rebuild}")


def _check_built_for(path: Path, header: EngineHeader, expect: EngineExpectation) -> None:
    found = mismatches(header, expect)
    if found:
        rebuild = rebuild_command(expect.export_dir, expect.precision, expect.variant, [expect.graph])
        raise EngineFileError(f"{path} cannot run here: " + "; ".join(found), f"rebuild it: {rebuild}")


def check_engine(path: str | Path, expect: EngineExpectation) -> EngineHeader:
    """The header of ``path`` after checking that it was built for ``expect`` (the engine bytes
    are not read: cheap enough to check every engine of an export up front)."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, expect)
    header = read_header(path)
    _check_built_for(path, header, expect)
    return header


def read_engine(path: str | Path, expect: EngineExpectation) -> tuple[EngineHeader, memoryview]:
    """The header and the serialized engine of ``path``, after checking that the file is whole
    and the engine was built for ``expect``; one :class:`EngineFileError` otherwise, naming
    every difference and the rebuild command. Nothing is deserialised here."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, expect)
    rebuild = rebuild_command(expect.export_dir, expect.precision, expect.variant, [expect.graph])
    data = path.read_bytes()
    header, offset = _parse_header(path, data)
    engine = memoryview(data)[offset:]
    if engine.nbytes != header.engine_bytes:
        raise EngineFileError(
            f"{path} is truncated: its header says {header.engine_bytes} engine bytes, the file has {engine.nbytes}",
            f"rebuild it: {rebuild}",
        )
    if hashlib.sha256(engine).hexdigest() != header.engine_sha256:
        raise EngineFileError(
            f"{path} is corrupt: the engine's sha256 differs from the one its header recorded",
            f"rebuild it: {rebuild}",
        )
    _check_built_for(path, header, expect)
    return header, engine
