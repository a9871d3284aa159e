"""One job in this process: data, parameters, the trainer inside the probes, one record.

This is the only module that knows about all the others. Every job ends with a record,
whatever happens; its status says how it ended. The record is assembled once, at the end, from
the job's description and the typed measurements, and written atomically; where its folder
cannot take it, it is kept elsewhere and the console says where (``nnbench.runner.salvage``).

NumPy's floating-point warnings are off while a job trains and infers: overflow on the way to
divergence is what status ``diverged`` reports, once, not a RuntimeWarning per operation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from nnbench import benchmark, data, environments, identity, profiling
from nnbench.errors import DataError, Skip
from nnbench.files import cache_warnings, write_text
from nnbench.frameworks import agreement
from nnbench.frameworks.base import Trainer, blas_of
from nnbench.job import Job
from nnbench.measure import contention
from nnbench.measure import peak as peak_probe
from nnbench.measure.environment import environment
from nnbench.measure.scheduler import scheduler_info
from nnbench.measure.threads import limited
from nnbench.params import Params, init_params
from nnbench.record import SCHEMA_VERSION, Record
from nnbench.runner import registry, salvage


def _build_trainer(job: Job, cls: type[Trainer], params: Params) -> Trainer:
    return cls(job.spec, params, job.precision, job.device, job.train.lr, job.options)


def trainer_factory(job: Job, cls: type[Trainer]) -> benchmark.TrainerFactory:
    """Draw the initial parameters, and build the trainer on them: two steps, so that the
    memory probe sees the trainer's allocations and not the harness's float64 draw."""
    return benchmark.TrainerFactory(
        draw=functools.partial(init_params, job.spec.layer_sizes, job.train.init),
        build=functools.partial(_build_trainer, job, cls))


def _gradient_check(job: Job, ds: data.Dataset) -> dict[str, Any]:
    seed = job.bench.gradient_check_seed
    if seed is None:
        return {}
    why_not = agreement.why_not(job.precision)
    if why_not:
        return {"warnings": [f"no gradient check: {why_not}"]}
    # after the measurements: the check builds a torch model too, and a NumPy job's memory
    # figures must not include torch's libraries
    diffs = agreement.gradient_agreement(job.spec, job.train.init, seed, job.precision,
                                      ds.x_train, ds.y_train)
    return {"gradient_check": {"seed": seed, "max_rel_diff": diffs}}


def _diagnosis(job: Job, cls: type[Trainer], ds: data.Dataset) -> dict[str, Any] | None:
    """The network checked before it is timed, when its framework asks for it (yours): built
    in float64 at the job's start, on the job's batches."""
    if cls.diagnose is Trainer.diagnose:
        return None
    params = init_params(job.spec.layer_sizes, job.train.init, job.train.seed)
    trainer = cls(job.spec, params, "float64", "cpu", job.train.lr, job.options)
    return trainer.diagnose(ds.x_train, ds.y_train, job.train.batch_size, job.train.epochs,
                            job.train.seed, job.train.shuffle)


def clamp_batch_size(job: Job, n_train: int) -> tuple[Job, str | None]:
    """A batch larger than the training set is the whole set: the job with the batch size that
    is used, and the warning that says so (the record's batch_size is the one used)."""
    size = job.train.batch_size
    if size is None or size <= n_train:
        return job, None
    train = dataclasses.replace(job.train, batch_size=n_train)
    return dataclasses.replace(job, train=train), (
        f"train.batch_size={size} exceeds the {n_train} training samples: one full batch per "
        f"epoch, batch_size {n_train}")


def _execute(job: Job, output_dir: str | Path) -> dict[str, Any]:
    reason = job.skip_reason()
    if reason:
        raise Skip(reason)
    cls = job.trainer_class
    # a damaged cache is rebuilt, not a failure; what was discarded is said in the record
    with cache_warnings() as warnings:
        ds = data.load(job.dataset)
    data.check_finite(ds, job.precision.param_dtype)  # before any training could blame itself
    fields: dict[str, Any] = {"n_train": int(ds.x_train.shape[0]),
                              "n_test": int(ds.x_test.shape[0]), "classes": list(ds.classes)}
    if ds.note:
        fields["dataset"] = ds.name
        warnings.append(ds.note)
    job, clamped = clamp_batch_size(job, fields["n_train"])
    if clamped:
        fields["batch_size"] = job.train.batch_size
        warnings.append(clamped)
    diagnosis = _diagnosis(job, cls, ds)
    if diagnosis is not None:
        fields["diagnosis"] = diagnosis
        if not diagnosis["ok"]:  # a wrong network's timings would compare unlike work
            return {**fields, "status": "failed", "reason": diagnosis["summary"],
                    "error_type": "Disagreement", "warnings": warnings}
        # it ran first, so torch's libraries are already in this process
        warnings.append("the diagnosis ran first: torch (its autograd) was loaded in this "
                        "process before the memory probe, so peak_rss_mb and rss_baseline_mb "
                        "include torch's libraries (rss_delta_mb does not)")
    bench = job.bench
    peak = None
    if bench.mfu:
        with cache_warnings() as found:
            peak = peak_probe.matmul_peak(cls, job.precision.compute_dtype,
                                          job.device, bench.threads, tf32=job.precision.tf32,
                                          n=cls.matmul_size(job.device))
        warnings += found
        fields["matmul_peak"] = peak
    with limited(bench.threads) as threads, np.errstate(over="ignore", invalid="ignore",
                                                        divide="ignore"):
        measured = benchmark.measure(trainer_factory(job, cls), ds, job.train, bench,
                                     job.spec.layer_sizes, peak,
                                     compiles=job.compile_mode is not None)
        fields.update(measured.record_fields(), threads=threads,  # the BLAS as it calls it
                      environment={**environment(threads),
                                   "framework_blas": blas_of(cls, job.device)})
        if bench.profile:  # after every timed figure: a profiler slows what it watches
            fields["profile_files"], found = profiling.profile(
                trainer_factory(job, cls), ds, job.train, output_dir,
                timed=fields.get("train_time_per_epoch_s"))
            warnings += found
    check = _gradient_check(job, ds)
    fields["warnings"] = warnings + fields["warnings"] + check.pop("warnings", [])
    return {**fields, **check}


def _failure(job: Job, err: Exception, output_dir: str | Path) -> dict[str, Any]:
    name = type(err).__name__
    if isinstance(err, DataError):
        return {"status": "failed", "reason": str(err), "error_type": name}
    if isinstance(err, Skip):
        return {"status": "skipped", "reason": str(err)}
    cls = job.trainer_class
    try:
        oom = cls.is_oom(err)
        if oom:
            cls.free_memory()
    except Exception:  # noqa: BLE001 - a framework's hook failing here must not lose the record
        oom = isinstance(err, MemoryError)
    if oom:
        return {"status": "oom", "reason": f"out of memory: {str(err).splitlines()[0]}",
                "error_type": name}
    fields = {"status": "failed", "reason": f"{name}: {err}", "error_type": name}
    trace = Path(output_dir) / "traceback.txt"
    with contextlib.suppress(OSError):  # a folder that cannot take it: the reason still says
        trace.parent.mkdir(parents=True, exist_ok=True)
        write_text(trace, traceback.format_exc())
        fields["traceback_file"] = trace.name
    return fields


def finish(fields: dict[str, Any], started: float, output_dir: str | Path) -> Record:
    """Assemble the record from its fields, stamp time and place, and write it (or, where
    ``output_dir`` cannot take it, keep it elsewhere: ``salvage``)."""
    fields.setdefault("environment", environment())
    record = Record(**fields, wall_time_s=time.time() - started, output_dir=str(output_dir))
    salvage.write(output_dir, record)
    return record


def head_fields(job: Job, parallel_jobs: int = 1) -> dict[str, Any]:
    """What every record of this job says, however it ends."""
    cls = job.trainer_class  # its module file, and any code it runs (yours), are what ran
    code = identity.code(identity.trainer_file(cls), tuple(map(str, cls.code_files(job.options))))
    parts = {**job.identity, "code": code,
             "environment": environments.environment_part(job.bench.python)}
    fields = {**job.describe(), "schema_version": SCHEMA_VERSION, "config": job.config,
              "code_version": parts["code"]["version"], "identity": parts,
              "job_key": identity.job_key(parts, job.bench.round),
              **environments.identity(job.bench.python),
              "exclusive": parallel_jobs <= 1, "parallel_jobs": parallel_jobs}
    allocation = scheduler_info()
    if allocation is not None:  # inside a SLURM job: exclusive is what its allocation shows
        fields.update(scheduler=allocation,
                      exclusive=allocation["exclusive"] if parallel_jobs <= 1 else False)
    return fields


def run_job(job: Job, output_dir: str | Path, parallel_jobs: int = 1) -> Record:
    """Run one job in this process and write its ``result.json``; return the record.

    ``parallel_jobs`` > 1 says other jobs may be running on this host meanwhile: the record is
    marked ``exclusive: false`` and the report flags its timings.
    """
    started = time.time()
    contention.begin()  # what other processes do from here to the last timed epoch
    fields = head_fields(job, parallel_jobs)
    running = registry.start(output_dir, fields)  # other nnbench jobs on this host meanwhile
    try:
        fields.update(_execute(job, output_dir))
    except Exception as err:  # any fault is this job's result, not the sweep's end
        fields.update(_failure(job, err, output_dir))
    registry.end(running, fields)
    return finish(fields, started, output_dir)
