"""The timed trainings of one job, and the untimed replays that give their accuracy per epoch.

Timed epochs run back to back: nothing of the harness's runs between them but reading the
clock and the process's counters (getrusage, about a microsecond). A test-set prediction
between epochs would be off the clock and still change what is on it — on a 0.2-0.5 ms epoch
a pause of that kind cools the thread pools and caches the next epoch starts from, and read
torch's two-moons epoch ~7% slower than an independent harness timing the same trainer. So the
test accuracy after each epoch, and the epoch at which ``bench.target_accuracy`` is reached,
come from a **replay**: the same training (same start, same batches: deterministic on a CPU)
run again off the clock, epoch by epoch, predicting after each. Time to target is then the
timed run's own seconds up to that epoch. The replay's losses are checked against the timed
run's; where they differ (a nondeterministic GPU kernel) a warning says by how much.

Replays cost one more training per distinct start: the first repeat's always (the record's
histories), every configured repeat's when ``bench.vary_seed`` gives them starts of their own
and the report can draw their spread as a band. ``bench.accuracy_per_epoch=false`` runs none:
the record then has the final accuracy only (its accuracy histories are empty).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnbench.config import BenchConfig, TrainConfig
from nnbench.data import Dataset
from nnbench.figures import TargetFigures, TrainingFigures
from nnbench.frameworks.base import Trainer
from nnbench.measure import contention, timing
from nnbench.measure.threads import available_cores
from nnbench.params import epoch_orders  # noqa: F401 - where callers look for it

# Top-up repeats (see ``more_repeats``) stop before they would take longer than this.
TOP_UP_BUDGET_S = 10.0
# A replay whose losses differ from the timed run's by more than this (relative) is not the
# same training: its accuracies are still kept, with a warning.
REPLAY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Divergence:
    epoch: int
    loss: float

    @property
    def reason(self) -> str:
        return f"training loss became {self.loss} at epoch {self.epoch}"


@dataclass
class Repeat:
    """One training of ``train.epochs`` epochs, every epoch on the clock."""

    seed: int
    losses: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    counters: list[dict[str, float]] = field(default_factory=list)  # getrusage per epoch
    divergence: Divergence | None = None


def accuracy(trainer: Trainer, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(trainer.predict(x) == y))


def run_repeat(trainer: Trainer, seed: int, order: Iterator, train: TrainConfig,
               events: Any) -> Repeat:
    run = Repeat(seed=seed)
    for epoch in range(1, train.epochs + 1):
        epoch_fn = functools.partial(trainer.train_epoch, next(order), train.batch_size)
        before = timing.rusage()
        loss, seconds = timing.timed(epoch_fn, trainer.sync, events)
        delta = timing.rusage_delta(before, timing.rusage())
        run.losses.append(loss)
        run.times.append(seconds)
        if delta is not None:
            run.counters.append(delta)
        if not math.isfinite(loss):
            run.divergence = Divergence(epoch=epoch, loss=loss)
            break
    return run


def more_repeats(runs: list[Repeat], bench: BenchConfig) -> bool:
    """Whether another repeat follows: the configured ones, then top-ups while the timed
    epochs are fewer than bench.min_samples and the top-ups' budget allows."""
    if runs and runs[-1].divergence is not None:
        return False
    if len(runs) < bench.repeats:
        return True
    timed = sum(max(len(r.times) - bench.warmup_epochs, 0) for r in runs)
    top_up_s = sum(sum(r.times) for r in runs[bench.repeats:])
    return timed < bench.min_samples and top_up_s + sum(runs[-1].times) <= TOP_UP_BUDGET_S


def replay(make_trainer, run: Repeat, ds: Dataset, train: TrainConfig) -> tuple[list[float],
                                                                               float]:
    """The test accuracy after each epoch of ``run``'s training, trained again off the clock
    from the same start and batches; and the largest relative difference of its losses from
    the timed run's (0 when the replay is the same training)."""
    trainer = make_trainer(run.seed)
    trainer.set_train_data(ds.x_train, ds.y_train)
    order = epoch_orders(run.seed, ds.x_train.shape[0], train.shuffle)
    accuracies, worst = [], 0.0
    finite = run.losses[:-1] if run.divergence else run.losses
    for timed_loss in finite:
        loss = trainer.train_epoch(next(order), train.batch_size)
        worst = max(worst, abs(loss - timed_loss) / max(abs(timed_loss), 1e-300))
        accuracies.append(accuracy(trainer, ds.x_test, ds.y_test))
    return accuracies, worst


