"""Peak memory of a process while a block of code runs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import torch


class PeakMemory:
    """Peak resident memory (MiB) of this process while the block runs, sampled every few
    milliseconds from /proc (``ru_maxrss`` only grows, so it cannot separate backends), and the
    peak CUDA memory torch allocated in it."""

    def __enter__(self) -> PeakMemory:
        self.rss_mib = self._rss()
        self.cuda_mib: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if torch.cuda.is_available():
            self.cuda_mib = torch.cuda.max_memory_allocated() / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.rss_mib = max(self.rss_mib, self._rss())

    @staticmethod
    def _rss() -> float:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
