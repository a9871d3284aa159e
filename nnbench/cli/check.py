"""Every job's configuration resolved before the first job starts.

A configuration error ends the command with exit status 2 and one line, and leaves no job folder
behind: for a single run, ``ConfigCheck`` resolves the config before Hydra creates the job's
folder; for a sweep, ``CheckedSweeper`` composes and resolves every job's config before it
launches the first. A job's own ``nnbench.run.run`` still resolves its config (a job launched
on another host checks that host's cores there).
"""

from __future__ import annotations

import copy
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from nnbench.errors import ConfigError
from nnbench.job import Job, resolve


def task_config(cfg: DictConfig) -> DictConfig:
    """The job's config as its task function sees it: without Hydra's own node."""
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        task.pop("hydra", None)
    return task


def check(cfg: DictConfig, *, on_this_host: bool = True, parallel_jobs: int = 1) -> Job:
    """Resolve one job's config as Hydra composed it (its ``hydra`` node included); raise
    ``ConfigError`` on what the job would refuse."""
    if "hydra" in cfg:
        HydraConfig.instance().set_config(copy.deepcopy(cfg))  # ${hydra:...} as in the job
    job = resolve(task_config(cfg), on_this_host=on_this_host)
    if parallel_jobs > 1 and not job.bench.allow_parallel:
        raise ConfigError(f"the launcher runs up to {parallel_jobs} jobs side by side on this "
                          f"host, which skews their timings; run them one at a time or set "
                          f"bench.allow_parallel=true")
    return job


class Refused(BaseException):
    """A ``ConfigError`` on its way out of a Hydra callback: Hydra turns an ``Exception`` raised
    there into a warning and goes on, so this one is not an ``Exception``."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


class ConfigCheck(Callback):
    """A single run's config, resolved before Hydra creates the job's folder."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            job = check(config)
            if job.bench.rounds > 1:  # a record would claim rounds that never ran
                raise ConfigError(f"bench.rounds={job.bench.rounds} replicates a sweep in rounds "
                                  f"of fresh processes: add -m (python -m nnbench -m "
                                  f"bench.rounds={job.bench.rounds} ...)")
        except ConfigError as err:
            raise Refused(err) from None
