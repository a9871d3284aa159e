"""The typed figures one job measures; their field names are the record's.

Each probe returns one of these; ``nnbench.record`` assembles the record from them once, at the
end of the job. A divergence is a value here (``Training.divergence``), not a status written
into a shared dictionary along the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Divergence:
    epoch: int
    loss: float

    @property
    def reason(self) -> str:
        return f"training loss became {self.loss} at epoch {self.epoch}"


@dataclass
class Target:
    """Time to a quality target (MLPerf's figure), medians over the repeats that reached it."""

    target_accuracy: float
    time_to_target_s: float | None
    epochs_to_target: int | None
    target_reached_in_repeats: str


@dataclass
class Memory:
    """One untimed epoch under the memory probes; each figure labelled by what it sees."""

    peak_tracemalloc_mb: float
    peak_rss_mb: float
    rss_delta_mb: float
    rss_baseline_mb: float
    memory_probe: str


@dataclass
class Training:
    """The timed runs: per-epoch clocks of every repeat (top-up repeats included), and the
    first repeat's loss, test accuracy and resource counters epoch by epoch."""

    loss_history: list[float]
    epoch_times_s: list[list[float]]
    clock: str
    optimizer: str
    test_accuracy_history: list[float] = field(default_factory=list)
    top_up_repeats: int = 0
    epoch_counters: dict[str, list[float]] = field(default_factory=dict)
    counters_per_epoch: dict[str, float] = field(default_factory=dict)
    cuda_peak_mb: float | None = None
    cuda_peak_probe: str | None = None
    divergence: Divergence | None = None
    target: Target | None = None


@dataclass
class Timing:
    """Statistics of the timed epochs (warm-up epochs left out) and what they imply."""

    train_time_per_epoch_s: float | None
    train_time_per_epoch_stats_s: dict[str, Any]
    train_time_per_epoch_repeat_medians_s: list[float]
    train_time_total_s: float
    train_throughput_samples_per_s: float | None
    train_flops_per_epoch: int
    train_flops_per_sample: int
    inference_flops_per_sample: int
    achieved_gflops: float | None
    matmul_peak_gflops: float | None
    mfu: float | None
    # how many timing samples each figure rests on, by the figure's record name
    samples: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Accuracy:
    final_train_loss: float | None
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    # rows: true class, columns: predicted class (scikit-learn's convention)
    confusion_matrix: list[list[int]] | None = None


@dataclass
class Inference:
    inference_latency_per_sample_s: float
    inference_batched_call_s: dict[str, Any]
    inference_latency_batch1_s: float
    inference_latency_batch1_stats_s: dict[str, Any]
    inference_batch_size: int
    batch_throughput_samples_per_s: float
    # raw seconds per call: batched_call, batch1, and batch_pass (one pass in inference batches)
    inference_samples_s: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Measurements:
    """Everything ``benchmark.measure`` found out about one trainer on one dataset."""

    warmup_epochs: int
    training: Training
    timing: Timing
    accuracy: Accuracy
    memory: Memory | None = None
    inference: Inference | None = None
    compile_time_s: float | None = None
