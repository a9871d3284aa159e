"""Hydra's basic sweeper, resolving every job's configuration before launching any.

Hydra composes each job's config only when its launcher starts it, so a sweep with a bad value in
its last job would run the others first and end with a ``failed`` record. ``CheckedSweeper``
builds the job list as ``BasicSweeper`` does, composes every job's config with Hydra's config
loader and resolves it (``nnbench.cli.check``); the first error ends the command (exit 2) with
one line naming the job's swept values, before the sweep's folder exists. Registered as
``hydra/sweeper: nnbench`` (the default in conf/config.yaml) by ``register``, with the schema.
The class is hydra_plugins.nnbench_sweeper's, ``CheckAllJobs`` over ``BasicSweeper``: Hydra
instantiates plugins only from hydra_plugins, and its plugin scan executes the basic sweeper's
module anew, so the subclass is made where the scan makes it. ``hydra.sweeper.params`` works as
with the basic sweeper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException


class CheckAllJobs:
    """What the basic sweeper gains: every job resolved before the first is launched."""

    hydra_context: Any
    config: Any

    def jobs(self, arguments: list[str]) -> tuple[list[list[str]], set[str]]:
        """Every job's overrides, in launch order, and the keys the sweep varies."""
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        params = self._parse_config()  # type: ignore[attr-defined]
        overrides = parser.parse_overrides([*params, *arguments])
        swept = {o.get_key_element() for o in overrides if o.is_sweep_override()}
        batches = self.split_arguments(overrides, None)  # type: ignore[attr-defined]
        return [job for batch in batches for job in batch], swept

    def check_all(self, arguments: list[str]) -> None:
        from nnbench.cli import launchers
        from nnbench.cli.check import check
        from nnbench.cli.errors import one_line
        from nnbench.errors import ConfigError

        assert self.config is not None and self.hydra_context is not None
        here = launchers.runs_here(self.config.hydra)
        parallel = launchers.parallel_jobs(self.config.hydra)
        jobs, swept = self.jobs(arguments)
        loader = self.hydra_context.config_loader
        for num, overrides in enumerate(jobs, 1):
            try:
                cfg = loader.load_sweep_config(self.config, list(overrides))
                check(cfg, on_this_host=here, parallel_jobs=parallel)
            except (ConfigError, HydraException, OmegaConfBaseException) as err:
                shown = " ".join(o for o in overrides if o.split("=", 1)[0] in swept)
                raise ConfigError(f"job {num} of {len(jobs)}"
                                  f"{f' ({shown})' if shown else ''}: {one_line(err)}") from None

    def sweep(self, arguments: list[str]) -> Any:
        self.check_all(arguments)
        return super().sweep(arguments)  # type: ignore[misc]

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Every job was composed and resolved before the sweep began (``check_all``)."""


@dataclass
class CheckedSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.nnbench_sweeper.CheckedSweeper"


def register() -> None:
    ConfigStore.instance().store(group="hydra/sweeper", name="nnbench", node=CheckedSweeperConf,
                                 provider="nnbench")
