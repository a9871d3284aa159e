"""How a SLURM job that SLURM ended is recorded: in SLURM's terms, not the job's.

When SLURM ends a job from outside (its time limit, a cancel, a node failure, a signal), the
job's own process sees only that something died around it: at the time limit the whole step
gets SIGTERM, which submitit's process ignores and nnbench's worker processes do not, and the
job may still write a ``failed`` record saying its worker "was lost". The sweep's parent knows
better: the job's final state (squeue or sacct) and the signal that ended it (``scontrol``'s
ExitCode). This module turns those into the record's reason, for a job that wrote no record
(:func:`lost_reason`, :func:`write_lost_record`) and for one whose own record does not know why
(:func:`amend_record`).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from nnbench.record import RESULT_FILE, read_result, write_result
from nnbench.slurm.watch import GONE, INCOMPLETE_STATES

# final states in which SLURM, not the job, ended the job
ENDED_BY_SLURM = frozenset({"TIMEOUT", "CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY", "DEADLINE",
                            "PREEMPTED", "BOOT_FAIL"})


def slurm_account(job_id: str, state: str, message: str, params: dict[str, Any],
                  signum: int | None) -> str | None:
    """What SLURM says ended the job: its state, the signal that ended it, or submitit's own
    word (``message``) that SLURM's time-limit warning came; None when SLURM says nothing."""
    timeout = params.get("timeout_min")
    delay = params.get("signal_delay_s")
    job = f"the SLURM job {job_id}"
    if state == "TIMEOUT":
        return f"{job} reached its time limit (timeout_min={timeout})"
    if "timed-out" in message:  # submitit's handler of SLURM's warning signal
        return (f"{job} reached its time limit (timeout_min={timeout}; submitit ends a job "
                f"when SLURM signals it, up to signal_delay_s={delay} s before the limit)")
    if signum == signal.SIGUSR2:  # the warning came before submitit's handler was in place
        return (f"{job} was ended by SIGUSR2, the warning SLURM sends signal_delay_s={delay} s "
                f"before the job's time limit (timeout_min={timeout})")
    killed = f" (killed by {signal.Signals(signum).name})" if signum in set(signal.Signals) else ""
    if state not in ("UNKNOWN", GONE, "COMPLETED"):
        return f"{job} ended {state}{killed}"
    return f"{job} ended{killed}" if killed else None


def lost_reason(job_id: str, state: str, message: str, params: dict[str, Any],
                signum: int | None) -> str:
    """Why a job ended without its record."""
    account = slurm_account(job_id, state, message, params, signum)
    if account is None:
        return f"the SLURM job {job_id} ended without writing its result: {message}"
    return f"{account} before writing its result"


def write_lost_record(cfg: Any, output_dir: Path, reason: str, job_id: str, state: str) -> None:
    """The ``failed`` record of a job whose process never wrote one."""
    from nnbench.errors import ConfigError
    from nnbench.job import resolve
    from nnbench.runner import failed_record

    try:
        job = resolve(cfg)
    except ConfigError:  # a record still, with what the config says
        job = None
    failed_record(cfg, output_dir, reason, "SlurmJobEnded", job,
                  scheduler={"name": "slurm", "job_id": job_id,
                             "state": None if state in INCOMPLETE_STATES else state})


def amend_record(output_dir: Path, account: str, state: str) -> bool:
    """Put SLURM's account before the reason of a ``failed`` record the job wrote itself as
    SLURM ended it; an ``ok`` record, or one already amended, stays as it is. True if amended."""
    path = Path(output_dir) / RESULT_FILE
    try:
        record = read_result(path)
    except (OSError, ValueError):
        return False
    reason = str(record.get("reason") or "")
    if record.get("status") != "failed" or reason.startswith(account):
        return False
    record["reason"] = f"{account}: {reason}" if reason else account
    record["scheduler"] = {**(record.get("scheduler") or {"name": "slurm"}), "state": state}
    write_result(output_dir, record)
    return True


def failed_record_in(output_dir: Path) -> bool:
    """Whether the folder holds a ``failed`` record (one SLURM's account may explain)."""
    try:
        return read_result(Path(output_dir) / RESULT_FILE).get("status") == "failed"
    except (OSError, ValueError, AttributeError):
        return False
