"""One thread count for both frameworks: NumPy's BLAS through threadpoolctl, torch directly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def available_cores() -> int:
    """The cores this process may use: its SLURM allocation inside a SLURM job (SLURM may leave
    the affinity at every core of a node it shares with other jobs), else its CPU affinity."""
    from nnbench.measure.scheduler import allocated_cpus

    allocated = allocated_cpus()
    if allocated:
        return allocated
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def limited(threads: int | None) -> Iterator[int]:
    """Hold BLAS and torch at ``threads`` (all available cores when None) inside the block."""
    from threadpoolctl import threadpool_limits

    count = threads or available_cores()
    import numpy  # noqa: F401 - load the BLAS so threadpoolctl can see it

    torch = _torch_if_loaded()
    previous = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=count):
        if torch is not None:
            torch.set_num_threads(count)
        try:
            yield count
        finally:
            if torch is not None and previous is not None:
                torch.set_num_threads(previous)


def _torch_if_loaded():
    import sys

    return sys.modules.get("torch")
