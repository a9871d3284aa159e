"""Training and inference of one trainer, wrapped in the measurement probes.

Order of work, and why:
0. For a trainer that compiles: compilation of every batch shape of an epoch, timed on its own
   (``compile_time_s``), so that no timed epoch includes it.
1. A memory pass: one epoch from a fresh trainer under tracemalloc and the RSS sampler. The
   probes cost time (tracemalloc hooks every allocation), so they never run while timing.
2. The timed runs: ``bench.repeats`` trainings of ``train.epochs`` epochs, every epoch timed on
   its own; the first ``bench.warmup_epochs`` of each are kept out of the statistics.
3. Inference on the trained model: batched latency, batch-1 latency, throughput.

The trainer is anything that implements ``nnbench.trainers.base.Trainer``; nothing here asks
which framework it is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from sklearn.metrics import confusion_matrix

from nnbench.config import BenchConfig, TrainConfig
from nnbench.data import Dataset
from nnbench.measure import flops, memory, timing
from nnbench.measure.figures import (
    Accuracy,
    Divergence,
    Inference,
    Measurements,
    Memory,
    Target,
    Timing,
    Training,
)
from nnbench.trainers.base import Trainer

MakeTrainer = Callable[[int], Trainer]  # seed -> a trainer from that start


def epoch_orders(seed: int, n: int, shuffle: bool):
    """One permutation per epoch from the seed: every framework sees the same batches."""
    rng = np.random.default_rng(seed)
    while True:
        yield rng.permutation(n) if shuffle else None


def _accuracy(trainer: Trainer, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(trainer.predict(x) == y))


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


def _memory_pass(make_trainer: MakeTrainer, ds: Dataset, train: TrainConfig) -> Memory:
    _prime(make_trainer, ds)
    perm = next(epoch_orders(train.seed, ds.x_train.shape[0], train.shuffle))
    with memory.RssSampler() as rss, memory.TracemallocPeak() as traced:
        trainer = make_trainer(0)
        trainer.set_train_data(ds.x_train, ds.y_train)
        trainer.train_epoch(perm, train.batch_size)
        trainer.sync()
    del trainer
    return Memory(
        peak_tracemalloc_mb=traced.peak_mb, peak_rss_mb=rss.peak_mb, rss_delta_mb=rss.delta_mb,
        rss_baseline_mb=rss.baseline_mb,
        memory_probe="trainer set-up (incl. its copy of the training data) and one epoch, "
                     "after a priming step that absorbs the framework's one-time imports",
    )


def _target(targets: list[dict | None], target_accuracy: float) -> Target:
    hit = [t for t in targets if t is not None]
    return Target(
        target_accuracy=target_accuracy,
        time_to_target_s=float(np.median([t["time_s"] for t in hit])) if hit else None,
        epochs_to_target=int(np.median([t["epoch"] for t in hit])) if hit else None,
        target_reached_in_repeats=f"{len(hit)}/{len(targets)}",
    )


def _train(make_trainer: MakeTrainer, ds: Dataset, train: TrainConfig,
           bench: BenchConfig) -> tuple[Training, Trainer]:
    """The timed runs; returns their figures and the last trainer."""
    n = ds.x_train.shape[0]
    epoch_times: list[list[float]] = []
    targets: list[dict | None] = []
    history: list[float] = []
    divergence = None
    trainer = events = None
    for repeat in range(bench.repeats):
        seed = train.seed + repeat if bench.vary_seed else train.seed
        trainer = make_trainer(seed)
        trainer.set_train_data(ds.x_train, ds.y_train)
        if repeat == 0:
            events = trainer.cuda_events()
            trainer.reset_peak_memory()
        order = epoch_orders(seed, n, train.shuffle)
        losses: list[float] = []
        times: list[float] = []
        reached = None
        for epoch in range(1, train.epochs + 1):
            epoch_fn = functools.partial(trainer.train_epoch, next(order), train.batch_size)
            loss, seconds = timing.timed(epoch_fn, trainer.sync, events)
            losses.append(loss)
            times.append(seconds)
            if not math.isfinite(loss):
                divergence = Divergence(epoch=epoch, loss=loss)
                break
            if bench.target_accuracy is not None and reached is None:
                # Evaluated between epochs, off the clock.
                if _accuracy(trainer, ds.x_test, ds.y_test) >= bench.target_accuracy:
                    reached = {"epoch": epoch, "time_s": float(sum(times))}
        epoch_times.append(times)
        targets.append(reached)
        if repeat == 0:
            history = losses
        if divergence is not None:
            break
    peak_mb, probe = trainer.peak_memory()
    figures = Training(
        loss_history=history, epoch_times_s=epoch_times,
        clock="cuda_events" if events else "perf_counter", optimizer=trainer.optimizer_name,
        cuda_peak_mb=peak_mb, cuda_peak_probe=probe, divergence=divergence,
        target=_target(targets, bench.target_accuracy) if bench.target_accuracy else None,
    )
    return figures, trainer


def timing_figures(training: Training, warmup_epochs: int, n_train: int,
                   layer_sizes: tuple[int, ...], peak: dict | None) -> Timing:
    per_repeat = [times[warmup_epochs:] for times in training.epoch_times_s]
    pooled = [t for times in per_repeat for t in times]
    stats = timing.summarize(pooled)
    median = stats["median"]
    epoch_flops = flops.train_flops_per_epoch(layer_sizes, n_train)
    achieved = epoch_flops / median / 1e9 if median else None
    mfu = achieved / peak["gflops"] if peak and achieved else None
    warnings = []
    if mfu is not None and mfu > 1:
        warnings.append(
            f"achieved {achieved:.0f} GFLOP/s exceeds the calibrated matmul peak "
            f"({peak['gflops']:.0f}): the peak was measured on a slower moment of this host; "
            f"recalibrate with scripts/calibrate_peak.py")
    if stats["cv"] is not None and stats["cv"] > timing.NOISY_CV:
        warnings.append(timing.noisy_warning(stats["cv"]))
    return Timing(
        train_time_per_epoch_s=median,
        train_time_per_epoch_stats_s=stats,
        train_time_per_epoch_repeat_medians_s=[
            timing.summarize(t)["median"] for t in per_repeat if t],
        train_time_total_s=float(sum(training.epoch_times_s[0])),
        train_throughput_samples_per_s=n_train / median if median else None,
        train_flops_per_epoch=epoch_flops,
        train_flops_per_sample=flops.train_flops_per_sample(layer_sizes),
        inference_flops_per_sample=flops.inference_flops_per_sample(layer_sizes),
        achieved_gflops=achieved,
        matmul_peak_gflops=peak["gflops"] if peak else None,
        mfu=mfu,
        warnings=warnings,
    )


def _inference(trainer: Trainer, ds: Dataset, bench: BenchConfig) -> Inference:
    x = ds.x_test
    n = x.shape[0]
    sync = trainer.sync
    events = trainer.cuda_events()
    whole = trainer.prepare(x)
    for _ in range(3):  # untimed: caches, and for compiled models the inference graphs
        trainer.infer(whole)
    batched = timing.repeat_until(functools.partial(trainer.infer, whole), sync, 0.2, 10, events)
    single = trainer.prepare(x[:1])
    for _ in range(10):
        trainer.infer(single)
    batch1 = timing.repeat_until(functools.partial(trainer.infer, single), sync, 0.1, 100,
                                 events)
    size = min(bench.inference_batch_size, n)
    chunks = [trainer.prepare(x[i:i + size]) for i in range(0, n, size)]

    def one_pass() -> None:
        for chunk in chunks:
            trainer.infer(chunk)

    one_pass()
    passes = timing.repeat_until(one_pass, sync, 0.2, 5, events)
    batched_stats = timing.summarize(batched)
    return Inference(
        inference_latency_per_sample_s=batched_stats["median"] / n,
        inference_batched_call_s=batched_stats,
        inference_latency_batch1_s=timing.summarize(batch1)["median"],
        inference_latency_batch1_stats_s=timing.summarize(batch1),
        inference_batch_size=size,
        batch_throughput_samples_per_s=n / timing.summarize(passes)["median"],
    )


def measure(make_trainer: MakeTrainer, ds: Dataset, train: TrainConfig, bench: BenchConfig,
            layer_sizes: tuple[int, ...], peak: dict | None = None,
            compiles: bool = False) -> Measurements:
    """All the figures of one job; ``make_trainer(seed)`` builds a trainer from that start,
    and ``compiles`` says whether its ``warm_up`` compiles (timed apart, as compile_time_s)."""
    compile_time = _compile(make_trainer(0), ds, train) if compiles else None
    mem = _memory_pass(make_trainer, ds, train) if bench.memory_probe else None
    training, trainer = _train(make_trainer, ds, train, bench)
    figures = timing_figures(training, bench.warmup_epochs, ds.x_train.shape[0], layer_sizes,
                             peak)
    history = training.loss_history
    out = Measurements(warmup_epochs=bench.warmup_epochs, training=training, timing=figures,
                       accuracy=Accuracy(final_train_loss=history[-1] if history else None),
                       memory=mem, compile_time_s=compile_time)
    if training.divergence is not None:
        return out
    predicted = trainer.predict(ds.x_test)
    out.accuracy = Accuracy(
        final_train_loss=history[-1],
        train_accuracy=_accuracy(trainer, ds.x_train, ds.y_train),
        test_accuracy=float(np.mean(predicted == ds.y_test)),
        confusion_matrix=confusion_matrix(
            ds.y_test, predicted, labels=list(range(len(ds.classes)))).tolist(),
    )
    out.inference = _inference(trainer, ds, bench)
    return out
