"""What the predictors run on: an opened export directory and a backend over it,
``load(export_dir, backend="auto")``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..artifacts import contract
from ..artifacts.export_dir import ExportDir
from ..artifacts.vocabulary import Vocabulary
from ..backends.base import Backend
from ..backends.select import DEFAULT_BACKEND, create_backend


@dataclass
class Runtime:
    """A backend over one export directory, with what the predictors need from it."""

    backend: Backend
    export: ExportDir
    object_queries: torch.Tensor  # [N,C] on the backend's device

    @property
    def vocabulary(self) -> Vocabulary:
        return self.export.vocabulary

    @property
    def label(self) -> str:
        """The model, for humans (e.g. 'r18, random weights (seed 0), untrained')."""
        return self.export.label


def load(
    export_dir: str | Path | ExportDir,
    backend: str | Backend = DEFAULT_BACKEND,
    precision: str = contract.DEFAULT_PRECISION,
    variant: str = contract.DEFAULT_VARIANT,
    threads: int | None = None,
) -> Runtime:
    """Open ``export_dir`` (written by ``rapsam-export``; an :class:`ExportDir` is used as it
    is) with ``backend``: a name of ``backends.select.BACKENDS`` or a backend made over it."""
    export = ExportDir.open(export_dir)
    if not isinstance(backend, Backend):
        backend = create_backend(backend, export, precision, variant, threads)
    return Runtime(backend, export, torch.from_numpy(export.object_queries()).to(backend.device))
