"""Where an epoch's time goes: a pass of its own, after the timed runs, never inside them.

Two measurements, each of a trainer that implements the optional part of the contract
(``Trainer.train_epoch_phased``, ``Trainer.layer_kernels``):

1. **Phases.** A fresh trainer from the job's start trains epochs in the timed runs' order, each
   split by a ``PhaseClock``: the trainer marks the end of every phase of every step (gather:
   the mini-batch's rows; forward: the layers and the loss; backward: every gradient; update:
   the optimizer's step), and what no phase claims (the loop, dispatch, allocation, the marks
   themselves) is the rest: the epoch's time less the phases'. Phased epochs run back to back,
   as the timed ones do (``nnbench.training``: a pause between epochs changes the next one's
   speed). A phased epoch's own time, against the timed median, says what the marks cost: with
   that near 1, the split is the split of a timed epoch.
2. **Layer kernels.** Each layer's matmuls (forward, weight gradient, input gradient) and its
   bias work, called on their own at the layer's real shapes, each with its FLOPs: achieved
   GFLOP/s per layer and direction. Calls too short for the clock are timed in blocks of a
   millisecond or more (rule 12); each block's time over its calls is one sample.

Nothing here asks which framework it measures; a framework without the capability gets its
reason in ``phases_unavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from nnbench import stats
from nnbench.figures import PhaseFigures
from nnbench.measure import timing
from nnbench.measure.timing import Events

PHASES = ("gather", "forward", "backward", "update")
REST = "rest"  # the epoch less the phases: Python, dispatch, allocation, the marks' own cost
EPOCH = "epoch"

# Phased epochs: at least MIN_EPOCHS and MIN_SECONDS of them, at most MAX_EPOCHS; past
# BUDGET_S no more start once FLOOR_EPOCHS are done (a 4 s epoch of the largest scaling network
# then rests on three, and the job does not grow by a minute).
MIN_EPOCHS, MIN_SECONDS, MAX_EPOCHS = 10, 0.25, 50
BUDGET_S, FLOOR_EPOCHS = 5.0, 3
# Layer kernels: a sample is a block of calls lasting at least BLOCK_S; KERNEL_SAMPLES samples
# and KERNEL_MIN_S of them, fewer (not under KERNEL_FLOOR) once KERNEL_MAX_S is spent. A
# network has 5-6 kernels a layer: at these, a small one's costs ~0.04 s a job. Blocks of
# 0.25 ms give the medians 1 ms blocks give (two-moons, both frameworks: every kernel within
# the spread of repeated 1 ms passes) at a quarter of the cost; the clock reads ~100 ns.
BLOCK_S, KERNEL_SAMPLES, KERNEL_MIN_S, KERNEL_MAX_S, KERNEL_FLOOR = 2.5e-4, 5, 1.25e-3, 0.25, 3


@dataclass(frozen=True)
class LayerKernel:
    """One call of a layer's forward or backward work, at the layer's shapes in the job.

    ``op`` is one of: ``matmul`` (x W^T), ``bias`` (+ b), ``matmul+bias`` (a fused call, where
    the framework has one), ``weight grad`` (dz^T x), ``input grad`` (dz W), ``bias grad``
    (the batch sum of dz). ``flops`` are counted from the arrays' shapes: 2 m n_in n_out for a
    matmul, one per element for bias work. ``call`` must leave the trainer as it found it
    (it writes into buffers of its own), and may return before a device has finished.
    """

    layer: int
    direction: str  # forward | backward
    op: str
    flops: int
    call: Callable[[], object]


class PhaseClock:
    """Splits one epoch into phases: a trainer calls ``mark(phase)`` where a phase ends, and the
    time since the previous mark (or since ``start``) goes to that phase; marks named ``rest``,
    and the time after the last mark, go to the rest.

    On the host clock every mark first waits for the device (``sync``; nothing to wait for on
    a CPU). With CUDA ``events`` a mark queues an event instead and waits for nothing: the
    device's own time between consecutive events, read once the epoch is over, so the marks add
    no host sync to the epoch (rule 4).
    """

    def __init__(self, sync: Callable[[], None], events: Events | None = None):
        self._sync, self._events = sync, events
        self._split: dict[str, float] = {}
        self._marks: list[tuple[str, Any]] = []
        self._start = self._last = 0.0

    def start(self) -> None:
        self._sync()
        self._split = dict.fromkeys((*PHASES, REST), 0.0)
        if self._events is not None:
            first = self._events[0]()
            first.record()
            self._marks = [("", first)]
        else:
            self._start = self._last = time.perf_counter()

    def mark(self, phase: str) -> None:
        if phase not in self._split:
            raise ValueError(f"unknown phase {phase!r}; phases: {', '.join(self._split)}")
        if self._events is not None:
            event = self._events[0]()
            event.record()
            self._marks.append((phase, event))
            return
        self._sync()
        now = time.perf_counter()
        self._split[phase] += now - self._last
        self._last = now

    def stop(self) -> dict[str, float]:
        """Seconds of each phase, of the rest and of the whole epoch (``epoch``); the phases
        and the rest add up to the epoch."""
        if self._events is not None:
            end = self._events[0]()
            end.record()
            end.synchronize()
            marks = [*self._marks, (REST, end)]
            for (_, before), (phase, after) in zip(marks, marks[1:], strict=False):
                self._split[phase] += self._events[1](before, after)
            total = self._events[1](marks[0][1], end)
        else:
            self._sync()
            total = time.perf_counter() - self._start
        named = {p: self._split[p] for p in PHASES}
        # the rest is what the phases leave of the epoch; a few ulps below zero are zero
        return {**named, REST: max(total - sum(named.values()), 0.0), EPOCH: total}


def _enough(samples: dict[str, list[float]]) -> bool:
    done, spent = len(samples[EPOCH]), sum(samples[EPOCH])
    return (done >= MAX_EPOCHS or (done >= MIN_EPOCHS and spent >= MIN_SECONDS)
            or (spent >= BUDGET_S and done >= FLOOR_EPOCHS))


def phased_epochs(trainer: Any, orders: Iterator, batch_size: int | None,
                  samples: dict[str, list[float]] | None = None,
                  epochs: int = MAX_EPOCHS) -> dict[str, list[float]]:
    """Raw seconds per phase (and per epoch) of phased epochs of ``trainer``, back to back, its
    data set and its warm-up done: at most ``epochs`` of them, added to ``samples``, until
    there are enough."""
    clock = PhaseClock(trainer.sync, trainer.cuda_events())
    samples = samples if samples is not None else {n: [] for n in (*PHASES, REST, EPOCH)}
    for _ in range(epochs):
        if _enough(samples):
            break
        clock.start()
        trainer.train_epoch_phased(next(orders), batch_size, clock)
        for name, seconds in clock.stop().items():
            samples[name].append(seconds)
    return samples


def time_kernel(kernel: LayerKernel, sync: Callable[[], None],
                events: Events | None) -> dict[str, Any]:
    """Seconds per call of one kernel (median of blocks of calls), with what it implies."""
    timing.timed(kernel.call, sync, events)  # a first call may allocate or load code
    calls = 1
    while True:  # the block's size
        block = _block(kernel.call, calls)
        _, seconds = timing.timed(block, sync, events)
        if seconds >= BLOCK_S or calls >= 1 << 20:
            break
        calls = min(calls * max(2, int(BLOCK_S / max(seconds, 1e-9) * 1.2)), 1 << 20)
    blocks = timing.repeat_until(_block(kernel.call, calls), sync, KERNEL_MIN_S, KERNEL_SAMPLES,
                                 events, max_seconds=KERNEL_MAX_S, floor_calls=KERNEL_FLOOR)
    summary = stats.summarize([s / calls for s in blocks])
    median = summary["median"]
    return {"layer": kernel.layer, "direction": kernel.direction, "op": kernel.op,
            "seconds": median, "rel_iqr": summary["rel_iqr"], "samples": summary["n"],
            "calls_per_sample": calls, "flops": kernel.flops,
            "gflops": kernel.flops / median / 1e9 if median else None}


def _block(call: Callable[[], object], calls: int) -> Callable[[], None]:
    def block() -> None:
        for _ in range(calls):
            call()
    return block


def layer_matmuls(trainer: Any, batch_size: int) -> list[dict[str, Any]]:
    """Each of the trainer's layer kernels at ``batch_size`` rows, timed on its own."""
    events = trainer.cuda_events()
    return [time_kernel(k, trainer.sync, events) for k in trainer.layer_kernels(batch_size)]


