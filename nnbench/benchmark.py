"""Training and inference of one trainer, wrapped in the measurement probes.

Order of work, and why:
0. For a trainer that compiles: compilation of every batch shape of an epoch, timed on its own
   (``compile_time_s``), so that no timed epoch includes it.
1. A memory pass: one epoch from a fresh trainer under tracemalloc and the RSS sampler. The
   probes cost time (tracemalloc hooks every allocation), so they never run while timing. The
   initial parameters are drawn before the probes start: the draw is the harness's, in float64,
   and would otherwise outweigh what a small trainer allocates itself.
2. The timed runs: ``bench.repeats`` trainings of ``train.epochs`` epochs, every epoch timed on
   its own; the first ``bench.warmup_epochs`` of each are kept out of the statistics. Around
   each epoch, off the clock, the process's page faults, context switches and CPU time are
   read (getrusage, about a microsecond); nothing else runs between epochs. When the repeats
   leave fewer than ``bench.min_samples`` timed epochs, more repeats of the same training
   follow (top-ups, within a time budget), so that a median and its spread do not rest on two
   or three numbers. Then, off the clock, replays of the same trainings give the test accuracy
   after each epoch and the time to target (``nnbench.training`` says why).
3. Inference on the trained model: batched latency, batch-1 latency, throughput.

The trainer is anything that implements ``nnbench.frameworks.base.Trainer``; nothing here asks
which framework it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnbench import inference
from nnbench.config import BenchConfig, TrainConfig
from nnbench.data import Dataset
from nnbench.figures import (
    AccuracyFigures,
    InferenceFigures,
    MemoryFigures,
    PhaseFigures,
    TargetFigures,
    TimingFigures,
    TrainingFigures,
)
from nnbench.frameworks.base import Trainer
from nnbench.measure import memory, phases, timing
from nnbench.measure.timing import timing_figures
from nnbench.training import (  # noqa: F401 - Divergence, epoch_orders: where callers look
    TOP_UP_BUDGET_S,
    Divergence,
    accuracy,
    epoch_orders,
    timed_trainings,
)

MakeTrainer = Callable[[int], Trainer]  # seed -> a trainer from that start

MEMORY_PROBE = (
    "the trainer's set-up from initial parameters drawn before the probes started (the "
    "harness's float64 draw is not counted; the trainer's own copy of them is), its copy of the "
    "training data, gradient and workspace buffers, and one training epoch; after a priming "
    "step that absorbs the framework's one-time imports")


@dataclass
class Measurements:
    """Everything ``measure`` found out about one trainer on one dataset: the record's
    measurement sections (``nnbench.record``), and how the training ended."""

    warmup_epochs: int
    training: TrainingFigures
    timing: TimingFigures
    accuracy: AccuracyFigures
    warnings: list[str] = field(default_factory=list)
    memory: MemoryFigures | None = None
    inference: InferenceFigures | None = None
    target: TargetFigures | None = None
    divergence: Divergence | None = None
    compile_time_s: float | None = None
    phases: PhaseFigures | None = None

    def record_fields(self) -> dict[str, Any]:
        """The record's fields these give, with the status they imply."""
        out: dict[str, Any] = {"warmup_epochs": self.warmup_epochs,
                               "compile_time_s": self.compile_time_s, "warnings": self.warnings}
        for section in (self.training, self.timing, self.accuracy, self.memory, self.inference,
                        self.target, self.phases):
            if section is not None:
                out.update(section.model_dump())
        if self.divergence is None:
            return {**out, "status": "ok"}
        return {**out, "status": "diverged", "reason": self.divergence.reason,
                "diverged_epoch": self.divergence.epoch}


@dataclass(frozen=True)
class TrainerFactory:
    """How a job gets its trainers: ``draw(seed)`` makes the start (the initial parameters),
    ``build(start)`` a trainer from it. Two steps, so that the memory probe can draw first."""

    draw: Callable[[int], Any]
    build: Callable[[Any], Trainer]

    def __call__(self, seed: int) -> Trainer:
        return self.build(self.draw(seed))


def as_factory(make_trainer: MakeTrainer | TrainerFactory) -> TrainerFactory:
    """A plain ``seed -> trainer`` callable as a factory whose start is the seed itself."""
    if isinstance(make_trainer, TrainerFactory):
        return make_trainer
    return TrainerFactory(draw=lambda seed: seed, build=make_trainer)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> list[list[int]]:
    """Counts of (true, predicted) class pairs; rows: true class (scikit-learn's convention)."""
    pairs = np.asarray(y_true, dtype=np.int64) * k + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(pairs, minlength=k * k).reshape(k, k).tolist()


