"""Inference of a trained model, timed: the whole test set per call, one sample per call, and
throughput in batches.

Each figure is the median of many calls after untimed warm-up calls; the budgets stop once both
a minimum count of calls and a minimum time are reached, or a maximum time has passed. The
whole-test-set and batch-1 calls also get their tails (``stats.tails``): their minimum counts
are those a p90 and a p99 need, so that the tail is there whenever the time budget allows.
"""

from __future__ import annotations

import functools

from nnbench import stats
from nnbench.config import BenchConfig
from nnbench.data import Dataset
from nnbench.figures import InferenceFigures
from nnbench.frameworks.base import Trainer
from nnbench.measure import timing
from nnbench.stats import tails

# At least this many samples per figure, unless the calls take this long: 64 supports the p90
# of the whole-test-set calls, 662 the p99 of the batch-1 calls (a few ms where a call is
# microseconds); the throughput passes need only their median.
INFERENCE_MIN_CALLS = 20
BATCHED_MIN_CALLS = tails.MIN_CALLS["p90"]
BATCH1_MIN_CALLS = tails.MIN_CALLS["p99"]
INFERENCE_BUDGET_S = 2.0


def measure(trainer: Trainer, ds: Dataset,
            bench: BenchConfig) -> tuple[InferenceFigures, list[str]]:
    """The inference figures, and warnings about the noise of their samples."""
    x = ds.x_test
    n = x.shape[0]
    sync = trainer.sync
    events = trainer.cuda_events()
    whole = trainer.prepare(x)
    for _ in range(3):  # untimed: caches, and for compiled models the inference graphs
        trainer.infer(whole)
    # Budgets: the medians these give match those of 7x longer ones within 1% on the default
    # config (thousands of calls either way); large networks reach min_calls first
    batched = timing.repeat_until(functools.partial(trainer.infer, whole), sync, 0.03,
                                  BATCHED_MIN_CALLS, events, max_seconds=INFERENCE_BUDGET_S)
    single = trainer.prepare(x[:1])
    for _ in range(10):
        trainer.infer(single)
    batch1 = timing.repeat_until(functools.partial(trainer.infer, single), sync, 0.02,
                                 BATCH1_MIN_CALLS, events, max_seconds=INFERENCE_BUDGET_S)
    size = min(bench.inference_batch_size, n)
    chunks = [trainer.prepare(x[i:i + size]) for i in range(0, n, size)]

    def one_pass() -> None:
        for chunk in chunks:
            trainer.infer(chunk)

    one_pass()
    passes = timing.repeat_until(one_pass, sync, 0.03, INFERENCE_MIN_CALLS, events,
                                 max_seconds=INFERENCE_BUDGET_S)
    batched_stats, batch1_stats = stats.summarize(batched), stats.summarize(batch1)
    warnings = (stats.noise_warnings(batched, "inference, whole test set per call")
                + stats.noise_warnings(batch1, "inference at batch 1"))
    figures = InferenceFigures(
        inference_latency_per_sample_s=batched_stats["median"] / n,
        inference_batched_call_s=batched_stats,
        inference_latency_batch1_s=batch1_stats["median"],
        inference_latency_batch1_stats_s=batch1_stats,
        inference_batched_tail_s=tails.tail(batched),
        inference_batch1_tail_s=tails.tail(batch1),
        inference_batch_size=size,
        batch_throughput_samples_per_s=n / stats.summarize(passes)["median"],
        inference_samples_s={"batched_call": batched, "batch1": batch1, "batch_pass": passes},
    )
    return figures, warnings
