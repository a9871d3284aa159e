"""The record's measurement sections: what each probe of a job measures, as a pydantic model.

``Record`` (``nnbench.record``) inherits every section, so each field is declared once here and
the JSON stays flat; a probe returns its section, and the job puts them together. Each field's
type carries its bounds (``nnbench.bounds``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from nnbench.bounds import Count, Finite, Fraction, NonNegative, Positive, Section, Stats, Tail

# A field's role, declared with it, so that readers ask the schema rather than keep lists of
# names: a series (per epoch or per call: left out of the flat table and of results.json
# unless asked for, kept as arrays by the report) and its shape; a nested section (a table of
# its own, not a column). ``nnbench.record.fields_of`` reads them.
SERIES, NESTED = "series", "nested"
EPOCHS, PER_REPEAT, BY_NAME, COUNTERS = "epochs", "per_repeat", "by_name", "counters"


def _f(description: str, default: Any = None, role: str | None = None,
       shape: str | None = None) -> Any:
    extra = {key: value for key, value in (("role", role), ("shape", shape)) if value}
    return Field(default, description=description, json_schema_extra=extra or None)


class AccuracyFigures(Section):
    """What the trained model scores (null for a job that diverged or did not run)."""

    final_train_loss: Finite | None = _f("training loss of the last epoch")
    train_accuracy: Fraction | None = _f("accuracy on the training set after training")
    test_accuracy: Fraction | None = _f("accuracy on the test set after training")
    confusion_matrix: list[list[Count]] | None = _f("test set; rows: true class", role=NESTED)

    @field_validator("confusion_matrix")
    @classmethod
    def _k_by_k(cls, matrix: list[list[int]] | None, info: ValidationInfo) -> Any:
        # every figure and table drawn from it indexes it as k x k, k the number of classes
        lengths = [len(row) for row in matrix or []]
        if any(n != len(lengths) for n in lengths):
            raise ValueError(f"not k x k: {len(lengths)} rows of {', '.join(map(str, lengths))}")
        classes = info.data.get("classes")
        if classes and lengths and len(lengths) != len(classes):
            raise ValueError(f"{len(lengths)} x {len(lengths)} for {len(classes)} classes")
        return matrix


class TargetFigures(Section):
    """Time to a quality target (MLPerf's figure), medians over the repeats that reached it."""

    target_accuracy: Fraction | None = _f("bench.target_accuracy")
    time_to_target_s: NonNegative | None = _f("training time until target_accuracy (median)")
    epochs_to_target: Count | None = _f("epochs until target_accuracy (median)")
    target_reached_in_repeats: str | None = _f("repeats that reached it, e.g. 3/3")
    time_to_target_per_repeat_s: list[NonNegative | None] = _f("each configured repeat's time "
                                                               "to target (null: not reached)", [])


class TrainingFigures(Section):
    """The timed runs: per-epoch clocks of every repeat (top-up repeats included), and the
    first repeat's loss, test accuracy and resource counters epoch by epoch."""

    loss_history: list[Finite | None] = _f("training loss per epoch (first repeat)", [],
                                           role=SERIES, shape=EPOCHS)
    loss_histories: list[list[Finite | None]] = _f("training loss per epoch of every "
                                                   "configured repeat (bench.repeats)", [],
                                                   role=SERIES, shape=PER_REPEAT)
    test_accuracy_histories: list[list[Fraction]] = _f("test accuracy per epoch of every "
                                                       "configured repeat", [],
                                                       role=SERIES, shape=PER_REPEAT)
    test_accuracy_history: list[Fraction] = _f("test accuracy after each epoch (first repeat), "
                                               "from an untimed replay; empty with "
                                               "bench.accuracy_per_epoch=false", [],
                                               role=SERIES, shape=EPOCHS)
    epoch_times_s: list[list[Positive]] = _f("raw seconds of every epoch, per repeat (top-ups "
                                             "included)", [], role=SERIES, shape=PER_REPEAT)
    top_up_repeats: Count = _f("repeats timed beyond bench.repeats to reach bench.min_samples", 0)
    epoch_counters: dict[str, list[NonNegative]] = _f(
        "per epoch of the first repeat, from getrusage around the clock (whole process): "
        "minor_faults, major_faults, voluntary_switches, involuntary_switches, cpu_s (user + "
        "system CPU seconds)", {}, role=SERIES, shape=COUNTERS)
    counters_per_epoch: dict[str, NonNegative | None] = _f(
        "the same counters as means over the timed epochs of every repeat, and cpu_per_wall "
        "(CPU seconds over clock seconds)", {})
    contention: dict[str, Any] | None = _f(
        "what other processes did on the job's cores from its start to the end of its timed "
        "epochs: level (quiet, busy, oversubscribed), others_cores, cores, threads, "
        "steal_fraction, run_queue, involuntary_switches_per_epoch, text (null: cannot be "
        "read here)")
    clock: str | None = _f("perf_counter, or cuda_events on a GPU")
    optimizer: str | None = _f("what updated the parameters")
    cuda_peak_mb: NonNegative | None = _f("device memory peak (null off CUDA)")
    cuda_peak_probe: str | None = _f("which device figure cuda_peak_mb is")


class TimingFigures(Section):
    """Statistics of the timed epochs (warm-up epochs left out) and what they imply."""

    train_time_per_epoch_s: NonNegative | None = _f("median of the timed epochs")
    train_time_per_epoch_low_s: NonNegative | None = _f(
        "10th percentile of the timed epochs: what time added by other processes cannot "
        "inflate; comparisons use it where the host was busy (stats.robust)")
    train_time_per_epoch_stats_s: Stats | None = _f("median, quartiles, IQR, min, max, mean, "
                                                    "CV, IQR/median (rel_iqr), MAD")
    train_time_per_epoch_repeat_medians_s: list[NonNegative] = _f("median of each repeat", [])
    train_time_total_s: NonNegative | None = _f("all epochs of the first repeat")
    train_throughput_samples_per_s: NonNegative | None = _f("training samples over the median "
                                                            "epoch")
    train_flops_per_epoch: Count | None = _f("matmul FLOPs of one epoch, from the architecture")
    train_flops_per_sample: Count | None = _f("matmul FLOPs of one sample, forward and backward")
    inference_flops_per_sample: Count | None = _f("matmul FLOPs of one forward pass")
    achieved_gflops: NonNegative | None = _f("training FLOPs over the median epoch, in GFLOP/s")
    matmul_peak_gflops: NonNegative | None = _f("the peak, in GFLOP/s")
    mfu: NonNegative | None = _f("achieved_gflops over matmul_peak_gflops")
    samples: dict[str, Count] = _f("how many timing samples each figure rests on, by field name",
                                 {})


class InferenceFigures(Section):
    """Inference of the trained model: batched and batch-1 latency, throughput, raw samples."""

    inference_latency_per_sample_s: NonNegative | None = _f("whole test set in one call, per "
                                                            "sample")
    inference_batched_call_s: Stats | None = _f("statistics of the whole-test-set call")
    inference_latency_batch1_s: NonNegative | None = _f("median one-sample call")
    inference_latency_batch1_stats_s: Stats | None = _f("statistics of the one-sample calls")
    inference_batched_tail_s: Tail | None = _f(
        "p50, p90, p99 (nearest rank), max and calls of the whole-test-set call, each "
        "percentile's 99% upper bound (pNN_bound); a percentile with fewer calls than MLPerf's "
        "early stopping needs (p50 11, p90 64, p99 662) is null, and omitted says why")
    inference_batch1_tail_s: Tail | None = _f("the same, of the one-sample calls")
    inference_batch_size: Count | None = _f("batch size of the throughput figure")
    batch_throughput_samples_per_s: NonNegative | None = _f("samples per second in those batches")
    inference_samples_s: dict[str, list[NonNegative]] = _f(
        "raw seconds per call: batched_call (whole test set), batch1, batch_pass (one pass in "
        "inference batches)", {}, role=SERIES, shape=BY_NAME)


class PhaseFigures(Section):
    """Where one epoch's time goes, from a pass of its own after the timed runs (bench.phases):
    phased epochs of a fresh trainer, and each layer's kernels called on their own."""

    phases_s: dict[str, Stats] = _f("seconds of each phase of one epoch over the phased epochs: "
                                    "gather (the mini-batch's rows), forward (with the loss), "
                                    "backward, update, and rest (the epoch less the others: "
                                    "Python, dispatch, allocation, the marks)", {})
    phases_epoch_s: Stats | None = _f("the phased epochs' own time, marks included: against "
                                      "train_time_per_epoch_s, what the marks cost")
    phases_samples_s: dict[str, list[NonNegative]] = _f("raw seconds of each phase and of "
                                                        "each phased epoch (epoch)", {},
                                                        role=SERIES, shape=BY_NAME)
    phases_unavailable: str | None = _f("why there are no phases (the framework cannot break "
                                        "its epoch down, or bench.phases=false)")
    layer_matmuls: list[dict[str, Any]] = _f(
        "each layer's kernels called on their own at the job's batch size: layer, direction "
        "(forward, backward), op (matmul, bias, matmul+bias, weight grad, input grad, bias "
        "grad), seconds (median per call), rel_iqr, samples, calls_per_sample, flops (from the "
        "shapes), gflops", [])


class MemoryFigures(Section):
    """One untimed epoch under the memory probes; each figure labelled by what it sees."""

    peak_tracemalloc_mb: NonNegative | None = _f("Python heap (sees NumPy arrays, not torch's)")
    peak_rss_mb: NonNegative | None = _f("whole process, sampled every 2 ms")
    rss_delta_mb: Finite | None = _f("peak RSS above the probe's start")
    rss_baseline_mb: NonNegative | None = _f("RSS at the probe's start")
    memory_probe: str | None = _f("what the memory figures cover")
