"""What else the host was doing while a job's samples were taken, and how many threads fit.

On a shared machine (a laptop with a browser open, a CI runner, a server) other processes take
cores from a job: a BLAS thread beyond the free cores waits for one, a scheduler tick (~4 ms)
at a time, and a run slowed throughout shows no spread to warn of it. So each job reads, from
outside itself, what the other processes did on the cores it may use (Linux's ``/proc/stat``,
per CPU, less the job's own CPU time from ``getrusage``), the hypervisor's steal time, the run
queue and its own involuntary context switches, over the stretch from its start to the end of
its timed epochs. It says so in plain terms ("others used 1.7 of 2 cores"), and sorts the
stretch into one of three levels:

- ``quiet``: others used less than ``QUIET_CORES`` of the job's cores, steal under
  ``QUIET_STEAL``: the median stands;
- ``busy``: others used more, but the job's threads still had cores of their own (others plus
  threads within the cores, ``FIT_SLACK`` allowed): the added time is an occasional wait, which
  a low quantile of the epochs leaves out (Chen and Revels 2016, BenchmarkTools' minimum);
- ``oversubscribed``: the job's threads and the others' work did not fit in the cores: every
  epoch may have waited, no estimator can take the wait out, and the figure is "cannot tell".

``auto_threads`` picks ``bench.threads=auto``: the cores free when it is first asked (a short
sample), at least one; a sweep asks once, so every job of it holds the same count.
"""

from __future__ import annotations

import functools
import os
import resource
import time
from dataclasses import dataclass

QUIET_CORES = 0.25  # others' use of the job's cores below which the host counts as quiet
QUIET_STEAL = 0.02  # the hypervisor's steal, as a fraction of the job's cores' time
FIT_SLACK = 0.25  # cores of others' use tolerated beyond a fit (kernel threads, a daemon tick)
AUTO_SAMPLE_S = 0.2  # how long bench.threads=auto watches the host before choosing
PROC_STAT = "/proc/stat"


def _cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return []


def _jiffies(cpus: list[int]) -> tuple[float, float] | None:
    """(busy, steal) seconds the CPUs ``cpus`` have spent since boot, by everyone."""
    try:
        with open(PROC_STAT) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    wanted = {f"cpu{c}" for c in cpus}
    busy = steal = 0.0
    for line in lines:
        name, *fields = line.split()
        if name not in wanted:
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        values = [int(v) for v in fields[:8]] + [0] * max(0, 8 - len(fields))
        busy += sum(values[i] for i in (0, 1, 2, 5, 6)) / hz
        steal += values[7] / hz
    return busy, steal


def _run_queue() -> int | None:
    try:
        with open(PROC_STAT) as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


@dataclass(frozen=True)
class Reading:
    """The host's and this process's counters at one instant."""

    wall: float
    busy: float
    steal: float
    own: float
    switches: int
    cpus: tuple[int, ...]


def read() -> Reading | None:
    """The counters now; None where ``/proc/stat`` cannot be read (not Linux) or
    ``NNBENCH_CONTENTION=off`` (a test suite whose wording must not follow the host's load)."""
    if os.environ.get("NNBENCH_CONTENTION") == "off":
        return None
    cpus = _cpus()
    host = _jiffies(cpus) if cpus else None
    if host is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Reading(time.monotonic(), host[0], host[1], usage.ru_utime + usage.ru_stime,
                   usage.ru_nivcsw, tuple(cpus))


def level(others: float, steal: float, threads: int, cores: int) -> str:
    """quiet, busy or oversubscribed (see the module's docstring)."""
    if others < QUIET_CORES and steal < QUIET_STEAL:
        return "quiet"
    if others + threads <= cores + FIT_SLACK:
        return "busy"
    return "oversubscribed"


def since(start: Reading | None, threads: int, epochs: int) -> dict | None:
    """What the other processes did on this job's cores from ``start`` to now: the record's
    ``contention``; None where it cannot be told."""
    end = read()
    if start is None or end is None or end.cpus != start.cpus:
        return None
    wall = end.wall - start.wall
    if wall <= 0:
        return None
    cores = len(end.cpus)
    # the host's jiffies tick at 100 Hz: a stretch of a few ms reads as 0 or 10 ms per core
    others = max(0.0, (end.busy - start.busy) - (end.own - start.own)) / wall
    steal = (end.steal - start.steal) / wall / cores
    said = level(others, steal, threads, cores)
    return {
        "level": said, "others_cores": round(others, 3), "cores": cores, "threads": threads,
        "steal_fraction": round(steal, 4), "seconds": round(wall, 3),
        "run_queue": _run_queue(),
        "involuntary_switches_per_epoch": round((end.switches - start.switches) /
                                                max(epochs, 1), 2),
        "text": f"others used {others:.1f} of {cores} core{'s' * (cores != 1)} while this "
                f"job ran ({threads} thread{'s' * (threads != 1)})"
                + (f", steal {100 * steal:.0f}%" if steal >= QUIET_STEAL else ""),
    }


def advice(said: dict) -> str:
    """The record's warning for a job that did not run on a quiet host: what, how much, and
    what to do."""
    if said["level"] == "oversubscribed":
        fix = ("its threads waited for cores, epoch after epoch: comparisons say cannot tell; "
               "rerun with bench.threads=auto (or 1), fewer parallel jobs, or other work closed")
    else:
        fix = ("comparisons use the 10th percentile of its epochs, which occasional waits "
               "do not inflate")
    return f"host busy: {said['text']}; {fix}"


_job_start: Reading | None = None


def begin() -> None:
    """A job starts: what ``of_job`` measures from."""
    global _job_start
    _job_start = read()


def of_job(threads: int, epochs: int) -> dict | None:
    """``since`` the job's ``begin``: the stretch its timed epochs end."""
    return since(_job_start, threads, epochs)


@functools.cache  # once per process: every job of a sweep holds the same count
def auto_threads(cores: int) -> tuple[int, str]:
    """(threads, why) for ``bench.threads=auto``: the cores others left free over a short
    sample, at least one, at most ``cores``."""
    start = read()
    if start is None:
        return cores, f"auto: all {cores} cores (the host's load cannot be read here)"
    time.sleep(AUTO_SAMPLE_S)
    end = read()
    others = max(0.0, (end.busy - start.busy) - (end.own - start.own)) / (end.wall - start.wall)
    threads = max(1, min(cores, round(cores - others)))
    return threads, (f"auto: {threads} of {cores} cores free when the sweep started (others "
                     f"used {others:.1f})")
