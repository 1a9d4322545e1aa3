"""Files of an export directory, checked against its manifest before any runtime reads them."""

from __future__ import annotations

from pathlib import Path

from ..backends.base import GRAPH_SPECS
from ..errors import RapSamError
from ..model.checkpoint import sha256_of
from .contract import Manifest


def verified_graph(export_dir: Path, manifest: Manifest, graph: str, variant: str, precision: str) -> Path:
    """The graph's file, after checking it has this version's contract, exists, and its sha256
    is the manifest's."""
    artifact = manifest.artifact(graph, variant, precision)
    spec = GRAPH_SPECS[graph]
    names = ([t["name"] for t in artifact.inputs], [t["name"] for t in artifact.outputs])
    if names != (spec.input_names, spec.output_names):
        raise RapSamError(
            f"{artifact.file} has inputs/outputs {names}, not this version's contract "
            f"{(spec.input_names, spec.output_names)}",
            f"re-export {export_dir} with this version of rapsam-export",
        )
    path = export_dir / artifact.file
    if not path.is_file():
        raise RapSamError(f"{path} is missing from the export", f"re-export into {export_dir}")
    if sha256_of(path) != artifact.sha256:
        raise RapSamError(
            f"{path} does not match manifest.json (sha256 differs: the file was changed or damaged)",
            f"re-export into {export_dir}",
        )
    return path
