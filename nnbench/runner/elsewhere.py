"""One job in another environment's interpreter (``bench.python``): a fresh process of it.

The job's resolved configuration goes as JSON on stdin to ``<python> -m nnbench.runner``, which
resolves it again with that environment's libraries (what it can run, skips and a framework's
faults included, is that environment's to say), runs it as a forked job runs, and writes its
record: the versions in it are that environment's own. The process starts with an interpreter
and its imports, which a forked job has done before it starts; neither is timed. Like a forked
job it dies with the command (it asks Linux for its parent's death signal itself), Ctrl-C
reaches it (one process group) and SIGTERM of the command ends it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from nnbench import environments
from nnbench.footprint import oom_kills
from nnbench.job import Job
from nnbench.measure.environment import environment
from nnbench.runner.isolated import Terminated, outcome

MODULE = "nnbench.runner"  # nnbench/runner/__main__.py: one resolved job, its config on stdin


def command(job: Job, output_dir: str | Path, parallel_jobs: int) -> list[str]:
    """The job's process: the other interpreter, run as given (a venv's link kept)."""
    return [environments.absolute(str(job.bench.python)), "-m", MODULE, str(output_dir),
            str(parallel_jobs), str(os.getpid())]


def run_elsewhere(job: Job, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    """Run the job in a process of ``bench.python``; return its record as written."""
    started = time.time()
    kills = oom_kills()
    process = subprocess.Popen(command(job, output_dir, parallel_jobs), stdin=subprocess.PIPE,
                               text=True)
    try:
        process.communicate(json.dumps(job.config))
    except KeyboardInterrupt as interrupt:
        # Ctrl-C reached the job too and it ends by itself; SIGTERM was the command's alone
        try:
            process.wait(timeout=0 if isinstance(interrupt, Terminated) else 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    # a process that died wrote nothing: its record gets the versions its interpreter said
    # when it was checked, not this one's (the lock status, this environment's, is left out)
    known = {"environment": {**environment(), "lock": None,
                             **environments.versions(str(job.bench.python))}}
    return outcome(job, output_dir, parallel_jobs, process.returncode, kills, started, **known)
