"""Finding a dataset's files from ``--data`` (an annotation JSON, or the dataset's root folder in
its official layout) and reading its JSON, with clear errors.

Official layouts::

    coco/annotations/panoptic_val2017.json    coco/annotations/panoptic_val2017/*.png    coco/val2017/*.jpg
    coco/annotations/instances_val2017.json
    youtube_vis_2019/annotations/youtube_vis_2019_train.json    youtube_vis_2019/train/JPEGImages/<video>/*.jpg
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import RapSamError

# Which annotation files each task reads, as glob patterns in the root or its annotations/ folder.
PATTERNS = {
    "panoptic": ("panoptic_*.json",),
    "prompt": ("panoptic_*.json", "instances_*.json"),
    "video": ("youtube_vis*.json", "*vis*.json"),
}


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, or a clear error."""
    if not path.is_file():
        raise RapSamError(f"annotation file {path} does not exist", "check --data")
    try:
        content = json.loads(path.read_text())
    # ValueError: also undecodable bytes and integers of more digits than Python converts;
    # RecursionError: nesting deeper than the interpreter's stack.
    except (ValueError, RecursionError) as err:
        raise RapSamError(f"{path} is not valid JSON ({err})", "pass the dataset's annotation JSON") from err
    if not isinstance(content, dict):
        raise RapSamError(f"{path} is not an annotation file (no JSON object)", "pass the dataset's annotation JSON")
    return content


def require_keys(entry: dict, keys: tuple[str, ...], where: str, fix: str) -> None:
    """Raise one clear error naming every key of ``keys`` that ``entry`` lacks."""
    missing = [k for k in keys if k not in entry]
    if missing:
        raise RapSamError(f"{where} lacks {', '.join(missing)}", fix)


# The JSON value kinds of annotation files, as checks and as words for errors.
ID = "an integer or a string"
INTEGER = "an integer"
SIZE = "a positive integer"
TEXT = "a string"
TEXTS = "a list of strings"
OBJECTS = "a list of objects"
_JSON_NAMES = {type(None): "null", bool: "a boolean", int: "a number", float: "a number", str: "a string",
               list: "a list", dict: "an object"}  # fmt: skip
_KINDS = {
    ID: lambda v: isinstance(v, (int, str)) and not isinstance(v, bool),
    INTEGER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    SIZE: lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    TEXT: lambda v: isinstance(v, str),
    TEXTS: lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    OBJECTS: lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
}


def require_fields(entry: dict, kinds: dict[str, str], where: str, fix: str) -> None:
    """Raise one clear error for the keys of ``kinds`` that ``entry`` lacks, else for the first
    whose value is not of its kind (ID, INTEGER, SIZE, TEXT or OBJECTS)."""
    require_keys(entry, tuple(kinds), where, fix)
    for key, kind in kinds.items():
        if not _KINDS[kind](entry[key]):
            raise RapSamError(f"{where}: {key} is {_JSON_NAMES[type(entry[key])]}, not {kind}", fix)


def find_annotations(data: Path, task: str) -> Path:
    """``--data`` -> the annotation JSON: the file itself, or the one file in ``data`` (or
    ``data/annotations``) that matches the task's first pattern that matches any (for prompts,
    COCO panoptic before instances, as the official protocol)."""
    if data.is_file():
        return data
    if not data.is_dir():
        raise RapSamError(f"--data {data} does not exist", "pass the annotation JSON or the dataset's root folder")
    for pattern in PATTERNS[task]:
        found = sorted({p for folder in (data, data / "annotations") for p in folder.glob(pattern)})
        if len(found) == 1:
            return found[0]
        if found:
            raise RapSamError(
                f"--data {data}: several {pattern} files ({', '.join(str(p) for p in found)})",
                "pass the annotation JSON itself as --data",
            )
    raise RapSamError(
        f"--data {data}: no {' or '.join(PATTERNS[task])} file for the {task} task",
        "pass the annotation JSON itself as --data",
    )


def split_name(annotations: Path) -> str:
    """The split an annotation file is for: panoptic_val2017.json -> val2017, youtube_vis_2019_train -> train."""
    return annotations.stem.rsplit("_", 1)[-1]


def images_folder(annotations: Path, images: Path | None) -> Path:
    """``--images``, or the official layout's image folder for ``annotations``."""
    if images is not None:
        if not images.is_dir():
            raise RapSamError(f"--images {images} is not a folder", "pass the folder that holds the images")
        return images
    split = split_name(annotations)
    roots = (annotations.parent.parent, annotations.parent)
    candidates = [root / split / "JPEGImages" for root in roots] + [root / split for root in roots]
    candidates.append(annotations.parent / "JPEGImages")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise RapSamError(
        f"no image folder found for {annotations} (looked for {', '.join(str(c) for c in candidates[:3])})",
        "pass the folder that holds the images with --images",
    )


def check_file(path: Path, what: str, option: str) -> Path:
    """``path`` if it exists, else a clear error naming the option that sets its folder."""
    if not path.is_file():
        raise RapSamError(f"{what} {path} does not exist", f"check the dataset, or pass its folder with {option}")
    return path
