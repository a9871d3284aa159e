"""The result record: one flat JSON object per job, its schema defined here and nowhere else.

The writer builds a ``Record`` (so a record that does not fit the schema is never written), the
report validates every ``result.json`` it reads against the same model, and the manual's field
table is generated from it (``python scripts/record_fields.py``). ``Record.model_json_schema()``
exports it as JSON Schema for other tools. Each field's type carries its bounds (``bounds.py``:
no NaN, no negative time or count, accuracies in [0, 1]); ``read_result`` reads a file safely.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from nnbench import bounds
from nnbench.bounds import STORED, Count, Finite, NonNegative, Section
from nnbench.figures import (
    NESTED,
    AccuracyFigures,
    InferenceFigures,
    MemoryFigures,
    PhaseFigures,
    TargetFigures,
    TimingFigures,
    TrainingFigures,
    _f,
)
from nnbench.files import read_bytes, read_json, write_text

SCHEMA_VERSION = 3
STATUSES = ("ok", "skipped", "diverged", "oom", "failed")
RESULT_FILE = "result.json"
Status = Literal["ok", "skipped", "diverged", "oom", "failed"]
# 100,000 epochs x 10 repeats make a record of ~40 MB; a file far larger is no record (a log,
# a dataset renamed) and is refused before it is read. Records nest 5 deep (config) at most.
MAX_RECORD_BYTES, MAX_RECORD_DEPTH = 256 * 2**20, 64
# What a record read back must have, as the harness always writes it: an ok record what ran
# and its two headline figures (every table and figure relies on them), any other a reason.
OK_REQUIRES = ("framework", "device", "precision", "dataset", "arch", "train_time_per_epoch_s",
               "test_accuracy")




class Identity(Section):
    """What ran, where, with what code, and how it ended."""

    schema_version: Count = _f("version of this schema; records without one are version 1", 1)
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
    layer_sizes: list[Count] = _f("input, hidden and output sizes", [], role=NESTED)
    activations: list[str] = _f("one activation per layer", [], role=NESTED)
    n_params: Count | None = _f("weights and biases")
    loss: str | None = _f("train.loss")
    epochs: Count | None = _f("train.epochs")
    batch_size: Count | None = _f("train.batch_size (null: full batch)")
    lr: Finite | None = _f("train.lr")
    seed: int | None = _f("train.seed")
    init: str | None = _f("train.init")
    shuffle: bool | None = _f("train.shuffle")
    repeats: Count | None = _f("bench.repeats")
    rounds: Count | None = _f("bench.rounds: rounds of fresh processes the sweep ran")
    round: Count = _f("which of them this job is (0-based); a job's identity includes it", 0)
    param_dtype: str | None = _f("dtype parameters and data are stored in")
    compute_dtype: str | None = _f("dtype the matmuls run in")
    autocast_dtype: str | None = _f("torch.autocast dtype (null: none)")
    grad_scaler: bool | None = _f("a gradient scaler was used")
    n_train: Count | None = _f("training samples")
    n_test: Count | None = _f("test samples")
    classes: list[str] = _f("class names, in label order", [], role=NESTED)
    config: dict[str, Any] = _f("the whole resolved configuration", {}, role=NESTED)
    code_version: str | None = _f("git commit, plus -dirty-<hash of the changed files> when "
                                  "the package, its Hydra plugins or the trainer module differ "
                                  "from it; outside git: nnbench <version>+<hash>; then "
                                  "+<file>:<hash> for each file the trainer runs beyond them "
                                  "(your network's, framework=mine)")
    job_key: str | None = _f("digest of the identity's four parts and the round: what "
                             "bench.resume matches")
    identity: dict[str, Any] = _f("what the figures measured: config (the measured keys; "
                                  "setting: less the framework's), code, data (its source) and "
                                  "environment (interpreter, library versions, NumPy's BLAS, "
                                  "host), each a digest with its content (nnbench.identity)", {},
                                  role=NESTED)
    environment_name: str | None = _f("the Python environment the job ran in (bench.python): "
                                      "its venv folder's name, else its interpreter's path")
    interpreter: str | None = _f("the interpreter that ran the job (its sys.executable)")
    exclusive: bool | None = _f("no other job could run on this host meanwhile (inside a "
                                "scheduler's job: what its allocation shows; elsewhere: no "
                                "parallel launcher and no overlapping_jobs; null: unknown)",
                                True)
    parallel_jobs: Count = _f("jobs the launcher may run side by side on this host", 1)
    overlapping_jobs: list[dict[str, Any]] = _f("other nnbench jobs that ran on this host at "
                                                "the same time: pid, job, folder, start and "
                                                "end (UTC); any makes exclusive false", [])
    threads: Count | None = _f("threads both frameworks were held at (BLAS, torch)")
    threads_reason: str | None = _f("how bench.threads=auto chose them: the cores free when "
                                    "the sweep started (null: bench.threads gave the count)")
    scheduler: dict[str, Any] | None = _f("the scheduler's job: SLURM job id, array task, node, "
                                          "partition, CPUs and memory allocated, whether "
                                          "exclusive and how that was determined (null: none)",
                                          role=NESTED)
    warnings: list[str] = _f("what a reader should know about these figures", [], role=NESTED)

    @field_validator("schema_version")
    @classmethod
    def _known(cls, version: int) -> int:
        # a later version's fields may mean what this one cannot know: no guessing
        if version > SCHEMA_VERSION:
            raise ValueError(f"{version} is newer than this nnbench reads ({SCHEMA_VERSION}): "
                             f"a later nnbench wrote it; read it with that one")
        return version

    @field_validator("round")
    @classmethod
    def _below_rounds(cls, value: int, info: ValidationInfo) -> int:
        rounds = info.data.get("rounds")
        if rounds is not None and value >= rounds:
            raise ValueError(f"{value} is not below rounds ({rounds}): rounds count from 0")
        return value


class Record(PhaseFigures, MemoryFigures, InferenceFigures, TimingFigures, TrainingFigures,
             TargetFigures, AccuracyFigures, Identity):
    """One job's result. Units are in the names (``_s`` seconds, ``_mb`` MiB) or said.

    The JSON is flat: the measurement sections (``nnbench.figures``) are the record's own
    fields, declared once there, in the order of this class's bases read from the last (what
    ran first); the probes return those sections, and ``assemble`` puts them together.
    """

    diverged_epoch: Count | None = _f("epoch whose loss was not finite")
    gradient_check: dict[str, Any] | None = _f("NumPy gradients vs torch autograd: seed, "
                                               "max_rel_diff per parameter")
    diagnosis: dict[str, Any] | None = _f("your network (framework=mine) against torch autograd "
                                          "and finite differences before it was timed: ok, "
                                          "summary, lines, the figures per parameter and the "
                                          "loss curves of both")
    warmup_epochs: Count | None = _f("epochs of every repeat left out of the statistics")
    compile_time_s: NonNegative | None = _f("compiling every batch shape, timed apart")
    matmul_peak: dict[str, Any] | None = _f("this host's measured matmul peak, and how",
                                            role=NESTED)
    environment: dict[str, Any] = _f("host, CPU, BLAS, threads, GPU, versions, commit, time", {},
                                     role=NESTED)
    profile_files: list[str] = _f("files of the profiled pass (bench.profile), in the job folder",
                                  [])
    wall_time_s: NonNegative | None = _f("the whole job, set-up included")
    output_dir: str | None = _f("the job folder")

    @model_validator(mode="after")
    def _whole(self, info: ValidationInfo) -> Record:
        # only when read back: a probe that gave no figure must not cost a job its others
        if info.context != STORED:
            return self
        need = OK_REQUIRES if self.status == "ok" else ("reason",)
        missing = [name for name in need if getattr(self, name) in (None, "")]
        if missing:
            raise ValueError(f"{missing[0]}: required in a record of status {self.status}"
                             + (f", as are {', '.join(missing[1:])}" if missing[1:] else ""))
        return self


def fields_of(role: str, *shapes: str) -> tuple[str, ...]:
    """The record's fields declared with ``role`` (``figures.SERIES``, ``figures.NESTED``), of
    one of ``shapes`` where given, in the schema's order."""
    return tuple(name for name, info in Record.model_fields.items()
                 if isinstance(extra := info.json_schema_extra, dict)
                 and extra.get("role") == role and (not shapes or extra.get("shape") in shapes))


