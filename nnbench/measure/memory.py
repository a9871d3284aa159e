"""Memory probes, each labelled by what it can see.

- ``TracemallocPeak``: allocations made through Python's allocator, which NumPy uses for its
  array buffers; blind to torch's CPU allocator and to the GPU.
- ``RssSampler``: resident set size of the whole process, sampled on a background thread; sees
  every allocator, including pages that an allocator keeps after freeing.
- device memory is the trainer's own probe (``Trainer.peak_memory``), which says what its
  figure is: torch's caching allocator has a peak of allocated bytes, CuPy's pool only what it
  reserves.
"""

from __future__ import annotations

import threading
import tracemalloc

MB = 1024 * 1024


class TracemallocPeak:
    """Peak traced Python-heap allocation inside the ``with`` block, in MB above its start."""

    def __enter__(self) -> TracemallocPeak:
        self._was_tracing = tracemalloc.is_tracing()
        if not self._was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self._start = tracemalloc.get_traced_memory()[0]
        self.peak_mb = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        _, peak = tracemalloc.get_traced_memory()
        self.peak_mb = (peak - self._start) / MB
        if not self._was_tracing:
            tracemalloc.stop()


class RssSampler:
    """Peak resident set size of this process while the ``with`` block runs.

    A thread reads RSS every ``interval_s``; the block's start and end are read too, so a short
    block still has samples. Peaks shorter than the interval can be missed: the figure is a lower
    bound of the true peak.
    """

    def __init__(self, interval_s: float = 0.002):
        import psutil  # here, not at the top: a sweep that only skips jobs never measures one

        self.interval_s = interval_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.baseline_mb = self.peak_mb = 0.0
        self.samples = 0

    def _rss_mb(self) -> float:
        return self._process.memory_info().rss / MB

    def _run(self) -> None:
        while not self._stop.is_set():
            self._record()
            self._stop.wait(self.interval_s)

    def _record(self) -> None:
        rss = self._rss_mb()
        self.samples += 1
        if rss > self.peak_mb:
            self.peak_mb = rss

    def __enter__(self) -> RssSampler:
        self.baseline_mb = self.peak_mb = self._rss_mb()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._record()
        self._stop.set()
        self._thread.join()

    @property
    def delta_mb(self) -> float:
        return self.peak_mb - self.baseline_mb