def target_figures(runs: list[Repeat], histories: list[list[float]],
                   target_accuracy: float) -> TargetFigures:
    """Time to target per repeat: the first epoch whose accuracy reaches it, and the timed
    run's seconds up to and with that epoch (warm-up epochs included: the training's own)."""
    per_repeat: list[float | None] = []
    epochs: list[int] = []
    for run, history in zip(runs, histories, strict=True):
        hit = next((i for i, a in enumerate(history) if a >= target_accuracy), None)
        per_repeat.append(None if hit is None else float(sum(run.times[:hit + 1])))
        if hit is not None:
            epochs.append(hit + 1)
    reached = [t for t in per_repeat if t is not None]
    return TargetFigures(
        target_accuracy=target_accuracy,
        time_to_target_s=float(np.median(reached)) if reached else None,
        epochs_to_target=int(np.median(epochs)) if epochs else None,
        target_reached_in_repeats=f"{len(reached)}/{len(runs)}",
        time_to_target_per_repeat_s=per_repeat,
    )


def timed_trainings(make_trainer, ds: Dataset, train: TrainConfig, bench: BenchConfig,
                    ) -> tuple[TrainingFigures, Divergence | None, TargetFigures | None, Trainer,
                     list[str]]:
    """The timed runs, then their replays; returns their figures, how they ended, the last
    timed trainer and warnings."""
    runs: list[Repeat] = []
    trainer = events = None
    while more_repeats(runs, bench):
        seed = train.seed + len(runs) if bench.vary_seed else train.seed
        trainer = make_trainer(seed)
        trainer.set_train_data(ds.x_train, ds.y_train)
        if not runs:
            events = trainer.cuda_events()
            trainer.reset_peak_memory()
        order = epoch_orders(seed, ds.x_train.shape[0], train.shuffle)
        runs.append(run_repeat(trainer, seed, order, train, events))
    # what other processes did while this job's epochs ran, up to the last timed one
    busy = contention.of_job(bench.threads or available_cores(), sum(len(r.times) for r in runs))
    peak_mb, probe = trainer.peak_memory()  # before the replays: the timed runs' peak
    configured = runs[:bench.repeats]
    replays: dict[int, tuple[list[float], float]] = {}
    if bench.accuracy_per_epoch:
        for run in configured if bench.vary_seed else configured[:1]:
            replays.setdefault(run.seed, replay(make_trainer, run, ds, train))
    histories = [replays[run.seed][0] if replays else [] for run in configured]
    worst = max((difference for _, difference in replays.values()), default=0.0)
    warnings = [] if worst <= REPLAY_TOLERANCE else [
        f"accuracy per epoch comes from an untimed replay of the training whose losses differ "
        f"from the timed run's by up to {worst:.2g} (relative): a nondeterministic kernel"]
    if busy and busy["level"] != "quiet":
        warnings.append(contention.advice(busy))
    first, warm = runs[0], bench.warmup_epochs
    timed = [(c, s) for r in runs for c, s in zip(r.counters[warm:], r.times[warm:], strict=False)]
    figures = TrainingFigures(
        loss_history=first.losses, loss_histories=[r.losses for r in configured],
        epoch_times_s=[r.times for r in runs],
        clock="cuda_events" if events else "perf_counter", optimizer=trainer.optimizer,
        test_accuracy_history=histories[0], test_accuracy_histories=histories,
        top_up_repeats=max(len(runs) - bench.repeats, 0),
        epoch_counters={name: [c[name] for c in first.counters]
                        for name in (first.counters[0] if first.counters else {})},
        counters_per_epoch=timing.counter_summary([c for c, _ in timed], [s for _, s in timed]),
        cuda_peak_mb=peak_mb, cuda_peak_probe=probe, contention=busy,
    )
    target = target_figures(configured, histories, bench.target_accuracy) \
        if bench.target_accuracy else None
    return figures, runs[-1].divergence, target, trainer, warnings
