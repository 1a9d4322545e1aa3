"""An export directory, opened once: what every backend, predictor, engine build, benchmark and
evaluation receives instead of a path to read again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import RapSamError
from . import contract
from .files import sha256_of
from .manifest import Manifest, read_manifest
from .vocabulary import Vocabulary

# The first bytes of the files an export holds: a manifest can list a file that is not what its
# name says, and the runtimes that would read it fail with messages of their own.
_SIGNATURES = {
    ".onnx": ("an ONNX model", b"\x08"),  # protobuf field 1 of ModelProto, ir_version, which every model sets
    ".npy": ("a NumPy array", b"\x93NUMPY"),
}


class ExportDir:
    """``rapsam-export``'s output: its manifest, parsed once, and its files, each checked
    against the manifest (present, this version's tensors, same sha256, the kind of file its
    name says) the first time it is used. Open one with :meth:`open`."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest
        self._verified: dict[str, Path] = {}
        self._object_queries: np.ndarray | None = None

    @classmethod
    def open(cls, path: str | Path | ExportDir) -> ExportDir:
        """Open the export directory at ``path`` (an already opened one is returned as it is)."""
        if isinstance(path, ExportDir):
            return path
        path = Path(path)
        if not path.is_dir():
            what = "is not a directory" if path.exists() else "does not exist"
            raise RapSamError(f"export directory {path} {what}", "export first: rapsam-export --output DIR")
        return cls(path, read_manifest(path))

    def __repr__(self) -> str:
        return f"<ExportDir {self.path} ({self.label})>"

    @property
    def label(self) -> str:
        """The model, for humans: e.g. 'r18, random weights (seed 0), untrained'."""
        return str(self.manifest.model.get("label", self.manifest.model.get("backbone", "unknown model")))

    @property
    def num_classes(self) -> int:
        """K, classes without no-object."""
        return int(self.manifest.model["num_classes"])

    @property
    def vocabulary(self) -> Vocabulary:
        v = self.manifest.vocabulary
        return Vocabulary(v["name"], tuple(v["classes"]), v["num_things"])

    def graph_file(
        self, graph: str, variant: str = contract.DEFAULT_VARIANT, precision: str = contract.DEFAULT_PRECISION
    ) -> Path:
        """The file of ``graph`` in that form, after checking (once per file) that it has this
        version's contract, exists and has the manifest's sha256."""
        artifact = self.manifest.artifact(graph, variant, precision)
        if artifact.file in self._verified:
            return self._verified[artifact.file]
        spec = contract.graph(graph)
        names = ([t["name"] for t in artifact.inputs], [t["name"] for t in artifact.outputs])
        if names != (spec.input_names, spec.output_names):
            raise RapSamError(
                f"{artifact.file} has inputs/outputs {names}, not this version's contract "
                f"{(spec.input_names, spec.output_names)}",
                f"re-export {self.path} with this version of rapsam-export",
            )
        path = self._checked(artifact.file, artifact.sha256)
        self._verified[artifact.file] = path
        return path

    def object_queries(self) -> np.ndarray:
        """The learned object queries [N,C] float32 (``object_queries.npy``, checked once)."""
        if self._object_queries is None:
            info = self.manifest.object_queries
            path = self._checked(info["file"], info["sha256"])
            queries = np.load(path, allow_pickle=False)
            if queries.dtype != np.float32 or queries.ndim != 2 or queries.shape[1] != contract.CHANNELS:
                raise RapSamError(
                    f"{path} holds {queries.dtype} {queries.shape}, not float32 [N,{contract.CHANNELS}]",
                    f"re-export into {self.path}",
                )
            self._object_queries = queries
        return self._object_queries

    def _checked(self, file: str, sha256: str) -> Path:
        path = self.path / file
        if not path.is_file():
            raise RapSamError(f"{path} is missing from the export", f"re-export into {self.path}")
        if sha256_of(path) != sha256:
            raise RapSamError(
                f"{path} does not match manifest.json (sha256 differs: the file was changed or damaged)",
                f"re-export into {self.path}",
            )
        kind, signature = _SIGNATURES.get(path.suffix, ("", b""))
        with open(path, "rb") as f:
            if not f.read(len(signature)).startswith(signature):
                raise RapSamError(f"{path} is not {kind}", f"re-export into {self.path}")
        return path
