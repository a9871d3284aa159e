"""The result record: one flat JSON object per job, its schema defined here and nowhere else.

The writer builds a ``Record`` (so a record that does not fit the schema is never written), the
report validates every ``result.json`` it reads against the same model, and the manual's field
table is generated from it (``python scripts/record_fields.py``). ``Record.model_json_schema()``
exports it as JSON Schema for other tools.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nnbench.files import write_text

SCHEMA_VERSION = 3
STATUSES = ("ok", "skipped", "diverged", "oom", "failed")
RESULT_FILE = "result.json"
Status = Literal["ok", "skipped", "diverged", "oom", "failed"]


def _f(description: str, default: Any = None) -> Any:
    return Field(default, description=description)


class Stats(BaseModel):
    """Median and spread of timing samples (seconds): ``nnbench.stats.summarize``."""

    model_config = ConfigDict(extra="allow")
    n: int | None = None
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    iqr: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    cv: float | None = None
    rel_iqr: float | None = None
    mad: float | None = None


class AccuracyFigures(BaseModel):
    """What the trained model scores (null for a job that diverged or did not run)."""

    model_config = ConfigDict(extra="forbid")

    final_train_loss: float | None = _f("training loss of the last epoch")
    train_accuracy: float | None = _f("accuracy on the training set after training")
    test_accuracy: float | None = _f("accuracy on the test set after training")
    confusion_matrix: list[list[int]] | None = _f("test set; rows: true class")


class TargetFigures(BaseModel):
    """Time to a quality target (MLPerf's figure), medians over the repeats that reached it."""

    model_config = ConfigDict(extra="forbid")

    target_accuracy: float | None = _f("bench.target_accuracy")
    time_to_target_s: float | None = _f("training time until target_accuracy (median)")
    epochs_to_target: int | None = _f("epochs until target_accuracy (median)")
    target_reached_in_repeats: str | None = _f("repeats that reached it, e.g. 3/3")


class TrainingFigures(BaseModel):
    """The timed runs: per-epoch clocks of every repeat (top-up repeats included), and the
    first repeat's loss, test accuracy and resource counters epoch by epoch."""

    model_config = ConfigDict(extra="forbid")

    loss_history: list[float | None] = _f("training loss per epoch (first repeat)", [])
    test_accuracy_history: list[float] = _f("test accuracy after each epoch (first repeat), "
                                            "taken between epochs, off the clock", [])
    epoch_times_s: list[list[float]] = _f("raw seconds of every epoch, per repeat (top-ups "
                                          "included)", [])
    top_up_repeats: int = _f("repeats timed beyond bench.repeats to reach bench.min_samples", 0)
    epoch_counters: dict[str, list[float]] = _f(
        "per epoch of the first repeat, from getrusage around the clock (whole process): "
        "minor_faults, major_faults, voluntary_switches, involuntary_switches, cpu_s (user + "
        "system CPU seconds)", {})
    counters_per_epoch: dict[str, float | None] = _f(
        "the same counters as means over the timed epochs of every repeat, and cpu_per_wall "
        "(CPU seconds over clock seconds)", {})
    clock: str | None = _f("perf_counter, or cuda_events on a GPU")
    optimizer: str | None = _f("what updated the parameters")
    cuda_peak_mb: float | None = _f("device memory peak (null off CUDA)")
    cuda_peak_probe: str | None = _f("which device figure cuda_peak_mb is")


class TimingFigures(BaseModel):
    """Statistics of the timed epochs (warm-up epochs left out) and what they imply."""

    model_config = ConfigDict(extra="forbid")

    train_time_per_epoch_s: float | None = _f("median of the timed epochs")
    train_time_per_epoch_stats_s: Stats | None = _f("median, quartiles, IQR, min, max, mean, "
                                                    "CV, IQR/median (rel_iqr), MAD")
    train_time_per_epoch_repeat_medians_s: list[float] = _f("median of each repeat", [])
    train_time_total_s: float | None = _f("all epochs of the first repeat")
    train_throughput_samples_per_s: float | None = _f("training samples over the median epoch")
    train_flops_per_epoch: int | None = _f("matmul FLOPs of one epoch, from the architecture")
    train_flops_per_sample: int | None = _f("matmul FLOPs of one sample, forward and backward")
    inference_flops_per_sample: int | None = _f("matmul FLOPs of one forward pass")
    achieved_gflops: float | None = _f("training FLOPs over the median epoch, in GFLOP/s")
    matmul_peak_gflops: float | None = _f("the peak, in GFLOP/s")
    mfu: float | None = _f("achieved_gflops over matmul_peak_gflops")
    samples: dict[str, int] = _f("how many timing samples each figure rests on, by field name",
                                 {})


class InferenceFigures(BaseModel):
    """Inference of the trained model: batched and batch-1 latency, throughput, raw samples."""

    model_config = ConfigDict(extra="forbid")

    inference_latency_per_sample_s: float | None = _f("whole test set in one call, per sample")
    inference_batched_call_s: Stats | None = _f("statistics of the whole-test-set call")
    inference_latency_batch1_s: float | None = _f("median one-sample call")
    inference_latency_batch1_stats_s: Stats | None = _f("statistics of the one-sample calls")
    inference_batch_size: int | None = _f("batch size of the throughput figure")
    batch_throughput_samples_per_s: float | None = _f("samples per second in those batches")
    inference_samples_s: dict[str, list[float]] = _f(
        "raw seconds per call: batched_call (whole test set), batch1, batch_pass (one pass in "
        "inference batches)", {})


class MemoryFigures(BaseModel):
    """One untimed epoch under the memory probes; each figure labelled by what it sees."""

    model_config = ConfigDict(extra="forbid")

    peak_tracemalloc_mb: float | None = _f("Python heap (sees NumPy arrays, not torch's)")
    peak_rss_mb: float | None = _f("whole process, sampled every 2 ms")
    rss_delta_mb: float | None = _f("peak RSS above the probe's start")
    rss_baseline_mb: float | None = _f("RSS at the probe's start")
    memory_probe: str | None = _f("what the memory figures cover")


class Identity(BaseModel):
    """What ran, where, with what code, and how it ended."""

    # Lax where JSON is lax (1e6 for an int field, an int for a float), strict about the rest:
    # a string where a number belongs, or an object where a name belongs, is refused.
    model_config = ConfigDict(extra="forbid")

    schema_version: int = _f("version of this schema; records without one are version 1", 1)
    status: Status = Field(description="ok, skipped, diverged, oom or failed")
    reason: str | None = _f("why the status is not ok (null when ok)")
    error_type: str | None = _f("the error's class when failed or oom")
    traceback_file: str | None = _f("file in the job folder with the traceback of a failure")
    experiment_name: str | None = _f("groups runs in the report")
    framework: str | None = _f("framework.name")
    device: str | None = _f("cpu or cuda")
    precision: str | None = _f("precision.name")
    tf32: bool = _f("CUDA float32 matmuls on TF32 tensor cores", False)
    compile_mode: str | None = _f("compiler mode when the framework compiles the model")
    dataset: str | None = _f("dataset that ran (a stand-in says so in warnings)")
    arch: str | None = _f("layer sizes joined by x, e.g. 2x32x16x1")
    layer_sizes: list[int] = _f("input, hidden and output sizes", [])
    activations: list[str] = _f("one activation per layer", [])
    n_params: int | None = _f("weights and biases")
    loss: str | None = _f("train.loss")
    epochs: int | None = _f("train.epochs")
    batch_size: int | None = _f("train.batch_size (null: full batch)")
    lr: float | None = _f("train.lr")
    seed: int | None = _f("train.seed")
    init: str | None = _f("train.init")
    shuffle: bool | None = _f("train.shuffle")
    repeats: int | None = _f("bench.repeats")
    rounds: int | None = _f("bench.rounds: rounds of fresh processes the sweep ran")
    round: int = _f("which of them this job is (0-based); a job's identity includes it", 0)
    param_dtype: str | None = _f("dtype parameters and data are stored in")
    compute_dtype: str | None = _f("dtype the matmuls run in")
    autocast_dtype: str | None = _f("torch.autocast dtype (null: none)")
    grad_scaler: bool | None = _f("a gradient scaler was used")
    n_train: int | None = _f("training samples")
    n_test: int | None = _f("test samples")
    classes: list[str] = _f("class names, in label order", [])
    config: dict[str, Any] = _f("the whole resolved configuration", {})
    code_version: str | None = _f("git commit (-dirty when edited) or package version")
    job_key: str | None = _f("hash of config and code: what bench.resume matches")
    exclusive: bool | None = _f("no other job could run on this host meanwhile (inside a "
                                "scheduler's job: what its allocation shows; elsewhere: no "
                                "parallel launcher and no overlapping_jobs; null: unknown)",
                                True)
    parallel_jobs: int = _f("jobs the launcher may run side by side on this host", 1)
    overlapping_jobs: list[dict[str, Any]] = _f("other nnbench jobs that ran on this host at "
                                                "the same time: pid, job, folder, start and "
                                                "end (UTC); any makes exclusive false", [])
    threads: int | None = _f("threads both frameworks were held at (BLAS, torch)")
    scheduler: dict[str, Any] | None = _f("the scheduler's job: SLURM job id, array task, node, "
                                          "partition, CPUs and memory allocated, whether "
                                          "exclusive and how that was determined (null: none)")
    warnings: list[str] = _f("what a reader should know about these figures", [])


class Record(MemoryFigures, InferenceFigures, TimingFigures, TrainingFigures, TargetFigures,
             AccuracyFigures, Identity):
    """One job's result. Units are in the names (``_s`` seconds, ``_mb`` MiB) or said.

    The JSON is flat: the measurement sections above are the record's own fields, declared
    once there, in the order of this class's bases read from the last (what ran first); the
    probes return those sections, and ``assemble`` puts them together.
    """

    model_config = ConfigDict(extra="forbid")

    diverged_epoch: int | None = _f("epoch whose loss was not finite")
    gradient_check: dict[str, Any] | None = _f("NumPy gradients vs torch autograd: seed, "
                                               "max_rel_diff per parameter")
    warmup_epochs: int | None = _f("epochs of every repeat left out of the statistics")
    compile_time_s: float | None = _f("compiling every batch shape, timed apart")
    matmul_peak: dict[str, Any] | None = _f("this host's measured matmul peak, and how")
    environment: dict[str, Any] = _f("host, CPU, BLAS, threads, GPU, versions, commit, time", {})
    wall_time_s: float | None = _f("the whole job, set-up included")
    output_dir: str | None = _f("the job folder")


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: store them as null (the status says why)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def explain(err: ValidationError) -> str:
    """A validation error as one line: the first field and why, and how many more."""
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def checked(data: Any) -> tuple[dict | None, str | None]:
    """(the record with its values in their schema types, None) for a valid record, else
    (None, its first problem: the field and why). Fields it did not have stay absent."""
    if not isinstance(data, dict):
        return None, f"not a result record (a JSON {type(data).__name__}, not an object)"
    # fields this version does not know (a record from a newer nnbench) are left out, not
    # held against the record
    known = {k: v for k, v in data.items() if k in Record.model_fields}
    try:
        record = Record.model_validate(known)
    except ValidationError as err:
        return None, explain(err)
    return record.model_dump(exclude_unset=True), None


def problem(data: Any) -> str | None:
    """None when ``data`` is a valid record, else its first problem: the field and why."""
    return checked(data)[1]


def write_result(directory: str | os.PathLike, record: Record | dict) -> Path:
    """Write ``result.json`` atomically: a temporary file in the same folder, then a rename.

    A reader sees either no result or the whole one, even if the process dies mid-write; a
    record that does not fit the schema is refused before anything is written.
    """
    if not isinstance(record, Record):
        record = Record.model_validate(record)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = _finite(record.model_dump(exclude_none=False))
    text = json.dumps(data, indent=2, allow_nan=False, default=str)
    return write_text(directory / RESULT_FILE, text + "\n")


def read_result(path: str | os.PathLike) -> dict:
    with open(path) as f:
        return json.load(f)
