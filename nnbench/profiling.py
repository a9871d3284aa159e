"""Where a training epoch's time goes, function by function (``bench.profile``).

A pass of its own, after the timed runs and inference: a profiler slows what it watches
(cProfile hooks every Python call), so no timed figure is ever taken under one. A fresh trainer
from the job's start trains, each profiler after ``WARMUP_EPOCHS`` unprofiled epochs:

1. Whole epochs under cProfile, as many as take about ``PROFILE_SECONDS`` at the timed speed
   (``PROFILE_EPOCHS`` to ``MAX_PROFILE_EPOCHS``: two epochs of 1 ms are all noise and no
   signal): ``profile.prof`` (read it with ``python -m pstats`` or snakeviz) and
   ``profile_top.txt``, its top functions by cumulative and by internal time, per epoch, in the
   unit that fits the epoch (µs, ms or s). cProfile sees Python calls: time inside BLAS or a
   torch kernel counts against the Python function that called it.
2. Then ``TRACE_EPOCHS`` epochs under the framework's own trace, where it has one
   (``Trainer.trace``; torch: a Chrome trace with each operator's input shapes,
   ``profile_trace.json``, for Perfetto or chrome://tracing). A trace records every operator,
   so its epochs are cut to at most ``TRACE_STEPS`` steps of the job's batch size: the same
   steps, fewer of them.

Each profiled epoch is timed too, and set against the timed epochs' median (as the phases'
"phased / timed"): ``profile_top.txt`` says cProfile's ratio in its header (its hook on every
Python call slows a torch epoch several times over, by design), and a trace whose epochs took
more than ``FAR`` times their timed share gets a warning in the record: its durations then say
more about the profiler than about the epoch.

A profiler that fails (unavailable, or refused because another one is running) costs the job
its file, not its figures: the record's warnings say so.
"""

from __future__ import annotations

import contextlib
import marshal
import math
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from nnbench.benchmark import TrainerFactory
from nnbench.data import Dataset
from nnbench.files import write_bytes, write_text
from nnbench.frameworks.base import Trainer
from nnbench.schema import TrainConfig
from nnbench.stats import format_seconds
from nnbench.training import epoch_orders

# Before each profiler, epochs of its own: a fresh trainer's first epoch allocates its buffers
# and the timed runs leave it out too (bench.warmup_epochs); a profile shows the epochs after.
WARMUP_EPOCHS = 1
PROFILE_EPOCHS, MAX_PROFILE_EPOCHS = 2, 200
PROFILE_SECONDS = 0.2  # of epochs at the timed speed: enough calls for a mean per epoch
TRACE_EPOCHS = 3  # the first pays for the profiler's start (100 ms and more); the median not
TRACE_STEPS = 10
TOP_FUNCTIONS = 30
FAR = 2.0  # profiled over timed beyond which the profile's times are mostly the profiler's
PROFILE_FILE, TOP_FILE, TRACE_FILE = "profile.prof", "profile_top.txt", "profile_trace.json"


def _epochs(trainer: Trainer, train: TrainConfig, order: Iterator, epochs: int) -> list[float]:
    """Run ``epochs`` epochs; each one's wall time."""
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        trainer.train_epoch(next(order), train.batch_size)
        trainer.sync()  # queued device work belongs to the epoch that queued it
        times.append(time.perf_counter() - start)
    return times


def profile_epochs(epoch_s: float | None) -> int:
    """How many epochs cProfile watches: about ``PROFILE_SECONDS`` of them at ``epoch_s``."""
    if not epoch_s or epoch_s <= 0:
        return PROFILE_EPOCHS
    return max(PROFILE_EPOCHS, min(MAX_PROFILE_EPOCHS, math.ceil(PROFILE_SECONDS / epoch_s)))


def unit(seconds: float) -> tuple[float, str]:
    """(scale, name) of the unit that shows ``seconds`` with three digits before the point at
    most: an epoch of 94 µs in µs, not as 0.000 s."""
    for floor, scale, name in ((1.0, 1.0, "s"), (1e-3, 1e-3, "ms")):
        if seconds >= floor:
            return scale, name
    return 1e-6, "µs"


def _where(func: tuple[str, int, str]) -> str:
    """``network.py:42(forward)``: a function by its file's last two parts, line and name."""
    file, line, name = func
    short = "/".join(Path(file).parts[-2:]) if file not in ("~", "") else ""
    return f"{short}:{line}({name})" if short else name


