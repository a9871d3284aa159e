"""One job in a fresh Python process, as pyperf runs its workers.

Imports, allocator state and caches left by earlier jobs of a sweep cannot leak into a job's
memory figures or timings when it runs in a process of its own. The worker gets the resolved
``Job`` whole (it is picklable) and writes the record; the parent reads it back, or writes a
``failed`` record saying how the worker died.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

from nnbench.job import Job
from nnbench.record import RESULT_FILE, read_result
from nnbench.run import local


def _worker(job: Job, output_dir: str, parallel_jobs: int) -> None:
    try:
        local.run_job(job, output_dir, parallel_jobs)
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group; the parent reports it. The job leaves no
        # result, so the report lists its folder as incomplete and a resume runs it again.
        sys.exit(130)


def run_isolated(job: Job, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    """Run the job in a fresh process; return its record as written."""
    started = time.time()
    if multiprocessing.get_start_method(allow_none=True) not in (None, "spawn", "fork",
                                                                 "forkserver"):
        # inside a launcher's worker (joblib's loky sets its own start method, which a fresh
        # interpreter cannot find): make the standard one the worker's default again
        multiprocessing.set_start_method("spawn", force=True)
    process = multiprocessing.get_context("spawn").Process(
        target=_worker, args=(job, str(output_dir), parallel_jobs), name="nnbench-job")
    process.start()
    try:
        process.join()
    except KeyboardInterrupt:
        process.join(timeout=10)  # it got the same SIGINT; give it a moment, then insist
        if process.is_alive():
            process.kill()
            process.join()
        raise
    result = Path(output_dir) / RESULT_FILE
    if process.exitcode == 0 and result.is_file():
        return read_result(result)
    if process.exitcode == 130:
        raise KeyboardInterrupt
    code = process.exitcode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else \
        f"ended with exit code {code}"
    fields = local.head_fields(job, parallel_jobs)
    fields.update(status="failed", error_type="WorkerDied",
                  reason=f"the job's process {how} before writing its result")
    return local.finish(fields, started, output_dir).model_dump()
