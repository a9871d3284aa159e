"""One job in a fresh Python process, as pyperf runs its workers.

Imports, allocator state and caches left by earlier jobs of a sweep cannot leak into a job's
memory figures or timings when it runs in a process of its own. On Linux the process is forked
from a warm process per framework (``nnbench.runner.warm``), so it starts with the imports done;
elsewhere it is spawned. The worker gets the resolved ``Job`` whole (it is picklable) and writes
the record; the parent reads it back, or writes a ``failed`` record saying how the worker died.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from nnbench.job import Job
from nnbench.record import RESULT_FILE, read_result
from nnbench.runner import local
from nnbench.runner.warm import spawn_context, warm_process


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: finished records stay, the running job is stopped."""


def _spawned_worker(job: Job, output_dir: str, parallel_jobs: int) -> None:
    try:
        local.run_job(job, output_dir, parallel_jobs)
    except KeyboardInterrupt:
        sys.exit(130)


def _spawned(job: Job, output_dir: str | Path, parallel_jobs: int) -> int | None:
    process = spawn_context().Process(
        target=_spawned_worker, args=(job, str(output_dir), parallel_jobs), name="nnbench-job")
    process.start()
    try:
        process.join()
    except KeyboardInterrupt as interrupt:
        process.join(timeout=0 if isinstance(interrupt, Terminated) else 10)
        if process.is_alive():
            process.kill()
            process.join()
        raise
    return process.exitcode


def _forked(job: Job, output_dir: str | Path, parallel_jobs: int) -> int | None:
    warm = warm_process(job.trainer_target)
    try:
        return warm.run(job, str(output_dir), parallel_jobs)
    except KeyboardInterrupt as interrupt:
        # Ctrl-C reached the job too (one process group) and it ends by itself; SIGTERM was
        # the command's alone, and its job must not outlive it
        warm.stop_job(wait_s=0 if isinstance(interrupt, Terminated) else 10)
        raise


def run_isolated(job: Job, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    """Run the job in a fresh process; return its record as written."""
    started = time.time()
    code = (_forked if hasattr(os, "fork") else _spawned)(job, output_dir, parallel_jobs)
    result = Path(output_dir) / RESULT_FILE
    if code == 0 and result.is_file():
        return read_result(result)
    if code == 130:
        raise KeyboardInterrupt
    if code is None:
        how = "was lost with the process it was started from"
    elif code < 0:
        how = f"was killed by signal {-code}"
    else:
        how = f"ended with exit code {code}"
    fields = local.head_fields(job, parallel_jobs)
    fields.update(status="failed", error_type="WorkerDied",
                  reason=f"the job's process {how} before writing its result")
    return local.finish(fields, started, output_dir).model_dump()
