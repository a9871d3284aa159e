"""Clocks that wait for the device, and per-epoch counters read beside them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nnbench.stats import summarize  # noqa: F401 - the statistics every timing figure gets

try:  # POSIX only; elsewhere the counters are left out
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None

# A factory of CUDA events and the seconds between two recorded ones (``Trainer.cuda_events``).
Events = tuple[Callable[[], Any], Callable[[Any, Any], float]]

# What getrusage counts, by the record's names: why an epoch was slow, beside how slow it was.
COUNTERS = {"minor_faults": "ru_minflt", "major_faults": "ru_majflt",
            "voluntary_switches": "ru_nvcsw", "involuntary_switches": "ru_nivcsw"}


def timed(fn: Callable[[], object], sync: Callable[[], None],
          events: Events | None = None) -> tuple[object, float]:
    """Run ``fn`` and return (its value, seconds it took).

    ``sync`` waits for queued device work before the clock starts, so earlier launches cannot
    leak into this region. On the host clock it also waits before the clock stops; with CUDA
    ``events`` the time is the device's own, between an event queued before ``fn`` and one
    queued after it, read once the second has completed.
    """
    sync()
    if events is not None:
        new_event, elapsed = events
        start, stop = new_event(), new_event()
        start.record()
        value = fn()
        stop.record()
        stop.synchronize()
        return value, elapsed(start, stop)
    start_s = time.perf_counter()
    value = fn()
    sync()
    return value, time.perf_counter() - start_s


def rusage() -> Any:
    """The process's resource counters now (every thread of it), or None off POSIX. One
    getrusage call: about a microsecond, cheap enough to read around every epoch."""
    return resource.getrusage(resource.RUSAGE_SELF) if resource is not None else None


def rusage_delta(before: Any, after: Any) -> dict[str, float] | None:
    """What happened between two ``rusage`` readings: page faults (minor: a page mapped
    without I/O, e.g. first touch of fresh memory; major: read from disk), context switches
    (voluntary: the process waited; involuntary: the scheduler took the core away) and CPU
    seconds (user + system, all threads)."""
    if before is None or after is None:
        return None
    out = {name: float(getattr(after, field) - getattr(before, field))
           for name, field in COUNTERS.items()}
    out["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out


def repeat_until(fn: Callable[[], object], sync: Callable[[], None], min_seconds: float,
                 min_calls: int, events: Events | None = None, max_seconds: float | None = None,
                 floor_calls: int = 5) -> list[float]:
    """Time ``fn`` call by call until both ``min_calls`` and ``min_seconds`` are reached.

    With ``max_seconds``, stop earlier once the calls have taken that long and at least
    ``floor_calls`` were made: a slow call then rests on fewer samples (their count is kept
    beside the figure) rather than holding the job for minutes.
    """
    samples: list[float] = []
    total = 0.0
    while len(samples) < min_calls or total < min_seconds:
        if max_seconds is not None and total >= max_seconds and len(samples) >= floor_calls:
            break
        _, seconds = timed(fn, sync, events)
        samples.append(seconds)
        total += seconds
    return samples
