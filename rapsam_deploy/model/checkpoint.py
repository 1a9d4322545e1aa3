"""Reading official checkpoints and class-embedding files safely, and strict key matching.

Files are read with ``torch.load(weights_only=True)``: no code from the file runs. Official
(mmengine) checkpoints also pickle metadata objects (``HistoryBuffer``, numpy scalars and
arrays, config dicts); each such class is replaced by an inert stand-in while reading, and
the caller is told what was skipped. Only the tensors of the state dict are used.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ..artifacts.files import sha256_of
from ..errors import CheckpointError, ClassEmbeddingError

_STATE_DICT_ENTRIES = ("state_dict", "model", "module")
_MAX_STANDINS = 200
_UNSUPPORTED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_CONTAINER_SUBCLASS = re.compile(r"Can only (SETITEMS?|APPENDS?|EXTEND) for .* got <class '([\w.]+)'>")
_UNIT_NORM_TOLERANCE = 1e-3
_WEIGHTS_UNPICKLER = "WeightsUnpickler error:"


class _Skipped:
    """Inert stand-in for a class or function pickled in a checkpoint's metadata."""

    qualified_name = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def _standin(name: str) -> type:
    module, _, short = name.rpartition(".")
    # Named as the original so that the unpickler's messages name the original class.
    return type(short, (_Skipped,), {"qualified_name": name, "__module__": module, "__qualname__": short})


def _unreadable(what: str, path: Path, err: Exception) -> CheckpointError:
    first_line = str(err).splitlines()[0] if str(err) else "no detail"
    return CheckpointError(
        f"{what} {path} is truncated or not a PyTorch file ({err.__class__.__name__}: {first_line})",
        "download it again and compare its size or sha256 with the published one",
    )


def _qualified(name: str) -> str:
    """The unpickler names builtins without their module."""
    return name if "." in name else f"builtins.{name}"


def _initial_standins(path: Path) -> dict[str, type]:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        # Legacy (non-zip) files cannot be scanned ahead; the loop in safe_load finds them.
        return {}
    return {name: _standin(name) for name in names}


def safe_load(path: str | Path, what: str = "checkpoint") -> tuple[object, list[str]]:
    """``torch.load(weights_only=True)`` with inert stand-ins for non-tensor metadata classes.

    Returns the loaded object and the qualified names of the classes that were replaced.
    Raises :class:`CheckpointError` for a missing, truncated or non-PyTorch file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist", "check the path")
    standins = _initial_standins(path)
    for _ in range(_MAX_STANDINS):
        try:
            with torch.serialization.safe_globals([(cls, name) for name, cls in standins.items()]):
                return torch.load(path, map_location="cpu", weights_only=True), sorted(standins)
        except pickle.UnpicklingError as err:
            message = str(err)
            detail = message.split(_WEIGHTS_UNPICKLER, 1)[-1].strip().splitlines()[0]
            if _WEIGHTS_UNPICKLER not in message or detail.startswith("Unsupported operand"):
                raise _unreadable(what, path, err) from err
            container = _CONTAINER_SUBCLASS.search(detail)
            unsupported = _UNSUPPORTED_GLOBAL.search(detail)
            if container:
                # A dict or list subclass: read it as the plain container.
                standins[container.group(2)] = dict if container.group(1).startswith("SETITEM") else list
            elif unsupported and _qualified(unsupported.group(1)) not in standins:
                standins[_qualified(unsupported.group(1))] = _standin(_qualified(unsupported.group(1)))
            else:
                raise CheckpointError(
                    f"{what} {path} cannot be read without running code from it ({detail})",
                    "re-save the state dict alone with torch.save(model.state_dict(), path) where you trust the file",
                ) from err
        except Exception as err:
            # Damaged bytes surface as whatever the zip reader or unpickler trips on (IndexError,
            # KeyError, struct.error, BadZipFile, ...): all of them mean an unreadable file.
            raise _unreadable(what, path, err) from err
    raise CheckpointError(f"{what} {path} pickles too many unknown classes", "re-save the state dict alone")


@dataclass
class LoadedCheckpoint:
    """The tensors of a checkpoint's state dict, and what was left out."""

    state_dict: dict[str, Tensor]
    path: str
    sha256: str
    skipped: list[str] = field(default_factory=list)


