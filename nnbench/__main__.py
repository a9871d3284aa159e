"""``python -m nnbench [overrides]`` runs one job; ``-m`` runs a sweep, one record per job.

Exit status: 0 when every job ended ok, skipped, diverged or oom (those are results); 1 when
any job failed, or a sweep could not go on after its first jobs (a full disk); 2 when the
command line or the configuration is rejected before any job runs; 130 when interrupted
(Ctrl-C), 143 when terminated (SIGTERM): finished jobs keep their results, the running one is
stopped and leaves an incomplete folder. ``--cfg`` prints the
configuration as Hydra composes it, and exits 2 with one line when a run would refuse it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nnbench import runner
from nnbench.cli import console, one_line
from nnbench.hydra import callbacks, launchers, register, shown
from nnbench.hydra.read_once import read_config_files_once
from nnbench.runner.isolated import Terminated


def _tally(statuses: list[str]) -> str:
    counts = Counter(statuses)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _terminate(signum: int, frame: object) -> None:
    raise Terminated  # handled as Ctrl-C is: the running job is stopped, finished ones stay


def main() -> int:
    # Hydra prints multi-line reports for bad overrides; let its exceptions reach us instead, and
    # turn them into one line. NNBENCH_TRACEBACK=1 shows the full traceback for debugging.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    signal.signal(signal.SIGTERM, _terminate)
    register()
    read_config_files_once()  # a command's config files do not change while it runs
    statuses: list[str] = []  # of the jobs run in this process; a sweep's come from its records
    resuming: list[str] = []  # runs_dir of a job run with bench.resume=true in this process
    runs_dirs: list[str] = []  # runs_dir of the jobs run in this process

    @hydra.main(version_base="1.3", config_path="../conf", config_name="config")
    def job(cfg: DictConfig) -> None:
        hydra_cfg = HydraConfig.get()
        record = runner.run(cfg, hydra_cfg.runtime.output_dir,
                            parallel_jobs=launchers.parallel_jobs(hydra_cfg),
                            also_warm=launchers.swept_trainers(hydra_cfg, sys.argv[1:]))
        statuses.append(record["status"])
        if cfg.get("bench", {}).get("resume"):
            resuming[:] = [str(cfg.get("runs_dir"))]
        runs_dirs[:] = [str(cfg.get("runs_dir"))]
        print(console.console_line(record), flush=True)

    try:
        job()
    except SystemExit:
        raise
    except callbacks.SweepEnded as ended:  # a sweep: its records are the truth, wherever jobs ran
        statuses[:] = ended.statuses
    except KeyboardInterrupt as interrupt:
        finished = getattr(interrupt, "finished", None)  # the running job's, if it ended so
        if finished:
            statuses.append(finished)
        how = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"nnbench: {how}; finished jobs keep their results ({_tally(statuses) or 'none'})",
              file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    except (Exception, callbacks.Refused) as err:  # anything before or between jobs
        if os.environ.get("NNBENCH_TRACEBACK") == "1":
            raise
        line = one_line.one_line(err)
        if isinstance(err, OSError) and statuses:  # Hydra writing the next job's folder, say
            line += (f" (writing the next job's folder under runs_dir={runs_dirs[-1]}); "
                     f"finished jobs keep their results ({_tally(statuses)})")
            print(f"nnbench: error: {line}", file=sys.stderr)
            return 1  # the sweep could not go on: no configuration of it was refused (2)
        print(f"nnbench: error: {line}", file=sys.stderr)
        return 2
    if not statuses and shown.asked(sys.argv[1:]):  # --cfg: Hydra printed it; would it run?
        refused = shown.refusal(sys.argv[1:])
        if refused:
            print(f"nnbench: error: a run would refuse this configuration: {refused}",
                  file=sys.stderr)
            return 2
    if "resumed" in statuses:
        resumed = statuses.count("resumed")
        print(f"nnbench: resume: {resumed} job{'s' * (resumed != 1)} already ok, skipped; "
              f"{len(statuses) - resumed} ran", flush=True)
    elif statuses and resuming:
        print(f"nnbench: resume: no job skipped: none of these jobs has an ok result of the "
              f"same config and code under runs_dir={resuming[0]}; {len(statuses)} ran",
              flush=True)
    if len(statuses) > 1:
        print(f"nnbench: {len(statuses)} jobs: {_tally(statuses)}", flush=True)
    return 1 if "failed" in statuses else 0


if __name__ == "__main__":
    sys.exit(main())
