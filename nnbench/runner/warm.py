"""Fresh processes without the start-up bill: one warm process per framework forks each job.

A job runs in a process of its own (as pyperf runs its workers), so that imports, allocator
state and caches left by earlier jobs cannot leak into its timings or memory figures. Starting
that process with ``spawn`` costs an interpreter start and every import (torch: over a
second) per job. Instead, the first job of a framework starts one warm process that imports
nnbench and that framework (``Trainer.preload``) and never runs a job itself; every job of that
framework is a ``fork`` of it: a fresh process with the imports already done. One warm process
per framework keeps a NumPy job's memory free of torch's libraries.

The warm process and each job die with their parent (Linux's parent-death signal), so killing
the command, even with SIGKILL, leaves no job running.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import traceback
from typing import Any

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent ends; end now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent ended before the request took effect
        os._exit(1)


# Signals a scheduler sends the process it started (SLURM's time-limit warning, through
# submitit): that process acts on them; the warm process and its jobs must not die of them.
SCHEDULER_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)


def spawn_context() -> Any:
    """multiprocessing's spawn context, usable inside a launcher's worker too (joblib's loky
    sets its own start method, which a fresh interpreter cannot find)."""
    if multiprocessing.get_start_method(allow_none=True) not in (None, "spawn", "fork",
                                                                 "forkserver"):
        multiprocessing.set_start_method("spawn", force=True)
    return multiprocessing.get_context("spawn")


def _job_process(job: Any, output_dir: str, parallel_jobs: int, warm_pid: int) -> int:
    """The forked job: runs, writes its record, and returns its exit status."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(warm_pid)
    from nnbench.runner import local, salvage

    try:
        local.run_job(job, output_dir, parallel_jobs)
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group; the sweep reports it. The job leaves no
        # result, so the report lists its folder as incomplete and a resume runs it again.
        return 130
    except BaseException:  # run_job records every fault; this is a fault in recording it
        traceback.print_exc()
        return 1
    return salvage.exit_status()


def _serve(conn: Any, target: str, parent_pid: int) -> None:
    """The warm process: import, then fork one job per request until the pipe closes."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the jobs and the sweep
    # the command's own SIGTERM handler came along with its module; here a SIGTERM (the sweep's
    # interpreter ending its daemon processes) ends the process quietly, its job with it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for scheduler_signal in SCHEDULER_SIGNALS:  # inherited by the jobs it forks
        signal.signal(scheduler_signal, signal.SIG_IGN)
    import psutil  # noqa: F401 - the memory probe's, imported where it measures

    from nnbench import data, identity
    from nnbench.frameworks.base import load
    from nnbench.measure.environment import environment
    from nnbench.runner import local  # noqa: F401 - everything a job imports, paid once here

    # a framework's preload that raises costs only the head start: each job imports what it
    # needs itself, and one that cannot says so in its record
    trainer = None
    with contextlib.suppress(Exception):
        trainer = load(target)
        trainer.preload()
    environment()  # the facts that do not change (commit, lock), found once for every job
    # the code this process imported, as its jobs will record it: taken once, here
    identity.code(identity.trainer_file(trainer))
    identity.environment()
    _freeze()
    conn.send(("ready", None))
    datasets: set[str] = set()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        job, output_dir, parallel_jobs = request
        changed = identity.stale()
        if changed:  # its jobs would run the code it imported and record the files' code
            conn.send(("stale", changed))
            return
        # a dataset's imports on its first job, before the fork: the sweep waits for this job
        # and the other warm processes sit idle, so no job is timed meanwhile
        if job.dataset.name not in datasets:
            datasets.add(job.dataset.name)
            with contextlib.suppress(Exception):  # as above: the job finds out for itself
                data.preload(job.dataset)
            _freeze()
        sys.stdout.flush()
        sys.stderr.flush()
        warm_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _job_process(job, output_dir, parallel_jobs, warm_pid)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        conn.send(("started", pid))
        _, status = os.waitpid(pid, 0)
        conn.send(("ended", os.waitstatus_to_exitcode(status)))


@contextlib.contextmanager
def _main_left_out():
    """Start a spawned process without the command's ``__main__`` module: spawn imports it
    again in the child (for ``python -m nnbench``: Hydra, the CLI, ~0.2 s on the way to the
    first job) unless it has neither a spec nor a file, and ``_serve`` needs none of it."""
    main = sys.modules["__main__"]
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _freeze() -> None:
    """Move every object the imports made into the collector's permanent generation: a job's
    collections then walk the job's own objects only, not the ~3x10^5 of torch and nnbench,
    and do not write to (and so copy) the pages it shares with this process. The first
    collection of each forked job had cost ~0.07 s. (No collection first: it would cost the
    warm process 0.15 s to free a little import-time garbage.)"""
    gc.freeze()


class WarmProcess:
    """The warm process of one framework, and the job it is running."""

    def __init__(self, target: str):
        ctx = spawn_context()
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(theirs, target, os.getpid()),
                                   name=f"nnbench-warm-{target.rsplit('.', 1)[-1]}",
                                   daemon=True)
        with _main_left_out():
            self.process.start()
        theirs.close()
        self.job_pid: int | None = None
        self.ready = False
        # the source files that changed since it imported them, when it refused a job for that
        self.stale: list[str] = []

    def wait_ready(self) -> bool:
        """Wait until the warm process has imported everything; False if it died trying."""
        if not self.ready:
            try:
                self.ready = self.conn.recv()[0] == "ready"
            except (EOFError, OSError):
                return False
        return self.ready

    def run(self, job: Any, output_dir: str, parallel_jobs: int) -> int | None:
        """Run one job in a fresh fork; its exit status (negative: killed by that signal), or
        None when the warm process itself is gone."""
        if not self.wait_ready():
            return None
        try:
            self.conn.send((job, output_dir, parallel_jobs))
            said, self.job_pid = self.conn.recv()
            if said == "stale":  # it has ended: its files changed since it imported them
                self.stale, self.job_pid = self.job_pid, None
                return None
            _, code = self.conn.recv()
        except (EOFError, OSError):
            self.job_pid = None
            return None
        self.job_pid = None  # kept only when an interrupt left the job running
        return code

    def stop_job(self, wait_s: float) -> None:
        """After an interrupt: give the job ``wait_s`` to end by itself, then kill it."""
        if self.job_pid is not None and not self.conn.poll(wait_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.job_pid, signal.SIGKILL)
        with contextlib.suppress(EOFError, OSError):
            while self.conn.poll(1):  # drain "ended", so the next job starts clean
                if self.conn.recv()[0] == "ended":
                    break
        self.job_pid = None

    def close(self) -> None:
        self.conn.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()


_warm: dict[str, WarmProcess] = {}


def prestart(targets: list[str]) -> None:
    """Start the warm processes of these frameworks together and wait until all are ready:
    their imports overlap each other, and no job is timed while any of them is importing."""
    started = [warm_process(target) for target in targets]
    for process in started:
        process.wait_ready()


def warm_process(target: str) -> WarmProcess:
    """The warm process of the framework whose trainer is ``target``, started on first use
    (and again if it died)."""
    current = _warm.get(target)
    if current is None or not current.process.is_alive():
        if current is not None:
            current.close()
        current = _warm[target] = WarmProcess(target)
    return current
