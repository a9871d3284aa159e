"""Clocks that wait for the device, and the statistics reported for timing samples."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

# A factory of CUDA events and the seconds between two recorded ones (``Trainer.cuda_events``).
Events = tuple[Callable[[], Any], Callable[[Any, Any], float]]

# Coefficient of variation above which a timing is flagged as noisy in the record.
NOISY_CV = 0.10


def percent_above(value: float, limit: float) -> tuple[str, str]:
    """``value`` and the ``limit`` it exceeds as percentages, with the fewest decimals that
    tell them apart (a CV of 0.1004 against 0.10 reads "10.04%" and "10.00%", never "10%")."""
    for digits in range(7):
        shown, bound = f"{value:.{digits}%}", f"{limit:.{digits}%}"
        if shown != bound:
            break
    return shown, bound


def noisy_warning(cv: float) -> str:
    """The record's warning for epoch times whose CV exceeds ``NOISY_CV``."""
    shown, bound = percent_above(cv, NOISY_CV)
    return f"noisy timing: epoch times vary with CV {shown} (> {bound}); compare medians with care"


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


def summarize(samples: list[float]) -> dict[str, float | int | None]:
    """Median and spread of timing samples; the median resists the odd slow sample."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0, "median": None, "q1": None, "q3": None, "iqr": None, "min": None,
                "max": None, "mean": None, "cv": None}
    q1, median, q3 = np.percentile(arr, [25, 50, 75])
    mean = float(arr.mean())
    return {
        "n": int(arr.size),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "mean": mean,
        "cv": float(arr.std(ddof=1) / mean) if arr.size > 1 and mean > 0 else None,
    }


def repeat_until(fn: Callable[[], object], sync: Callable[[], None], min_seconds: float,
                 min_calls: int,
                 events: Events | None = None) -> list[float]:
    """Time ``fn`` call by call until both ``min_calls`` and ``min_seconds`` are reached."""
    samples: list[float] = []
    total = 0.0
    while len(samples) < min_calls or total < min_seconds:
        _, seconds = timed(fn, sync, events)
        samples.append(seconds)
        total += seconds
    return samples
