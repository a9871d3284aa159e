"""nnbench's Hydra callbacks: every job's configuration resolved before the first job starts,
and a sweep's statuses and closing lines read from its records.

A configuration error ends the command with exit status 2 and one line, and leaves no job folder
behind: for a single run, ``ConfigCheck`` resolves the config before Hydra creates the job's
folder; for a sweep, ``CheckedSweeper`` composes and resolves every job's config before it
launches the first. A job's own ``nnbench.runner.run`` still resolves its config (a job launched
on another host checks that host's cores there).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from nnbench import unsaved
from nnbench.errors import ConfigError
from nnbench.job import Job, resolve
from nnbench.paths import check_unused
from nnbench.results import sweep_summary


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
    """A single run's config, resolved before Hydra creates the job's folder; a folder named
    with ``hydra.run.dir`` that already holds anything refused (a second run would write over
    the first one's record)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            job = check(config)
            check_unused("hydra.run.dir", config.hydra.run.dir)
            # a record would claim rounds that never ran; auto (the default) asks for as many
            # rounds as the sweep's ratios need, and a single run has none: one
            if job.bench.rounds not in (1, "auto"):
                raise ConfigError(f"bench.rounds={job.bench.rounds} replicates a sweep in rounds "
                                  f"of fresh processes: add -m (python -m nnbench -m "
                                  f"bench.rounds={job.bench.rounds} ...)")
        except ConfigError as err:
            raise Refused(err) from None


class SweepEnded(BaseException):
    """A finished sweep's statuses on their way to the command line. Launchers that run jobs in
    other processes (joblib, submitit) return nothing to the process that started the sweep, so
    the sweep's exit status and tally come from the records themselves; this carries them out of
    Hydra (not an ``Exception``, which Hydra would turn into a warning) instead of a global."""

    def __init__(self, statuses: list[str]) -> None:
        super().__init__(f"{len(statuses)} jobs")
        self.statuses = statuses


def sweep_statuses(sweep_dir: Path) -> list[str]:
    """Each job's status from its record ("resumed" for a job a resume skipped; a record its
    folder could not take is read where it was kept, ``nnbench.runner.salvage``)."""
    statuses = []
    for job in sorted(sweep_dir.iterdir()):
        result, resumed = job / "result.json", job / "resumed.json"
        if not result.is_file() and not resumed.is_file() and job.is_dir():
            result = unsaved.find(job) or result
        if result.is_file():
            try:
                statuses.append(json.loads(result.read_text()).get("status", "failed"))
            except (OSError, ValueError, AttributeError):
                statuses.append("failed")
        elif resumed.is_file():
            statuses.append("resumed")
    return statuses


def pool_earlier(config: DictConfig) -> bool:
    """Whether the closing lines pool earlier sweeps' rounds: with ``bench.rounds=auto`` (the
    answer until sure) and ``bench.pool_earlier``; a set number of rounds is the user's own
    experiment, said on its own."""
    rounds = OmegaConf.select(config, "bench.rounds", default=None)
    return str(rounds) == "auto" and bool(OmegaConf.select(config, "bench.pool_earlier",
                                                           default=False))


class SweepTally(Callback):
    """The sweep's closing lines (the NumPy/torch ratio of each configuration with its
    interval), then its statuses handed to the command line (``SweepEnded``)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        statuses = sweep_statuses(sweep_dir)
        lines: list[str] = []
        # a ratio needs two finished jobs; without them the summary's readers (pandas) are
        # not worth importing: a sweep of skipped jobs ends as soon as it has decided them
        if sum(s in ("ok", "resumed") for s in statuses) >= 2:
            try:
                lines = sweep_summary.ratio_lines(sweep_dir, pool_earlier=pool_earlier(config))
            except Exception as err:  # noqa: BLE001 - a summary must not cost the sweep its status
                lines = [f"no ratio summary: {type(err).__name__}: {err}"]
        for line in lines:
            print(f"nnbench: {line}", flush=True)
        raise SweepEnded(statuses)