def checked(data: Any) -> tuple[dict | None, str | None]:
    """(the record with its values in their schema types, None) for a valid record, else
    (None, its first problem: the field and why). Fields it did not have stay absent."""
    if not isinstance(data, dict):
        return None, f"not a result record (a JSON {type(data).__name__}, not an object)"
    # fields this version does not know (an older one's, since dropped) are left out, not held
    # against the record; a later version's record is refused by its schema_version
    known = {k: v for k, v in data.items() if k in Record.model_fields}
    try:
        record = Record.model_validate(known, context=STORED)
    except ValidationError as err:
        return None, bounds.explain(err)
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
    data = bounds.finite(record.model_dump(exclude_none=False))
    text = json.dumps(data, indent=2, allow_nan=False, default=str)
    return write_text(directory / RESULT_FILE, text + "\n")


def read_result(path: str | os.PathLike) -> Any:
    """The JSON in ``path`` (``checked`` validates it), read only from a regular file of at most
    MAX_RECORD_BYTES nested at most MAX_RECORD_DEPTH: ``files.UnreadableFile`` otherwise, so no
    FIFO hangs a reader and no deep file exhausts its stack."""
    return read_json(path, MAX_RECORD_BYTES, MAX_RECORD_DEPTH)


def read_checked(path: str | os.PathLike) -> tuple[dict | None, str | None]:
    """``checked(read_result(path))``: the same outcome, the same errors raised, in about a
    third of the time. A valid record's text is parsed and validated at once by the schema's
    own JSON reader; any other (no JSON, a field this version does not know, a wrong value) is
    parsed by ``json`` and checked as ``checked`` does, so it is told apart as before."""
    data = read_bytes(path, MAX_RECORD_BYTES, MAX_RECORD_DEPTH)
    try:  # of JSON text that both read, the two readers give the same values
        return Record.model_validate_json(data, context=STORED).model_dump(
            exclude_unset=True), None
    except (ValueError, RecursionError):  # ValidationError is a ValueError
        pass
    return checked(json.loads(data))

