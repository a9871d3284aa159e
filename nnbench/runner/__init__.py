"""Running jobs: resolve the configuration once, then decide how the job runs.

``run(cfg, output_dir)`` is the whole path of one job: the config resolved into a ``Job``
(or a ``failed`` record saying what is wrong with it), an ok result already there
(``bench.resume``), a launcher that would time jobs side by side, a job this host cannot run
(``skipped``, decided here, before any worker starts), and otherwise the job itself, in a fresh
process (``isolated``), in a process of another environment's interpreter (``elsewhere``, with
``bench.python``: that environment decides what it can run) or in this one (``local``). A job
too large for this host's memory ends ``oom`` before it starts; a framework whose class-level
hook raised (``Job.fault``, or its ``skip_reason`` here) ends ``failed`` with the hook's error,
and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from nnbench.errors import ConfigError
from nnbench.footprint import TooLarge
from nnbench.job import Job, hook_fault, resolve
from nnbench.paths import NoRoom
from nnbench.record import RESULT_FILE, read_result
from nnbench.runner import local, resume, unfinished, warm
from nnbench.runner.elsewhere import run_elsewhere
from nnbench.runner.isolated import run_isolated


def failed_record(cfg: DictConfig, output_dir: str | Path, reason: str, error_type: str,
                  job: Job | None = None, **extra: Any) -> dict:
    """Write the ``failed`` record of a job that never ran or never wrote one (a configuration
    that cannot be resolved, a scheduler's job killed from outside): what ran as far as the
    config says, and why it did not end. ``job``: the config resolved, where it resolves."""
    fields = local.head_fields(job) if job is not None else _as_far_as_known(cfg)
    fields.update({"status": "failed", "reason": reason, "error_type": error_type, **extra})
    return local.finish(fields, time.time(), output_dir).model_dump()


def _as_far_as_known(cfg: DictConfig) -> dict[str, Any]:
    """What can be read of a config that does not resolve."""
    fields: dict[str, Any] = {"experiment_name": cfg.get("experiment_name")}
    for section in ("framework", "device", "precision"):
        node = cfg.get(section)
        fields[section] = str(node.get("name")) if isinstance(node, DictConfig) else None
    return fields


def _cannot_run(job: Job, head: dict[str, Any]) -> dict[str, Any] | None:
    """The fields of a job that ends before it starts (a framework's fault, a job this host
    cannot run: no worker for it), or None."""
    if job.fault:
        return {**head, "status": "failed", "error_type": "FrameworkError", "reason": job.fault}
    try:
        reason = job.skip_reason()
    except Exception as err:  # noqa: BLE001 - a third-party hook may raise anything
        return {**head, "status": "failed", "error_type": "FrameworkError",
                "reason": hook_fault(job.trainer_class, "skip_reason", err)}
    return {**head, "status": "skipped", "reason": reason} if reason else None


def warm_up_for(job: Job) -> None:
    """Start, without waiting, the warm process a job that will run in this sweep's process
    forks from: called as the sweep checks its jobs, so that the framework's imports (torch:
    over a second) overlap the composing of the others instead of delaying the first job.
    A job that will be skipped, resumed or run elsewhere starts none."""
    if not (job.bench.isolate and job.bench.python is None and hasattr(os, "fork")):
        return
    if job.bench.resume or job.fault:
        return
    try:
        if job.skip_reason() is not None:
            return
    except Exception:  # noqa: BLE001 - the job's own path says what the hook raised
        return
    warm.warm_process(job.trainer_target)


def run_resolved(job: Job, output_dir: str | Path, parallel_jobs: int = 1,
                 also_warm: list[str] | None = None) -> dict:
    """Run a resolved job as the config says; return its record (status ``resumed`` for a job
    that already has an ok result under ``runs_dir``, whose folder then points there).

    ``also_warm``: trainers of other frameworks the sweep will run, whose warm processes start
    together with this job's (see ``nnbench.runner.warm``)."""
    head = local.head_fields(job, parallel_jobs)
    if job.bench.resume:
        previous = resume.already_ok(job.runs_dir, head["job_key"])
        if previous is not None:
            with contextlib.suppress(OSError):  # a folder that cannot take it: listed incomplete
                resume.mark_resumed(output_dir, previous)
            unfinished.settle(job.runs_dir, head["job_key"], previous, output_dir)
            return {**head, "status": "resumed", "reason": f"ok result at {previous}"}
    started = time.time()
    if parallel_jobs > 1 and not job.bench.allow_parallel:
        head.update(status="failed", error_type="ConfigError", exclusive=False,
                    reason=f"invalid configuration: the launcher runs up to {parallel_jobs} "
                           f"jobs side by side on this host, which skews their timings; run "
                           f"them one at a time or set bench.allow_parallel=true")
        return local.finish(head, started, output_dir).model_dump()
    # another environment's job: whether it can run is for its libraries to say, not these
    ended = None if job.bench.python is not None else _cannot_run(job, head)
    if ended is not None:
        return local.finish(ended, started, output_dir).model_dump()
    unfinished.mark(output_dir, head["job_key"])  # stays only if the job is interrupted
    result = Path(output_dir) / RESULT_FILE
    try:
        if job.bench.python is not None:
            record = run_elsewhere(job, output_dir, parallel_jobs)
        elif job.bench.isolate:
            if hasattr(os, "fork"):  # before the first job that runs, not for skipped ones
                warm.prestart([job.trainer_target, *(also_warm or [])])
            record = run_isolated(job, output_dir, parallel_jobs)
        else:
            record = local.run_job(job, output_dir, parallel_jobs).model_dump()
    except KeyboardInterrupt as interrupt:
        # SIGINT to this process alone (kill -INT PID) leaves its job running, which may end
        # with its record while it is given time to: then it is a finished job, told as one
        if result.is_file():
            unfinished.unmark(output_dir)
            with contextlib.suppress(OSError, ValueError):
                interrupt.finished = read_result(result).get("status")  # type: ignore[attr-defined]
        raise
    unfinished.unmark(output_dir)
    if record.get("status") == "ok":
        resume.remember(job.runs_dir, record.get("job_key"), result)
    if job.bench.resume and result.is_file():
        unfinished.settle(job.runs_dir, head["job_key"], result, output_dir)
    return record


def resolved(cfg: DictConfig, output_dir: str | Path) -> Job | dict:
    """The job ``cfg`` resolves into, or the record of one that cannot run, written."""
    try:
        return resolve(cfg)
    except TooLarge as err:  # the sweep's host had room for it; the host it runs on has not
        return failed_record(cfg, output_dir, f"out of memory before it started: {err}",
                             "TooLarge", status="oom")
    except NoRoom as err:  # earlier jobs of the sweep filled the disk: not started
        return failed_record(cfg, output_dir, f"not started: {err}", "NoRoom")
    except ConfigError as err:
        return failed_record(cfg, output_dir, f"invalid configuration: {err}", "ConfigError")


def run(cfg: DictConfig, output_dir: str | Path, parallel_jobs: int = 1,
        also_warm: list[str] | None = None) -> dict:
    """Run one job from its Hydra config and write its ``result.json``; return the record."""
    job = resolved(cfg, output_dir)
    return job if isinstance(job, dict) else run_resolved(job, output_dir, parallel_jobs,
                                                          also_warm)
