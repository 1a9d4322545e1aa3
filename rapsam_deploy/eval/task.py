"""What every evaluation task shares: one or two runtimes fed the same inputs, each with its own
metric accumulator and time, and the checks of an input against its annotation."""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import RapSamError
from ..predict.runtime import Runtime
from .categories import Category, CategoryMap, map_categories


class EvalTask(abc.ABC):
    """A task over a dataset's ``samples``: :meth:`evaluate` runs every runtime on one sample and
    returns the sample's record (with the runtimes' agreement when there are two);
    :meth:`metrics` gives each runtime's metrics (fractions) in the order of ``runtimes``."""

    name: str
    headline: tuple[str, ...]  # the metrics compared between runtimes

    def __init__(self, runtimes: list[Runtime], categories: tuple[Category, ...]) -> None:
        self.runtimes = runtimes
        # Every runtime opens the same export, so one vocabulary and one mapping.
        self.category_map: CategoryMap = map_categories(runtimes[0].vocabulary, categories)
        self.seconds = [0.0] * len(runtimes)

    def timed(self, index: int, call: Callable[[], Any]) -> Any:
        """``call()``, its wall time added to runtime ``index``'s total."""
        started = time.perf_counter()
        result = call()
        self.seconds[index] += time.perf_counter() - started
        return result

    @abc.abstractmethod
    def evaluate(self, index: int, sample: Any) -> dict: ...

    @abc.abstractmethod
    def metrics(self) -> list[dict]: ...

    @abc.abstractmethod
    def protocol(self) -> dict: ...


def check_size(image: np.ndarray, size: tuple[int, int], path) -> None:
    """The decoded image must have the size its annotation gives (H, W)."""
    if image.shape[:2] != tuple(size):
        raise RapSamError(
            f"{path} is {image.shape[1]}x{image.shape[0]} but its annotation says {size[1]}x{size[0]}",
            "use the images that belong to this annotation JSON",
        )
