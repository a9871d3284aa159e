"""Where a training epoch's time goes, function by function (``bench.profile``).

A pass of its own, after the timed runs and inference: a profiler slows what it watches
(cProfile hooks every Python call), so no timed figure is ever taken under one. A fresh trainer
from the job's start trains, each profiler after ``WARMUP_EPOCHS`` unprofiled epochs:

1. ``PROFILE_EPOCHS`` whole epochs under cProfile: ``profile.prof`` (read it with
   ``python -m pstats`` or snakeviz) and ``profile_top.txt``, its top functions by cumulative
   and by internal time. cProfile sees Python calls: time inside BLAS or a torch kernel counts
   against the Python function that called it.
2. Then ``TRACE_EPOCHS`` epochs under the framework's own trace, where it has one
   (``Trainer.trace``; torch: a Chrome trace, ``profile_trace.json``, for Perfetto or
   chrome://tracing). A trace records every operator, so its epochs are cut to at most
   ``TRACE_STEPS`` steps of the job's batch size: the same steps, fewer of them.

A profiler that fails (unavailable, or refused because another one is running) costs the job
its file, not its figures: the record's warnings say so.
"""

from __future__ import annotations

import contextlib
import io
import marshal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from nnbench.benchmark import TrainerFactory
from nnbench.data import Dataset
from nnbench.files import write_bytes, write_text
from nnbench.frameworks.base import Trainer
from nnbench.schema import TrainConfig
from nnbench.training import epoch_orders

if TYPE_CHECKING:
    import pstats

# Before each profiler, epochs of its own: a fresh trainer's first epoch allocates its buffers
# and the timed runs leave it out too (bench.warmup_epochs); a profile shows the epochs after.
WARMUP_EPOCHS = 1
PROFILE_EPOCHS = 2
TRACE_EPOCHS = 2
TRACE_STEPS = 10
TOP_FUNCTIONS = 30
PROFILE_FILE, TOP_FILE, TRACE_FILE = "profile.prof", "profile_top.txt", "profile_trace.json"


def _epochs(trainer: Trainer, train: TrainConfig, order: Iterator, epochs: int) -> None:
    for _ in range(epochs):
        trainer.train_epoch(next(order), train.batch_size)
        trainer.sync()  # queued device work belongs to the epoch that queued it


def _top(stats: pstats.Stats, header: str) -> str:
    out = io.StringIO(f"{header}\n")
    out.seek(0, io.SEEK_END)
    stats.stream = out
    for key, what in (("cumulative", "cumulative time (the function and all it calls)"),
                      ("tottime", "internal time (the function's own lines)")):
        out.write(f"\nTop {TOP_FUNCTIONS} functions by {what}:\n")
        stats.sort_stats(key).print_stats(TOP_FUNCTIONS)
    return out.getvalue()


def _cprofile(trainer: Trainer, ds: Dataset, train: TrainConfig, folder: Path) -> list[str]:
    import cProfile  # with pstats, ~0.015 s that only a profiled job needs
    import pstats

    order = epoch_orders(train.seed, ds.x_train.shape[0], train.shuffle)
    _epochs(trainer, train, order, WARMUP_EPOCHS)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        _epochs(trainer, train, order, PROFILE_EPOCHS)
    finally:
        profiler.disable()
    profiler.create_stats()
    write_bytes(folder / PROFILE_FILE, marshal.dumps(profiler.stats))
    batches = "full batch" if train.batch_size is None else f"batch_size {train.batch_size}"
    header = (f"cProfile of {PROFILE_EPOCHS} training epochs of framework={trainer.name} "
              f"({ds.x_train.shape[0]} samples, {batches}), after {WARMUP_EPOCHS} unprofiled, "
              f"in a pass after the timed runs; "
              f"the whole profile: {PROFILE_FILE} (python -m pstats {PROFILE_FILE})")
    write_text(folder / TOP_FILE, _top(pstats.Stats(profiler), header))
    return [PROFILE_FILE, TOP_FILE]


def _trace(trainer: Trainer, ds: Dataset, train: TrainConfig, folder: Path) -> list[str]:
    path = folder / TRACE_FILE
    context = trainer.trace(path)
    if context is None:  # the framework has no trace of its own
        return []
    n = ds.x_train.shape[0]
    if train.batch_size is not None and train.batch_size * TRACE_STEPS < n:
        n = train.batch_size * TRACE_STEPS
        trainer.set_train_data(ds.x_train[:n], ds.y_train[:n])
    order = epoch_orders(train.seed, n, train.shuffle)
    _epochs(trainer, train, order, WARMUP_EPOCHS)
    try:
        with context:
            _epochs(trainer, train, order, TRACE_EPOCHS)
    except BaseException:
        with contextlib.suppress(OSError):  # half a trace is no trace
            path.unlink()
        raise
    return [TRACE_FILE] if path.is_file() else []


def profile(make_trainer: TrainerFactory, ds: Dataset, train: TrainConfig,
            folder: str | Path) -> tuple[list[str], list[str]]:
    """Profile a fresh trainer into ``folder`` (the job's): the files written, relative to
    it, and warnings for the profilers that failed."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        trainer = make_trainer(train.seed)
        trainer.set_train_data(ds.x_train, ds.y_train)
    except Exception as err:  # noqa: BLE001 - the profiled pass's fault is not the job's
        return [], [f"bench.profile: no profile, its trainer could not be set up: "
                    f"{type(err).__name__}: {err}"]
    files: list[str] = []
    warnings: list[str] = []
    for what, run in (("cProfile", _cprofile), ("the framework's trace", _trace)):
        try:
            files += run(trainer, ds, train, folder)
        except Exception as err:  # noqa: BLE001 - a profiler's fault is not the job's
            warnings.append(f"bench.profile: {what} failed, no file from it: "
                            f"{type(err).__name__}: {err}")
    return files, warnings