def measure(make_trainer: Callable[[int], Any], trained: Any, ds: Any, train: Any, bench: Any,
            diverged: bool, orders: Callable[[], Iterator]) -> PhaseFigures | None:
    """The phase figures of a job whose timed runs are done (``trained``: their last trainer,
    asked only what it can do, and for its layer kernels, which leave it as it is), in the
    timed runs' batch orders (``orders()``: each epoch's, from the first); None when the timed
    runs diverged: no epoch to split.

    A pass that fails (out of memory with a second trainer beside the first, say) is recorded
    as the reason there are no phases: the job keeps its timed figures."""
    if diverged:
        return None
    if not bench.phases:
        return PhaseFigures(phases_unavailable="not measured (bench.phases=false)")
    try:
        return _measure(make_trainer, trained, ds, train, bench, orders)
    except Exception as err:  # noqa: BLE001 - a diagnostic pass must not cost the job its figures
        if trained.is_oom(err):
            trained.free_memory()
        return PhaseFigures(phases_unavailable=f"the phases pass failed: "
                                               f"{type(err).__name__}: {err}")


def _measure(make_trainer: Callable[[int], Any], trained: Any, ds: Any, train: Any, bench: Any,
             orders: Callable[[], Iterator]) -> PhaseFigures:
    n = ds.x_train.shape[0]
    rows = n if train.batch_size is None else min(train.batch_size, n)
    kernels = layer_matmuls(trained, rows)
    reason = trained.phases_unavailable()
    if reason is not None:
        return PhaseFigures(phases_unavailable=reason, layer_matmuls=kernels)
    # The phased epochs take the places the timed ones take: fresh trainers from the job's
    # start, each training train.epochs epochs of which the warm-up ones go unmarked (one at
    # least: a fresh trainer's first epoch touches fresh memory, and a compiling framework
    # compiles again), as many trainers as the counts above ask. An epoch's speed depends on
    # its place: a short job's timed epochs are all second epochs, which run slower than a
    # fiftieth, and a split of the fiftieth would not be the split of what was timed.
    warm = max(bench.warmup_epochs, 1)
    samples: dict[str, list[float]] = {name: [] for name in (*PHASES, REST, EPOCH)}
    started = time.perf_counter()  # the budget counts the unmarked warm-up epochs too
    while not _enough(samples) and not (time.perf_counter() - started >= BUDGET_S
                                        and len(samples[EPOCH]) >= FLOOR_EPOCHS):
        trainer = make_trainer(train.seed)
        trainer.set_train_data(ds.x_train, ds.y_train)
        epoch_order = orders()
        for _ in range(warm):
            trainer.train_epoch(next(epoch_order), train.batch_size)
        phased_epochs(trainer, epoch_order, train.batch_size, samples,
                      max(train.epochs - warm, 1))
        del trainer
    epochs = samples.pop(EPOCH)
    return PhaseFigures(
        phases_s={name: stats.summarize(values) for name, values in samples.items()},
        phases_epoch_s=stats.summarize(epochs),
        phases_samples_s={**samples, EPOCH: epochs},
        layer_matmuls=kernels,
    )
