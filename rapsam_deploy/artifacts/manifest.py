"""``manifest.json``: what an export directory holds (every graph file with its form, hash,
tensors and measured parity; the model, image normalisation, prompts, classes, engine
profiles and tool versions), its schema and the one place that reads and writes it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import RapSamError
from .files import write_atomic

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "rapsam-deploy/manifest"
MANIFEST_VERSION = 1


@dataclass
class Artifact:
    """One ONNX file: which graph, in which variant and precision, and what is known of it."""

    graph: str
    file: str
    variant: str
    precision: str
    sha256: str
    bytes: int
    opset: int
    inputs: list[dict]
    outputs: list[dict]
    simplifier: str = "none"
    custom_ops: list[str] = field(default_factory=list)
    tensorrt_unsupported: list[str] = field(default_factory=list)
    parity: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    """Everything a runtime needs to know about an export directory (DESIGN.md)."""

    model: dict
    image: dict
    prompts: dict
    vocabulary: dict
    profiles: dict
    object_queries: dict
    artifacts: list[Artifact]
    validation: dict
    tools: dict
    created: str
    # precision -> what its graphs compute in (model.precision.policy); {} in older exports
    precision_policy: dict = field(default_factory=dict)
    format: str = MANIFEST_FORMAT
    version: int = MANIFEST_VERSION

    def artifact(self, graph: str, variant: str = "standard", precision: str = "fp32") -> Artifact:
        """The artefact of ``graph`` in ``variant``/``precision``; a clear error if absent."""
        for item in self.artifacts:
            if (item.graph, item.variant, item.precision) == (graph, variant, precision):
                return item
        have = sorted({(a.variant, a.precision) for a in self.artifacts if a.graph == graph})
        raise RapSamError(
            f"the export has no {variant}/{precision} {graph} graph (it has: {have})",
            f"re-export with --variant {variant} --precision {precision}",
        )

    def task_misses(self, form: str) -> list[str] | None:
        """The task gates the chain of ``form`` ('standard/int8', or a runtime's computation of the
        fp32 graphs such as 'openvino/bf16') missed at export ([]: it met them all; an int8 form
        is written even where it misses), or None where it was not validated."""
        entry = ((self.validation.get("tasks") or {}).get("forms") or {}).get(form)
        return None if not isinstance(entry, dict) else list(entry.get("misses", []))

    def to_json(self) -> dict:
        return asdict(self)


def write_manifest(manifest: Manifest, directory: Path) -> Path:
    """Write ``manifest.json`` into ``directory`` (atomically)."""
    path = Path(directory) / MANIFEST_FILE
    write_atomic(path, (json.dumps(manifest.to_json(), indent=2) + "\n").encode())
    return path


# What each field's annotation asks of its JSON value (bool is not an int; an Artifact's own
# fields are checked on their own).
_IS_TYPE = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "list[dict]": lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "list[Artifact]": lambda v: isinstance(v, list),
}


def _mistyped(item: Manifest | Artifact, where: str) -> list[str]:
    """``where`` + the name of each field of ``item`` whose value is not of its annotated type."""
    return [f"{where}{f.name}" for f in fields(item) if not _IS_TYPE[f.type](getattr(item, f.name))]


def parse_manifest(data: bytes, source: str | Path) -> Manifest:
    """A :class:`Manifest` from the bytes of a ``manifest.json`` (``source`` names it in errors)."""
    try:
        raw = json.loads(data)
    # ValueError: also undecodable bytes and integers of more digits than Python converts;
    # RecursionError: nesting deeper than the interpreter's stack.
    except (ValueError, RecursionError) as err:
        raise RapSamError(f"{source} is not valid JSON ({err})", "re-export the directory") from err
    if not isinstance(raw, dict) or raw.get("format") != MANIFEST_FORMAT or raw.get("version") != MANIFEST_VERSION:
        raise RapSamError(
            f"{source} is not a rapsam-deploy manifest of version {MANIFEST_VERSION}",
            "re-export with this version of rapsam-deploy",
        )
    try:
        raw["artifacts"] = [Artifact(**a) for a in raw["artifacts"]]
        manifest = Manifest(**raw)
    except (TypeError, KeyError) as err:
        raise RapSamError(f"{source} is missing or has unknown fields ({err})", "re-export the directory") from err
    wrong = _mistyped(manifest, "")
    for index, artifact in enumerate(manifest.artifacts):
        wrong += _mistyped(artifact, f"artifacts[{index}].")
    if wrong:
        raise RapSamError(f"{source} has fields of the wrong type ({', '.join(wrong)})", "re-export the directory")
    return manifest


def read_manifest(directory: str | Path) -> Manifest:
    """Read and check ``manifest.json`` of an export directory."""
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise RapSamError(f"{directory} has no {MANIFEST_FILE}", "export first: rapsam-export --output DIR")
    return parse_manifest(path.read_bytes(), path)
