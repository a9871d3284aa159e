"""Training and inference of one trainer, wrapped in the measurement probes.

Order of work, and why:
0. With ``framework.compile``: compilation of every batch shape of an epoch, timed on its own
   (``compile_time_s``), so that no timed epoch includes it.
1. A memory pass: one epoch from a fresh trainer under tracemalloc and the RSS sampler. The
   probes cost time (tracemalloc hooks every allocation), so they never run while timing.
2. The timed runs: ``bench.repeats`` trainings of ``train.epochs`` epochs, every epoch timed on
   its own; the first ``bench.warmup_epochs`` of each are kept out of the statistics.
3. Inference on the trained model: batched latency, batch-1 latency, throughput.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from nnbench.data import Dataset
from nnbench.measure import flops, memory, timing


@dataclass(frozen=True)
class Settings:
    epochs: int
    batch_size: int | None
    shuffle: bool
    seed: int
    warmup_epochs: int
    repeats: int
    vary_seed: bool
    memory_probe: bool
    target_accuracy: float | None
    inference_batch_size: int
    device: str
    backend: str = "numpy"  # the array library: numpy, cupy or torch (CUDA events, memory)
    compile: bool = False


def _order(seed: int, n: int, shuffle: bool):
    """One permutation per epoch from the seed: both frameworks see the same batches."""
    rng = np.random.default_rng(seed)
    while True:
        yield rng.permutation(n) if shuffle else None


def _accuracy(trainer: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(trainer.predict(x) == y))


def batch_sizes(n: int, batch_size: int | None) -> list[int]:
    """The distinct batch sizes of one epoch over n samples: full batches, then the rest."""
    step = n if batch_size is None else min(batch_size, n)
    return [step] + ([n % step] if n % step else [])


def _events(s: Settings) -> timing.Events | None:
    return timing.cuda_events(s.backend) if s.device == "cuda" else None


def _compile(make_trainer: Callable[[int], Any], ds: Dataset, s: Settings) -> float:
    """Seconds to compile the training step for every batch shape of an epoch (host clock:
    compilation is host work, and it ends with the first run of the compiled kernels)."""
    trainer = make_trainer(0)
    trainer.set_train_data(ds.x_train, ds.y_train)
    sizes = batch_sizes(ds.x_train.shape[0], s.batch_size)
    _, seconds = timing.timed(functools.partial(trainer.warm_up, sizes), trainer.sync)
    return seconds


def _prime(make_trainer: Callable[[int], Any], ds: Dataset) -> None:
    """One step on a few samples, unmeasured: the framework's lazy imports and one-time set-up
    (torch imports tens of MB of Python modules on the first optimizer step) are not training."""
    trainer = make_trainer(0)
    trainer.set_train_data(ds.x_train[:8], ds.y_train[:8])
    trainer.train_epoch(None, None)
    trainer.predict(ds.x_test[:8])
    trainer.sync()


def _memory_pass(make_trainer: Callable[[int], Any], ds: Dataset, s: Settings) -> dict:
    _prime(make_trainer, ds)
    perm = next(_order(s.seed, ds.x_train.shape[0], s.shuffle))
    with memory.RssSampler() as rss, memory.TracemallocPeak() as traced:
        trainer = make_trainer(0)
        trainer.set_train_data(ds.x_train, ds.y_train)
        trainer.train_epoch(perm, s.batch_size)
        trainer.sync()
    del trainer
    return {
        "peak_tracemalloc_mb": traced.peak_mb,
        "peak_rss_mb": rss.peak_mb,
        "rss_delta_mb": rss.delta_mb,
        "rss_baseline_mb": rss.baseline_mb,
        "memory_probe": "trainer set-up (incl. its copy of the training data) and one epoch, "
                        "after a priming step that absorbs the framework's one-time imports",
    }


def _train(make_trainer: Callable[[int], Any], ds: Dataset, s: Settings, out: dict) -> Any:
    """The timed runs; returns the last trainer. Sets out['status'] to 'diverged' if it does."""
    n = ds.x_train.shape[0]
    epoch_times: list[list[float]] = []
    targets: list[dict] = []
    events = _events(s)
    memory.cuda_reset_peak(s.device, s.backend)
    trainer = None
    for repeat in range(s.repeats):
        seed = s.seed + repeat if s.vary_seed else s.seed
        trainer = make_trainer(seed)
        trainer.set_train_data(ds.x_train, ds.y_train)
        order = _order(seed, n, s.shuffle)
        history: list[float] = []
        times: list[float] = []
        reached = None
        for epoch in range(1, s.epochs + 1):
            epoch_fn = functools.partial(trainer.train_epoch, next(order), s.batch_size)
            loss, seconds = timing.timed(epoch_fn, trainer.sync, events)
            history.append(loss)
            times.append(seconds)
            if not math.isfinite(loss):
                out.update(status="diverged", diverged_epoch=epoch,
                           reason=f"training loss became {loss} at epoch {epoch}")
                break
            if s.target_accuracy is not None and reached is None:
                # Evaluated between epochs, off the clock.
                if _accuracy(trainer, ds.x_test, ds.y_test) >= s.target_accuracy:
                    reached = {"epoch": epoch, "time_s": float(sum(times))}
        epoch_times.append(times)
        targets.append(reached)
        if repeat == 0:
            out["loss_history"] = history
        if out.get("status") == "diverged":
            break
    out["epoch_times_s"] = epoch_times
    out["clock"] = "cuda_events" if events else "perf_counter"
    out["cuda_peak_mb"] = memory.cuda_peak_mb(s.device, s.backend)
    if out["cuda_peak_mb"] is not None:
        out["cuda_peak_probe"] = memory.CUDA_PEAK_PROBE[s.backend]
    out["optimizer"] = getattr(trainer, "optimizer_name", "SGD (in-place update)")
    if s.target_accuracy is not None:
        hit = [t for t in targets if t is not None]
        out["target_accuracy"] = s.target_accuracy
        out["time_to_target_s"] = float(np.median([t["time_s"] for t in hit])) if hit else None
        out["epochs_to_target"] = int(np.median([t["epoch"] for t in hit])) if hit else None
        out["target_reached_in_repeats"] = f"{len(hit)}/{len(targets)}"
    return trainer


def _timing_figures(out: dict, s: Settings, n_train: int, layer_sizes: tuple[int, ...],
                    peak: dict | None) -> None:
    per_repeat = [times[s.warmup_epochs:] for times in out["epoch_times_s"]]
    pooled = [t for times in per_repeat for t in times]
    stats = timing.summarize(pooled)
    median = stats["median"]
    epoch_flops = flops.train_flops_per_epoch(layer_sizes, n_train)
    achieved = epoch_flops / median / 1e9 if median else None
    out.update(
        train_time_per_epoch_s=median,
        train_time_per_epoch_stats_s=stats,
        train_time_per_epoch_repeat_medians_s=[
            timing.summarize(t)["median"] for t in per_repeat if t
        ],
        train_time_total_s=float(sum(out["epoch_times_s"][0])),
        train_throughput_samples_per_s=n_train / median if median else None,
        train_flops_per_epoch=epoch_flops,
        train_flops_per_sample=flops.train_flops_per_sample(layer_sizes),
        inference_flops_per_sample=flops.inference_flops_per_sample(layer_sizes),
        achieved_gflops=achieved,
        matmul_peak_gflops=peak["gflops"] if peak else None,
        mfu=achieved / peak["gflops"] if peak and achieved else None,
    )
    if out["mfu"] is not None and out["mfu"] > 1:
        out.setdefault("warnings", []).append(
            f"achieved {achieved:.0f} GFLOP/s exceeds the calibrated matmul peak "
            f"({peak['gflops']:.0f}): the peak was measured on a slower moment of this host; "
            f"recalibrate with scripts/calibrate_peak.py"
        )
    if stats["cv"] is not None and stats["cv"] > timing.NOISY_CV:
        out.setdefault("warnings", []).append(
            f"noisy timing: epoch times vary with CV {stats['cv']:.0%} "
            f"(> {timing.NOISY_CV:.0%}); compare medians with care"
        )


def _inference(trainer: Any, ds: Dataset, s: Settings) -> dict:
    x = ds.x_test
    n = x.shape[0]
    sync = trainer.sync
    events = _events(s)
    whole = trainer.prepare(x)
    for _ in range(3):  # untimed: caches, and with torch.compile the inference graphs
        trainer.infer(whole)
    batched = timing.repeat_until(functools.partial(trainer.infer, whole), sync, 0.2, 10, events)
    single = trainer.prepare(x[:1])
    for _ in range(10):
        trainer.infer(single)
    batch1 = timing.repeat_until(functools.partial(trainer.infer, single), sync, 0.1, 100,
                                 events)
    size = min(s.inference_batch_size, n)
    chunks = [trainer.prepare(x[i:i + size]) for i in range(0, n, size)]

    def one_pass() -> None:
        for chunk in chunks:
            trainer.infer(chunk)

    one_pass()
    passes = timing.repeat_until(one_pass, sync, 0.2, 5, events)
    batched_stats = timing.summarize(batched)
    return {
        "inference_latency_per_sample_s": batched_stats["median"] / n,
        "inference_batched_call_s": batched_stats,
        "inference_latency_batch1_s": timing.summarize(batch1)["median"],
        "inference_latency_batch1_stats_s": timing.summarize(batch1),
        "inference_batch_size": size,
        "batch_throughput_samples_per_s": n / timing.summarize(passes)["median"],
    }


def measure(make_trainer: Callable[[int], Any], ds: Dataset, s: Settings,
            layer_sizes: tuple[int, ...], peak: dict | None) -> dict:
    """All the figures of one job; ``make_trainer(seed)`` builds a trainer from that start."""
    out: dict = {"warmup_epochs": s.warmup_epochs}
    if s.compile:
        out["compile_time_s"] = _compile(make_trainer, ds, s)
    if s.memory_probe:
        out.update(_memory_pass(make_trainer, ds, s))
    trainer = _train(make_trainer, ds, s, out)
    _timing_figures(out, s, ds.x_train.shape[0], layer_sizes, peak)
    out["final_train_loss"] = out["loss_history"][-1]
    if out.get("status") == "diverged":
        return out
    out["train_accuracy"] = _accuracy(trainer, ds.x_train, ds.y_train)
    predicted = trainer.predict(ds.x_test)
    out["test_accuracy"] = float(np.mean(predicted == ds.y_test))
    # rows: true class, columns: predicted class (scikit-learn's convention)
    out["confusion_matrix"] = confusion_matrix(
        ds.y_test, predicted, labels=list(range(len(ds.classes)))
    ).tolist()
    out.update(_inference(trainer, ds, s))
    return out
