"""Following a sweep's SLURM jobs: submitit's job-state poller, with squeue beside sacct.

Job states come from ``sacct`` as in submitit, and from ``squeue`` when accounting is disabled
(submitit would log one "Bypassing sacct error" warning per poll, and sacct print its own
error, and never learn that a job ended without a result); sacct's failure is told once. Jobs
pending on a reason SLURM will never clear (``scheduler.never_starts``) end the wait at once;
those pending on a reason only an administrator clears end it after a patience.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from nnbench.slurm import states

log = logging.getLogger("nnbench.slurm.launcher")

# how often, at most, the sweep asks SLURM about its jobs (submitit asks at 2 s, 4 s, 8 s, ...
# after a submission, then at this interval; submitit's own default for SLURM is 600 s)
POLL_MAX_S = 30


class NeverStarts(Exception):
    def __init__(self, jobs: list[str], reason: str, how_long_s: float | None = None) -> None:
        super().__init__(reason)
        self.jobs, self.reason, self.how_long_s = jobs, reason, how_long_s


def queue_ids(job_ids: Sequence[str]) -> list[str]:
    """Array and plain job ids as squeue/sacct take them: 12_3 -> 12, once each."""
    return sorted({j.split("_")[0] for j in job_ids})


def compact(job_ids: Sequence[str]) -> str:
    ids = sorted(set(job_ids), key=lambda j: [int(p) for p in re.findall(r"\d+", j)])
    return ", ".join(ids[:6]) + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")


def first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


# SLURM states after which a job will not run again (sacct may append " by <uid>")
INCOMPLETE_STATES = frozenset({
    "READY", "PENDING", "RUNNING", "UNKNOWN", "REQUEUED", "COMPLETING", "PREEMPTED",
    "CONFIGURING", "SUSPENDED", "STOPPED", "SIGNALING", "RESIZING", "STAGE_OUT", "REQUEUE_HOLD",
    "REQUEUE_FED", "SPECIAL_EXIT", "RESV_DEL_HOLD",
})
GONE = "GONE"  # no longer known to the controller (ended more than MinJobAge ago)


def queue_watcher(**kwargs: Any) -> Any:
    """A ``QueueWatcher`` (what submitit's poller gains, over submitit's ``SlurmInfoWatcher``).
    The class is put together on first use: importing submitit (~0.02 s, asyncio and ssl with
    it) is for a sweep on SLURM, not for every command, whose Hydra imports this module when it
    scans its plugins."""
    global _QUEUE_WATCHER
    if _QUEUE_WATCHER is None:
        from submitit.slurm.slurm import SlurmInfoWatcher

        _QUEUE_WATCHER = type("QueueWatcher", (QueueWatcher, SlurmInfoWatcher),
                              {"__doc__": QueueWatcher.__doc__})
    return _QUEUE_WATCHER(**kwargs)


_QUEUE_WATCHER: type | None = None


class QueueWatcher:
    """submitit's job-state poller, with squeue beside sacct (see the module docstring); used
    mixed into submitit's ``SlurmInfoWatcher`` by ``queue_watcher``, which is where ``read_info``,
    ``get_state`` and the registry of jobs come from."""

    _registered: set
    _finished: set
    _info_dict: dict
    _num_calls: int
    _last_status_check: float

    def __init__(self, delay_s: int = POLL_MAX_S, stalled_patience_s: float | None = None,
                 run: Any = subprocess.run) -> None:
        super().__init__(delay_s=delay_s)
        self.sacct_error: str | None = None
        self.stalled_patience_s = stalled_patience_s
        self._run = run
        self._stalled_since: dict[str, float] = {}
        self._reasons_told: set[str] = set()

    def _call(self, argv: list[str]) -> subprocess.CompletedProcess:
        return self._run(argv, capture_output=True, text=True, timeout=60)

    def _sacct(self, ids: list[str]) -> dict[str, dict[str, str]] | None:
        if self.sacct_error is not None:
            return None
        argv = ["sacct", "-o", "JobID,State,NodeList", "--parsable2"]
        for jid in ids:
            argv += ["-j", jid]
        try:
            done = self._call(argv)
        except (OSError, subprocess.SubprocessError) as err:
            done = subprocess.CompletedProcess(argv, 1, "", str(err))
        if done.returncode != 0:
            self.sacct_error = first_line(done.stderr) or f"exit status {done.returncode}"
            log.warning("sacct is not usable here (%s): following the jobs with squeue",
                        self.sacct_error)
            return None
        return self.read_info(done.stdout)

    def _squeue(self, ids: list[str]) -> dict[str, dict[str, str]] | None:
        argv = ["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%N|%r"]
        try:
            done = self._call(argv)
        except (OSError, subprocess.SubprocessError) as err:
            done = subprocess.CompletedProcess(argv, 1, "", str(err))
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:  # none of them is known any more
                return {}
            log.warning("squeue failed: %s", first_line(done.stderr))
            return None
        text = "JobID|State|NodeList|Reason\n" + done.stdout
        return self.read_info(text)

    def update(self) -> None:
        open_ids = [j for j in self._registered - self._finished]
        if not open_ids:
            return
        self._num_calls += 1
        ids = queue_ids(open_ids)
        accounted = self._sacct(ids)
        queued = self._squeue(ids)
        if accounted is not None:
            self._info_dict.update(accounted)
            for job_id, row in (queued or {}).items():  # pending reasons come from squeue
                self._info_dict.setdefault(job_id, {})["Reason"] = row.get("Reason", "")
        elif queued is not None:
            self._info_dict.update(queued)
            for job_id in open_ids:
                if job_id not in queued:
                    self._info_dict[job_id] = {"JobID": job_id, "State": GONE}
        self._last_status_check = time.time()
        for job_id in self._registered - self._finished:
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)
        if queued:
            self._check_pending(queued)

    def is_done(self, job_id: str, mode: str = "standard") -> bool:
        state = self.get_state(job_id, mode=mode).split()[0].upper()
        return state not in INCOMPLETE_STATES

    def _check_pending(self, queued: dict[str, dict[str, str]]) -> None:
        now = time.time()
        by_reason: dict[str, list[str]] = {}
        for job_id, row in queued.items():
            if row.get("State") == "PENDING" and job_id in self._registered:
                by_reason.setdefault(row.get("Reason", ""), []).append(job_id)
        for reason, jobs in by_reason.items():
            if states.never_starts(reason):
                raise NeverStarts(jobs, reason)
            if reason in states.STALLED_REASONS:
                since = self._stalled_since.setdefault(reason, now)
                if reason not in self._reasons_told:
                    self._reasons_told.add(reason)
                    log.warning("SLURM jobs %s wait: %s (%s)", compact(jobs), reason,
                                states.REASON_HELP.get(reason, "see squeue"))
                patience = self.stalled_patience_s
                if patience is not None and now - since >= patience:
                    raise NeverStarts(jobs, reason, now - since)
        for reason in list(self._stalled_since):
            if reason not in by_reason:
                del self._stalled_since[reason]

