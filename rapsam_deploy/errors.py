"""The one exception type users see: what is wrong, and what to do about it."""

from __future__ import annotations


class RapSamError(Exception):
    """An error caused by the user's input, with a message they can act on.

    Command-line tools print ``str(error)`` and exit non-zero without a traceback.
    """

    def __init__(self, what: str, fix: str | None = None) -> None:
        self.what = what
        self.fix = fix
        super().__init__(what if fix is None else f"{what}\n  fix: {fix}")


class UnknownBackboneError(RapSamError):
    """A backbone name that is not in the registry."""


class CheckpointError(RapSamError):
    """A checkpoint that cannot be read, or whose tensors do not fit the model."""


class ClassEmbeddingError(RapSamError):
    """A class-embedding file of the wrong form."""
