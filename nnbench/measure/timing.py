"""Clocks that wait for the device, per-epoch counters read beside them, and the training-time
figures the clocks of a job's timed runs give."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from nnbench import stats
from nnbench.figures import TimingFigures
from nnbench.measure import flops
from nnbench.stats import (
    robust,
    summarize,  # noqa: F401 - the statistics every timing figure gets
)

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


def counter_summary(counters: list[dict[str, float]], seconds: list[float]) -> dict[str, float]:
    """Means per timed epoch of each counter, and CPU seconds over clock seconds."""
    if not counters:
        return {}
    out = {name: float(np.mean([c[name] for c in counters])) for name in counters[0]}
    wall = float(sum(seconds))
    out["cpu_per_wall"] = float(sum(c["cpu_s"] for c in counters)) / wall if wall > 0 else None
    return out


def timing_figures(epoch_times_s: list[list[float]], warmup_epochs: int, n_train: int,
                   layer_sizes: tuple[int, ...], peak: dict | None, min_samples: int = 0,
                   top_up_budget_s: float = 0.0, diverged: bool = False,
                   ) -> tuple[TimingFigures, list[str]]:
    """Median and spread of the timed epochs (warm-up epochs left out), what they imply
    (throughput, FLOP/s, MFU), and warnings about their noise (the record's ``warnings``)."""
    per_repeat = [times[warmup_epochs:] for times in epoch_times_s]
    pooled = [t for times in per_repeat for t in times]
    summary = stats.summarize(pooled)
    median = summary["median"]
    epoch_flops = flops.train_flops_per_epoch(layer_sizes, n_train)
    achieved = epoch_flops / median / 1e9 if median else None
    mfu = achieved / peak["gflops"] if peak and achieved else None
    warnings = []
    if mfu is not None and mfu > 1:
        warnings.append(
            f"achieved {achieved:.0f} GFLOP/s exceeds the calibrated matmul peak "
            f"({peak['gflops']:.0f}): the peak was measured on a slower moment of this host; "
            f"recalibrate with scripts/calibrate_peak.py")
    # IQR/median and bimodality, not the CV: one hiccup among steady epochs is not noise
    warnings += stats.noise_warnings(pooled, "training epochs")
    if not diverged and 0 < summary["n"] < min_samples:
        warnings.append(
            f"time per epoch rests on {summary['n']} timed epochs (fewer than "
            f"bench.min_samples={min_samples}: top-up repeats stopped at their "
            f"{top_up_budget_s:g} s budget); its median and spread are rough")
    return TimingFigures(
        train_time_per_epoch_s=median,
        train_time_per_epoch_low_s=robust.low(pooled),
        train_time_per_epoch_stats_s=summary,
        train_time_per_epoch_repeat_medians_s=[
            stats.summarize(t)["median"] for t in per_repeat if t],
        train_time_total_s=float(sum(epoch_times_s[0])),
        train_throughput_samples_per_s=n_train / median if median else None,
        train_flops_per_epoch=epoch_flops,
        train_flops_per_sample=flops.train_flops_per_sample(layer_sizes),
        inference_flops_per_sample=flops.inference_flops_per_sample(layer_sizes),
        achieved_gflops=achieved,
        matmul_peak_gflops=peak["gflops"] if peak else None,
        mfu=mfu,
        samples={"train_time_per_epoch_s": summary["n"]},
    ), warnings