def batch_sizes(n: int, batch_size: int | None) -> list[int]:
    """The distinct batch sizes of one epoch over n samples: full batches, then the rest."""
    step = n if batch_size is None else min(batch_size, n)
    return [step] + ([n % step] if n % step else [])


def _compile(trainer: Trainer, ds: Dataset, train: TrainConfig) -> float:
    """Seconds to compile the training step for every batch shape of an epoch (host clock:
    compilation is host work, and it ends with the first run of the compiled kernels)."""
    trainer.set_train_data(ds.x_train, ds.y_train)
    sizes = batch_sizes(ds.x_train.shape[0], train.batch_size)
    _, seconds = timing.timed(functools.partial(trainer.warm_up, sizes), trainer.sync)
    return seconds


def _prime(make_trainer: MakeTrainer, ds: Dataset) -> None:
    """One step on a few samples, unmeasured: the framework's lazy imports and one-time set-up
    (torch imports tens of MB of Python modules on the first optimizer step) are not training."""
    trainer = make_trainer(0)
    trainer.set_train_data(ds.x_train[:8], ds.y_train[:8])
    trainer.train_epoch(None, None)
    trainer.predict(ds.x_test[:8])
    trainer.sync()


def _memory_pass(make: TrainerFactory, ds: Dataset, train: TrainConfig) -> MemoryFigures:
    _prime(make, ds)
    perm = next(epoch_orders(train.seed, ds.x_train.shape[0], train.shuffle))
    start = make.draw(0)  # before the probes: the harness's draw is not the trainer's memory
    with memory.RssSampler() as rss, memory.TracemallocPeak() as traced:
        trainer = make.build(start)
        trainer.set_train_data(ds.x_train, ds.y_train)
        trainer.train_epoch(perm, train.batch_size)
        trainer.sync()
    del trainer, start
    return MemoryFigures(
        peak_tracemalloc_mb=traced.peak_mb, peak_rss_mb=rss.peak_mb, rss_delta_mb=rss.delta_mb,
        rss_baseline_mb=rss.baseline_mb, memory_probe=MEMORY_PROBE,
    )


def measure(make_trainer: MakeTrainer | TrainerFactory, ds: Dataset, train: TrainConfig,
            bench: BenchConfig, layer_sizes: tuple[int, ...], peak: dict | None = None,
            compiles: bool = False) -> Measurements:
    """All the figures of one job; ``make_trainer(seed)`` builds a trainer from that start
    (a ``TrainerFactory`` also says how to draw the start apart from building on it), and
    ``compiles`` says whether its ``warm_up`` compiles (timed apart, as compile_time_s)."""
    make = as_factory(make_trainer)
    compile_time = _compile(make(0), ds, train) if compiles else None
    mem = _memory_pass(make, ds, train) if bench.memory_probe else None
    training, divergence, target, trainer, replay_warnings = timed_trainings(
        make, ds, train, bench)
    phased = phases.measure(make, trainer, ds, train, bench, divergence is not None,
                            lambda: epoch_orders(train.seed, ds.x_train.shape[0], train.shuffle))
    figures, warnings = timing_figures(training.epoch_times_s, bench.warmup_epochs,
                                       ds.x_train.shape[0], layer_sizes, peak,
                                       bench.min_samples, TOP_UP_BUDGET_S, divergence is not None)
    history = training.loss_history
    out = Measurements(warmup_epochs=bench.warmup_epochs, training=training, timing=figures,
                       accuracy=AccuracyFigures(final_train_loss=history[-1] if history else None),
                       warnings=warnings + replay_warnings, memory=mem, target=target,
                       divergence=divergence, compile_time_s=compile_time, phases=phased)
    if divergence is not None:
        return out
    predicted = trainer.predict(ds.x_test)
    out.accuracy = AccuracyFigures(
        final_train_loss=history[-1],
        train_accuracy=accuracy(trainer, ds.x_train, ds.y_train),
        test_accuracy=float(np.mean(predicted == ds.y_test)),
        confusion_matrix=confusion_matrix(ds.y_test, predicted, len(ds.classes)),
    )
    out.inference, inference_warnings = inference.measure(trainer, ds, bench)
    out.warnings += inference_warnings
    samples = out.inference.inference_samples_s
    figures.samples.update(inference_latency_per_sample_s=len(samples["batched_call"]),
                           inference_latency_batch1_s=len(samples["batch1"]),
                           batch_throughput_samples_per_s=len(samples["batch_pass"]))
    return out
