"""Dataset categories and their mapping to the model's vocabulary (the export's manifest).

A dataset category maps to the model class of the same name: names are compared lower-case with
"_" and "-" read as spaces, and COCO panoptic's own stuff names ("wall-other-merged") read as the
vocabulary's ("wall"). This reproduces the official merge of COCO and YouTube-VIS classes.
Where no name matches (an export with generic class names) but the dataset has exactly as many
categories, with as many things, as the model has classes, they map in order, as the official
datasets number their labels (the i-th category of the JSON is label i).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..artifacts.vocabulary import COCO_PANOPTIC_STUFF_NAMES, COCO_STUFF, Vocabulary
from ..errors import RapSamError


@dataclass(frozen=True)
class Category:
    """One category of a dataset's JSON."""

    id: int
    name: str
    isthing: bool


def read_categories(entries: list[dict], source: str, all_things: bool = False) -> tuple[Category, ...]:
    """The JSON's ``categories`` list -> :class:`Category` s (YouTube-VIS has only things)."""
    if not entries:
        raise RapSamError(f"{source} has no categories", "pass the dataset's annotation JSON with its category list")
    try:
        return tuple(Category(int(c["id"]), str(c["name"]), all_things or bool(c["isthing"])) for c in entries)
    except (KeyError, TypeError, ValueError, OverflowError) as err:  # OverflowError: an id of 1e400
        raise RapSamError(f"{source}: a category lacks id, name or isthing ({err})") from err


def check_category(category_id: int, known: dict[int, Category], where: str) -> None:
    """Raise a clear error for an annotation whose category is not in the category list."""
    if category_id not in known:
        raise RapSamError(
            f"{where} has category {category_id}, which is not in the JSON's categories",
            "fix the annotation or add the category to the JSON's category list",
        )


_ALIASES = {
    " ".join(name.replace("-", " ").split()): canonical
    for name, canonical in zip(COCO_PANOPTIC_STUFF_NAMES, COCO_STUFF, strict=True)
}


def normalise(name: str) -> str:
    """Spelling-independent class name: lower case, "_" and "-" as spaces, COCO panoptic aliases."""
    plain = " ".join(name.lower().replace("_", " ").replace("-", " ").split())
    return _ALIASES.get(plain, plain)


@dataclass(frozen=True)
class CategoryMap:
    """Model label -> dataset category id, and what could not be mapped."""

    to_dataset: dict[int, int]
    method: str  # "names" or "order"
    unpredictable: tuple[str, ...]  # dataset categories that no model class maps to

    def dataset_id(self, label: int) -> int | None:
        return self.to_dataset.get(int(label))

    def to_json(self) -> dict:
        return {"method": self.method, "mapped": len(self.to_dataset), "unpredictable": list(self.unpredictable)}


def map_categories(vocabulary: Vocabulary, categories: Sequence[Category]) -> CategoryMap:
    """Map the model's classes onto the dataset's categories (module docstring)."""
    by_name = {normalise(name): label for label, name in enumerate(vocabulary.classes)}
    to_dataset, unpredictable = {}, []
    for category in categories:
        label = by_name.get(normalise(category.name))
        if label is None or label in to_dataset:
            unpredictable.append(category.name)
        else:
            to_dataset[label] = category.id
    if to_dataset:
        return CategoryMap(to_dataset, "names", tuple(unpredictable))
    things = sum(c.isthing for c in categories)
    if len(categories) == len(vocabulary.classes) and things == vocabulary.num_things:
        return CategoryMap({label: c.id for label, c in enumerate(categories)}, "order", ())
    raise RapSamError(
        f"none of the dataset's {len(categories)} categories is in the model's vocabulary "
        f"({vocabulary.name}, {len(vocabulary.classes)} classes)",
        "export with the class embeddings of this dataset's vocabulary (rapsam-export --class-embed)",
    )
