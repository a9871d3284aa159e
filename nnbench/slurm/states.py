"""What SLURM's states and reasons mean for a sweep: pending reasons after which SLURM will never
start a job (:func:`never_starts`), what each means in words, and the signal that ended a job.
"""

from __future__ import annotations

import re
import subprocess

from nnbench.measure.scheduler import Runner, _fields, _scontrol

# Pending reasons (squeue %r) after which SLURM will not start the job unless an administrator
# changes the cluster or the job is changed: the request exceeds what the partition's nodes or
# limits allow, or names an account, QOS or dependency that cannot be satisfied. From the
# "JOB REASON CODES" of squeue(1) and https://slurm.schedmd.com/job_reason_codes.html.
NEVER_REASONS = frozenset({
    "PartitionConfig",           # more CPUs/memory/GPUs per node than the partition's nodes have
    "PartitionNodeLimit",        # more (or fewer) nodes than the partition allows
    "PartitionTimeLimit",        # longer than the partition's MaxTime
    "BadConstraints",            # --constraint no node satisfies
    "DependencyNeverSatisfied",
    "InvalidAccount",
    "InvalidQOS",
    "AccountNotAllowed",
    "QOSNotAllowed",
})
# Per-job and per-node maxima (and QOS minima) of an association or QOS that the request breaks,
# e.g. QOSMaxCpuPerJobLimit, AssocMaxWallDurationPerJobLimit, QOSMinCpuNotSatisfied. The
# aggregate and per-user limits (QOSGrp*, QOSMaxJobsPerUserLimit, ...) clear as other jobs end.
_NEVER_PATTERN = re.compile(r"^(Assoc|QOS)Max\w*Per(Job|Node)\w*$|^QOSMin\w+$")
# Reasons that wait for an administrator (a node or partition down or drained, a hold by an
# admin): not hopeless at once, but a sweep should not wait on them without end.
STALLED_REASONS = frozenset({
    "ReqNodeNotAvail", "NodeDown", "PartitionDown", "PartitionInactive", "FrontEndDown",
    "JobHeldAdmin",
})


def never_starts(reason: str) -> bool:
    """Whether a pending job with this squeue reason (%r) will never be started by SLURM."""
    reason = reason.strip()
    return reason in NEVER_REASONS or bool(_NEVER_PATTERN.match(reason))


REASON_HELP = {
    "PartitionConfig": "the job asks for more CPUs, memory or GPUs per node than the "
                       "partition's nodes have",
    "PartitionNodeLimit": "the job asks for a number of nodes the partition does not allow",
    "PartitionTimeLimit": "the job's time limit exceeds the partition's MaxTime",
    "BadConstraints": "no node satisfies the job's constraints",
    "ReqNodeNotAvail": "the nodes the job needs are down, drained or reserved",
    "NodeDown": "a node the job needs is down",
    "PartitionDown": "the partition is down",
    "PartitionInactive": "the partition is inactive",
    "JobHeldAdmin": "an administrator holds the job",
}


def exit_signal(job_id: str, run: Runner | None = None) -> int | None:
    """The signal that ended a finished job, from ``scontrol show job``'s ``ExitCode=<code>:
    <signal>``: the batch shell's signal, or srun's exit status 128 + N when the task it ran died
    of signal N. None when it ended without one or SLURM no longer knows the job (it forgets
    finished jobs after ``MinJobAge``, 300 s by default)."""
    try:
        job = _fields((run or _scontrol)(["scontrol", "show", "job", "-o", job_id]))
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"(\d+):(\d+)", job.get("ExitCode", ""))
    if not match:
        return None
    code, signum = int(match.group(1)), int(match.group(2))
    if signum:
        return signum
    return code - 128 if 128 < code < 128 + 65 else None