def _state_dict_entry(obj: object, path: Path) -> tuple[dict, list[str]]:
    if not isinstance(obj, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(obj).__name__}, not a state dict",
            "pass a file written by torch.save(state_dict) or an official RAP-SAM checkpoint",
        )
    for key in _STATE_DICT_ENTRIES:
        if isinstance(obj.get(key), dict):
            return obj[key], [f"top-level entry {k!r}" for k in obj if k != key]
    return obj, []


def read_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Read a checkpoint (``state_dict`` / ``model`` entry or a bare state dict, ``module.``
    prefixes removed) without running code from it."""
    path = Path(path)
    obj, standins = safe_load(path, "checkpoint")
    raw, skipped = _state_dict_entry(obj, path)
    state_dict: dict[str, Tensor] = {}
    for key, value in raw.items():
        if isinstance(value, Tensor):
            state_dict[key.removeprefix("module.")] = value
        else:
            skipped.append(f"non-tensor state-dict entry {key!r}")
    skipped += [f"pickled object of class {name}" for name in standins]
    if not state_dict:
        raise CheckpointError(f"checkpoint {path} contains no tensors", "pass the model checkpoint itself")
    return LoadedCheckpoint(state_dict, str(path), sha256_of(path), skipped)


@dataclass
class KeyReport:
    """Differences between a state dict and a model."""

    missing: list[str]
    unexpected: list[str]
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


def compare_keys(expected: dict[str, torch.Size], state_dict: dict[str, Tensor]) -> KeyReport:
    """Missing, unexpected and mis-shaped keys of ``state_dict`` against ``expected`` shapes."""
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        (key, tuple(state_dict[key].shape), tuple(shape))
        for key, shape in expected.items()
        if key in state_dict and tuple(state_dict[key].shape) != tuple(shape)
    ]
    return KeyReport(missing, unexpected, mismatched)


def _listing(title: str, items: list[str], limit: int = 8) -> str:
    shown = "".join(f"\n    {item}" for item in items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"\n  {len(items)} {title}:{shown}{more}"


def load_strict(model: nn.Module, checkpoint: LoadedCheckpoint, diagnose: Callable[[], str]) -> None:
    """Copy the checkpoint into ``model``; on any difference raise one error listing them all.

    ``diagnose()`` works out the likely cause (e.g. the other backbone) for the message.
    """
    expected = {k: v.shape for k, v in model.state_dict().items()}
    report = compare_keys(expected, checkpoint.state_dict)
    if not report.ok:
        details = (
            _listing("missing keys", report.missing)
            + _listing("unexpected keys", report.unexpected)
            + _listing(
                "keys with another shape (checkpoint vs model)",
                [f"{k}: {tuple(a)} vs {tuple(b)}" for k, a, b in report.mismatched],
            )
        )
        raise CheckpointError(f"checkpoint {checkpoint.path} does not fit the model:{details}", diagnose())
    model.load_state_dict(checkpoint.state_dict, strict=True)


def read_class_embed(path: str | Path) -> tuple[Tensor, str]:
    """Read a class-embedding file of the official release: a [K,P,D] tensor (K classes, P
    prompt templates or synonyms, D embedding dim), unit norm along D. Returns it as float32
    with the file's sha256."""
    path = Path(path)
    try:
        obj, _ = safe_load(path, "class-embedding file")
    except CheckpointError as err:
        raise ClassEmbeddingError(err.what, err.fix) from err
    if isinstance(obj, dict):
        tensors = [v for v in obj.values() if isinstance(v, Tensor)]
        if len(tensors) != 1:
            raise ClassEmbeddingError(
                f"class-embedding file {path} holds a dict with {len(tensors)} tensors ({list(obj)[:5]})",
                "pass the [K, P, D] tensor file of the official release (tools/gen_cls.py output)",
            )
        obj = tensors[0]
    if not isinstance(obj, Tensor) or obj.dim() != 3 or not obj.is_floating_point():
        shape = tuple(obj.shape) if isinstance(obj, Tensor) else type(obj).__name__
        raise ClassEmbeddingError(
            f"class-embedding file {path} holds {shape}; expected a float tensor [K classes, P prototypes, D dims]",
            "pass the [K, P, D] tensor file of the official release (tools/gen_cls.py output)",
        )
    embed = obj.float()
    norms = embed.norm(dim=-1)
    if not torch.isfinite(embed).all() or (norms - 1).abs().max() > _UNIT_NORM_TOLERANCE:
        raise ClassEmbeddingError(
            f"class embeddings in {path} are not unit-norm (norms from {norms.min():.4g} to {norms.max():.4g})",
            "pass the normalised CLIP text embeddings of the official release",
        )
    return embed, sha256_of(path)
