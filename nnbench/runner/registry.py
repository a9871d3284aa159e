"""Which other nnbench jobs ran on this host while a job ran: what ``exclusive`` can rest on.

A launcher knows about its own jobs only: two sweeps (or two single runs) started side by side
each believe they have the host to themselves, while their clocks measure the contention. So
every job, wherever it runs (``run_job``, in its worker process), keeps an entry in a registry
folder shared by all nnbench jobs on the host while it runs: ``start`` writes it (pid, process
start time, start time, what runs and where) and looks at the entries already there; ``end``
stamps its end time and works out which other jobs overlapped it in time:

- those running when it started (their process alive then, no end stamped);
- those that started while it ran (they were alive at their start, which fell in its run);
- those whose end time falls after its start.

The record then names them in ``overlapping_jobs``, says ``exclusive: false`` and warns. When the
registry cannot be used, ``exclusive`` becomes unknown (null) and the record says why.

Entries stay after their job ends, for jobs that overlapped them and are still running; an entry
no running job can have overlapped is deleted by the next job that looks. The folder is
``$NNBENCH_REGISTRY_DIR``, else ``nnbench-jobs`` in the system's temporary folder (one per host,
shared by its users, sticky like /tmp). Entries of other hosts (a registry on a shared file
system) are ignored: they share no CPU with this job.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnbench.files import owner, pid_alive, write_text

ENV = "NNBENCH_REGISTRY_DIR"
FOLDER = "nnbench-jobs"
SUFFIX = ".job.json"
# An entry of another pid namespace on this host, with no end stamped, cannot be checked for a
# live process; it counts as running for this long after it started.
UNKNOWN_ALIVE_S = 24 * 3600
# Entries of other hosts, or that cannot be read, are deleted after this long.
FORGET_AFTER_S = 7 * 24 * 3600


def folder() -> Path:
    return Path(os.environ.get(ENV) or Path(tempfile.gettempdir()) / FOLDER)


def _ensure(path: Path) -> None:
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    if not os.environ.get(ENV):  # the host's shared folder: everyone adds entries, like /tmp
        with contextlib.suppress(OSError):
            os.chmod(path, 0o777 | stat.S_ISVTX)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (clock ticks since boot), which tells a
    process from a later one given the same pid; None where /proc does not say."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


@dataclass
class Entry:
    name: str
    data: dict[str, Any]

    @property
    def started(self) -> float:
        return float(self.data.get("started") or 0.0)

    @property
    def ended(self) -> float | None:
        ended = self.data.get("ended")
        return float(ended) if ended is not None else None

    def same_host(self) -> bool:
        return self.data.get("host") == socket.gethostname()

    def running(self, now: float) -> bool:
        """No end stamped and its process is (or may be) still there."""
        if self.ended is not None:
            return False
        if self.data.get("owner") != owner():  # another pid namespace: pids say nothing
            return now - self.started < UNKNOWN_ALIVE_S
        pid = int(self.data.get("pid") or 0)
        if pid <= 0 or not pid_alive(pid):
            return False
        known = self.data.get("process_start")
        return known is None or _process_start(pid) in (None, known)

    def summary(self) -> dict[str, Any]:
        def utc(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

        return {"pid": self.data.get("pid"), "job": self.data.get("job"),
                "output_dir": self.data.get("output_dir"), "started_utc": utc(self.started),
                "ended_utc": utc(self.ended)}


def _entries(where: Path, mine: str | None) -> list[Entry]:
    out = []
    for path in where.glob(f"*{SUFFIX}"):
        if path.name == mine:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            with contextlib.suppress(OSError):  # unreadable and old: nobody will need it
                if time.time() - path.stat().st_mtime > FORGET_AFTER_S:
                    path.unlink()
            continue
        out.append(Entry(path.name, data))
    return out


def _prune(where: Path, entries: list[Entry], oldest_running: float, now: float) -> None:
    """Delete entries no running job can have overlapped (best effort: another user's entries
    in a sticky folder are theirs to delete)."""
    for entry in entries:
        if not entry.same_host():
            gone = now - max(entry.started, entry.ended or 0.0) > FORGET_AFTER_S
        elif entry.running(now):
            continue
        else:
            last = entry.ended if entry.ended is not None else entry.started
            gone = last < oldest_running
        if gone:
            with contextlib.suppress(OSError):
                (where / entry.name).unlink()


@dataclass
class Running:
    """A job's entry while it runs, and the jobs that were running when it started."""

    where: Path
    name: str | None
    data: dict[str, Any]
    at_start: dict[str, Entry] = field(default_factory=dict)
    error: str | None = None


