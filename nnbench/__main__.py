"""``python -m nnbench [overrides]`` runs one job; ``-m`` runs a sweep, one record per job.

Exit status: 0 when every job ended ok, skipped, diverged or oom (those are results); 1 when
any job failed; 2 when the command line or the configuration is rejected before any job runs;
130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM): finished jobs keep their
results, the running one is stopped and leaves an incomplete folder.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nnbench import run
from nnbench.cli import check, console, errors, launchers, tally
from nnbench.config import register_schema
from nnbench.run.isolated import Terminated

register_schema()
_statuses: list[str] = []


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _job(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    parallel = launchers.parallel_jobs(hydra_cfg)
    record = run.run(cfg, hydra_cfg.runtime.output_dir, parallel_jobs=parallel,
                     also_warm=launchers.swept_trainers(hydra_cfg, sys.argv[1:]))
    _statuses.append(record["status"])
    print(console.console_line(record), flush=True)


def _tally() -> str:
    counts = Counter(_statuses)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _terminate(signum: int, frame: object) -> None:
    raise Terminated  # handled as Ctrl-C is: the running job is stopped, finished ones stay


def main() -> int:
    # Hydra prints multi-line reports for bad overrides; let its exceptions reach us instead, and
    # turn them into one line. NNBENCH_TRACEBACK=1 shows the full traceback for debugging.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    signal.signal(signal.SIGTERM, _terminate)
    try:
        _job()
    except SystemExit:
        raise
    except KeyboardInterrupt as interrupt:
        how = "terminated" if isinstance(interrupt, Terminated) else "interrupted"
        print(f"nnbench: {how}; finished jobs keep their results ({_tally() or 'none'})",
              file=sys.stderr)
        return 143 if isinstance(interrupt, Terminated) else 130
    except (Exception, check.Refused) as err:  # anything before or between jobs
        if os.environ.get("NNBENCH_TRACEBACK") == "1":
            raise
        print(f"nnbench: error: {errors.one_line(err)}", file=sys.stderr)
        return 2
    if tally.sweep_statuses:  # a sweep: its records are the truth, wherever jobs ran
        _statuses[:] = tally.sweep_statuses
    if "resumed" in _statuses:
        resumed = _statuses.count("resumed")
        print(f"nnbench: resume: {resumed} job{'s' * (resumed != 1)} already ok, skipped; "
              f"{len(_statuses) - resumed} ran", flush=True)
    if len(_statuses) > 1:
        print(f"nnbench: {len(_statuses)} jobs: {_tally()}", flush=True)
    return 1 if "failed" in _statuses else 0


if __name__ == "__main__":
    sys.exit(main())