def _top(stats: dict, epochs: int, header: str) -> str:
    """The top functions by cumulative and by own time, per epoch, in one unit for both."""
    rows = [(func, calls, own, cumulative) for func, (_, calls, own, cumulative, _) in
            stats.items()]
    scale, name = unit(max((r[3] for r in rows), default=0.0) / epochs)
    out = [header]
    for key, what in ((3, "cumulative time (the function and all it calls)"),
                      (2, "internal time (the function's own lines)")):
        out += ["", f"Top {TOP_FUNCTIONS} functions by {what}, per epoch (mean of {epochs}):",
                f"{'calls':>10} {'own ' + name:>12} {'cumulative ' + name:>16} "
                f"{'per call ' + name:>14}  function"]
        for func, calls, own, cumulative in sorted(rows, key=lambda r: -r[key])[:TOP_FUNCTIONS]:
            per_call = cumulative / calls if calls else 0.0
            out.append(f"{calls / epochs:>10.4g} {own / epochs / scale:>12.3f} "
                       f"{cumulative / epochs / scale:>16.3f} {per_call / scale:>14.3f}  "
                       f"{_where(func)}")
    return "\n".join(out) + "\n"


def _check(what: str, took: float, expected: float | None) -> tuple[str, list[str]]:
    """The profiled / timed line of a file's header, and a warning where it is far over."""
    if not expected:
        return f"{what}: {format_seconds(took)} per epoch (no timed median to set it against)", []
    ratio = took / expected
    line = (f"{what}: {format_seconds(took)} per epoch (median) against the timed median's "
            f"{format_seconds(expected)}: profiled / timed {ratio:.2f}x")
    if ratio <= FAR:
        return line, []
    return line, [f"bench.profile: {line}, more than {FAR:g}x: the profile's times are mostly "
                  f"the profiler's own; read its shares and call counts, not its durations"]


def _cprofile(trainer: Trainer, ds: Dataset, train: TrainConfig, folder: Path,
              timed: float | None = None) -> tuple[list[str], list[str]]:
    import cProfile  # with pstats, ~0.015 s that only a profiled job needs

    order = epoch_orders(train.seed, ds.x_train.shape[0], train.shuffle)
    probe = _epochs(trainer, train, order, WARMUP_EPOCHS)[-1]
    epochs = profile_epochs(timed or probe)
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        took = _epochs(trainer, train, order, epochs)
    finally:
        profiler.disable()
    profiler.create_stats()
    write_bytes(folder / PROFILE_FILE, marshal.dumps(profiler.stats))
    batches = "full batch" if train.batch_size is None else f"batch_size {train.batch_size}"
    # said in the header, not warned of: cProfile's hook on every Python call slows a torch
    # epoch several times over by design, and its shares and call counts still hold
    check, _ = _check("cProfile's epochs", statistics.median(took), timed)
    header = (f"cProfile of {epochs} training epochs of framework={trainer.name} "
              f"({ds.x_train.shape[0]} samples, {batches}), after {WARMUP_EPOCHS} unprofiled, "
              f"in a pass after the timed runs; {check}; "
              f"the whole profile: {PROFILE_FILE} (python -m pstats {PROFILE_FILE})")
    write_text(folder / TOP_FILE, _top(profiler.stats, epochs, header))
    return [PROFILE_FILE, TOP_FILE], []


def _trace(trainer: Trainer, ds: Dataset, train: TrainConfig, folder: Path,
           timed: float | None = None) -> tuple[list[str], list[str]]:
    path = folder / TRACE_FILE
    context = trainer.trace(path)
    if context is None:  # the framework has no trace of its own
        return [], []
    n = full = ds.x_train.shape[0]
    if train.batch_size is not None and train.batch_size * TRACE_STEPS < n:
        n = train.batch_size * TRACE_STEPS
        trainer.set_train_data(ds.x_train[:n], ds.y_train[:n])
    order = epoch_orders(train.seed, n, train.shuffle)
    _epochs(trainer, train, order, WARMUP_EPOCHS)
    try:
        with context:
            took = _epochs(trainer, train, order, TRACE_EPOCHS)
    except BaseException:
        with contextlib.suppress(OSError):  # half a trace is no trace
            path.unlink()
        raise
    steps = math.ceil(n / (train.batch_size or n)) / math.ceil(full / (train.batch_size or full))
    _, warnings = _check("the trace's epochs", statistics.median(took),
                         timed * steps if timed else None)  # its epochs' steps, not the job's
    return ([TRACE_FILE] if path.is_file() else []), warnings


def profile(make_trainer: TrainerFactory, ds: Dataset, train: TrainConfig,
            folder: str | Path, timed: float | None = None) -> tuple[list[str], list[str]]:
    """Profile a fresh trainer into ``folder`` (the job's): the files written, relative to
    it, and warnings for the profilers that failed or slowed the epochs far beyond ``timed``
    (the timed epochs' median, seconds; None: the profile's own unprofiled epoch sets how
    many epochs to profile, and nothing is checked)."""
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
            written, said = run(trainer, ds, train, folder, timed)
            files += written
            warnings += said
        except Exception as err:  # noqa: BLE001 - a profiler's fault is not the job's
            warnings.append(f"bench.profile: {what} failed, no file from it: "
                            f"{type(err).__name__}: {err}")
    return files, warnings