def _job_label(job: dict[str, Any]) -> str:
    parts = [job.get(k) for k in ("experiment_name", "framework", "device", "precision", "arch")]
    return " ".join(str(p) for p in parts if p)


def start(output_dir: str | os.PathLike, job: dict[str, Any]) -> Running:
    """Register this process's job (``job``: the record's fields that say what runs) and note
    the jobs running now. Never raises: a registry that cannot be used is said at ``end``."""
    where = folder()
    now = time.time()
    data = {"pid": os.getpid(), "host": socket.gethostname(), "owner": owner(),
            "process_start": _process_start(os.getpid()), "started": now, "ended": None,
            "job": _job_label(job), "output_dir": str(Path(output_dir).absolute())}
    name = f"{owner()}.{os.getpid()}.{time.time_ns()}{SUFFIX}"
    try:
        _ensure(where)
        write_text(where / name, json.dumps(data) + "\n")
        others = [e for e in _entries(where, name) if e.same_host()]
    except OSError as err:
        return Running(where, None, data, error=f"{where}: {err.strerror or err}")
    return Running(where, name, data, {e.name: e for e in others if e.running(now)})


def end(running: Running, fields: dict[str, Any]) -> None:
    """Stamp the job's end, and put into the record's ``fields`` the jobs that overlapped it:
    ``overlapping_jobs``, ``exclusive`` false and a warning naming them. Never raises."""
    warnings = fields.setdefault("warnings", [])
    if running.error is not None or running.name is None:
        if fields.get("exclusive"):
            fields["exclusive"] = None
        warnings.append(f"could not tell whether other nnbench jobs ran on this host meanwhile "
                        f"(job registry {running.error}); exclusive is unknown")
        return
    now = time.time()
    began = running.data["started"]
    try:
        write_text(running.where / running.name, json.dumps({**running.data, "ended": now}) + "\n")
        entries = _entries(running.where, running.name)
    except OSError as err:
        entries = []
        warnings.append(f"job registry {running.where}: {err.strerror or err}; other nnbench "
                        f"jobs that started meanwhile may be missing from overlapping_jobs")
    overlapping = dict(running.at_start)
    for entry in entries:
        if not entry.same_host():
            continue
        started_meanwhile = began <= entry.started <= now
        ended_meanwhile = entry.ended is not None and entry.ended > began and \
            entry.started < now
        if started_meanwhile or ended_meanwhile:
            overlapping[entry.name] = entry
    oldest = min([e.started for e in entries if e.same_host() and e.running(now)] + [now])
    _prune(running.where, entries, oldest, now)
    if not overlapping:
        return
    jobs = sorted((e.summary() for e in overlapping.values()), key=lambda s: s["started_utc"])
    fields["overlapping_jobs"] = jobs
    fields["exclusive"] = False
    # one line however many: the jobs themselves are in overlapping_jobs
    named = ", ".join(f"pid {j['pid']}" for j in jobs[:3]) + \
        (f" and {len(jobs) - 3} more" if len(jobs) > 3 else "")
    warnings.append(f"not exclusive: {len(jobs)} other nnbench job{'s' if len(jobs) > 1 else ''} "
                    f"ran on this host at the same time, sharing its CPUs and memory ({named}; "
                    f"overlapping_jobs names them): run one sweep at a time, or one job at a "
                    f"time (no parallel launcher)")
