"""One job in a fresh Python process, as pyperf runs its workers.

Imports, allocator state and caches left by earlier jobs of a sweep cannot leak into a job's
memory figures or timings when it runs in a process of its own. On Linux the process is forked
from a warm process per framework (``nnbench.runner.warm``), so it starts with the imports done;
elsewhere it is spawned. The worker gets the resolved ``Job`` whole (it is picklable) and writes
the record; the parent reads it back (from where ``nnbench.runner.salvage`` kept it, when the
job folder could not take it), or writes a record saying how the worker died: ``oom`` when it
was killed by SIGKILL while the kernel's out-of-memory killer acted, else ``failed``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from nnbench import unsaved
from nnbench.footprint import oom_kills
from nnbench.job import Job
from nnbench.record import RESULT_FILE, read_result
from nnbench.runner import local, salvage
from nnbench.runner.warm import spawn_context, warm_process


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: finished records stay, the running job is stopped."""


def _spawned_worker(job: Job, output_dir: str, parallel_jobs: int) -> None:
    try:
        local.run_job(job, output_dir, parallel_jobs)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(salvage.exit_status())


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
    # A warm process whose source files changed since it imported them ends instead of
    # serving the job (its record would name code that did not run): a new one imports the
    # files as they are now, and the job runs there, recording that code. Twice: files
    # still changing as it starts are an edit in progress, and the job fails saying so.
    for _ in range(2):
        warm = warm_process(job.trainer_target)
        try:
            code = warm.run(job, str(output_dir), parallel_jobs)
        except KeyboardInterrupt as interrupt:
            # Ctrl-C reached the job too (one process group) and it ends by itself; SIGTERM
            # was the command's alone, and its job must not outlive it
            warm.stop_job(wait_s=0 if isinstance(interrupt, Terminated) else 10)
            raise
        if not warm.stale:
            return code
        warm.close()
    raise CodeChanging(warm.stale)


class CodeChanging(RuntimeError):
    """The package's files kept changing while the job's process started."""

    def __init__(self, files: list[str]):
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        super().__init__(f"not started: nnbench's files changed while its process started "
                         f"({shown}); run it again once the edit is saved")


def death(code: int | None, kills_before: int | None, kills_after: int | None) -> tuple[str, str]:
    """(status, reason) of a job whose process ended with ``code`` and wrote no record;
    ``kills_*``: the kernel's count of out-of-memory kills before and after it ran."""
    if code is None:
        return "failed", "the job's process was lost with the process it was started from"
    if code == -9:  # SIGKILL
        if kills_before is not None and kills_after is not None and kills_after > kills_before:
            return "oom", (f"out of memory: the job's process was killed by signal 9 (SIGKILL) "
                           f"while the kernel's out-of-memory killer ended "
                           f"{kills_after - kills_before} process(es) (/proc/vmstat oom_kill)")
        return "failed", ("the job's process was killed by signal 9 (SIGKILL) before writing "
                          "its result: by a user, a scheduler, or the kernel's out-of-memory "
                          "killer (its log, dmesg, would tell)")
    if code < 0:
        return "failed", f"the job's process was killed by signal {-code} before writing its result"
    if code == 0:  # a process that never ran the job: nothing it did was recorded
        return "failed", "the job's process ended with exit code 0 without writing a result"
    return "failed", f"the job's process ended with exit code {code} before writing its result"


def run_isolated(job: Job, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    """Run the job in a fresh process; return its record as written."""
    started = time.time()
    kills = oom_kills()
    try:
        code = (_forked if hasattr(os, "fork") else _spawned)(job, output_dir, parallel_jobs)
    except CodeChanging as err:
        fields = {**local.head_fields(job, parallel_jobs), "status": "failed",
                  "error_type": "CodeChanging", "reason": str(err)}
        return local.finish(fields, started, output_dir).model_dump()
    return outcome(job, output_dir, parallel_jobs, code, kills, started)


def outcome(job: Job, output_dir: str | Path, parallel_jobs: int, code: int | None,
            kills: int | None, started: float, **known: Any) -> dict:
    """The record of a job whose process ended with ``code``: as it wrote it, or one saying how
    the process died (``kills``: the kernel's out-of-memory kills before it started; ``known``:
    fields this process knows of the job's environment, for that record)."""
    result = Path(output_dir) / RESULT_FILE
    if code == 0:
        kept = result if result.is_file() else unsaved.find(output_dir)
        if kept is not None:
            return read_result(kept)
        # an exit status 0 without a record: a process that never ran the job (an interpreter
        # of bench.python that ignored it); the failed record below says so
    if code == salvage.PRINTED_EXIT:  # the worker printed its record, having nowhere to
        # write it (it said so): this process could write no better
        return {**local.head_fields(job, parallel_jobs), "status": "failed",
                "error_type": "RecordNotWritten",
                "reason": "no folder could take the job's record: it was printed on stdout"}
    if code == 130:
        raise KeyboardInterrupt
    status, reason = death(code, kills, oom_kills())
    fields = local.head_fields(job, parallel_jobs)
    fields.update(status=status, error_type="WorkerDied", reason=reason, **known)
    return local.finish(fields, started, output_dir).model_dump()
