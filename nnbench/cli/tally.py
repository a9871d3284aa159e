"""A Hydra callback that reads a finished sweep's statuses from its result files.

Launchers that run jobs in other processes (joblib, submitit) return nothing to the process that
started the sweep, so the sweep's exit status and tally come from the records themselves; so do
the lines it ends with, the NumPy/torch ratio of each configuration with its interval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from nnbench.cli import summary

# statuses of the last sweep in this process, filled in on_multirun_end
sweep_statuses: list[str] = []


class SweepTally(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_statuses.clear()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_statuses.clear()
        for job in sorted(Path(str(config.hydra.sweep.dir)).iterdir()):
            result, resumed = job / "result.json", job / "resumed.json"
            if result.is_file():
                try:
                    sweep_statuses.append(json.loads(result.read_text()).get("status", "failed"))
                except (OSError, ValueError):
                    sweep_statuses.append("failed")
            elif resumed.is_file():
                sweep_statuses.append("resumed")
        try:
            lines = summary.ratio_lines(config.hydra.sweep.dir)
        except Exception as err:  # noqa: BLE001 - a summary must not cost the sweep its status
            lines = [f"no ratio summary: {type(err).__name__}: {err}"]
        for line in lines:
            print(f"nnbench: {line}", flush=True)
