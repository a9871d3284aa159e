"""``bench.rounds=N`` with ``-m``: the whole sweep N times, round after round (asv's rounds).

Hydra's BasicSweeper runs the product of the swept keys with the first key as the outermost
loop, the config's ``hydra.sweeper.params`` (an experiment's sweep) before the command line's.
Putting a round key first on the command line is therefore not enough: an experiment's own
keys would still come before it. This sweeper puts ``bench.round=range(N)`` in front of all of
them, so the jobs run round-major: every configuration once (round 0), then all of them again
(round 1), and so on. Each job runs in a fresh process (``bench.isolate``), so the rounds of one
configuration are separate processes spread over the sweep's time: a slow minute of the host
hits every configuration of one round alike, instead of every round of one configuration, and
NumPy and torch are interleaved in time. A launcher that runs every job at once (SLURM arrays,
joblib) keeps the order of submission but not of execution.
"""

from __future__ import annotations

from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf

ROUND_KEY, ROUNDS_KEY = "bench.round", "bench.rounds"


def round_sweep(rounds: int) -> str:
    """The sweep override that makes ``rounds`` rounds."""
    return f"range(0,{rounds})"


class RoundsFirst:
    """What the basic sweeper gains: ``bench.round`` as the outermost loop when
    ``bench.rounds`` > 1 (mixed in before ``BasicSweeper``, see nnbench.cli.sweeper)."""

    config: Any
    hydra_context: Any
    params: Any

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])  # type: ignore[attr-defined]
        swept = {o.key_or_group for o in overrides if o.is_sweep_override()}
        if ROUNDS_KEY in swept:
            raise HydraException(f"{ROUNDS_KEY} is how many rounds the sweep runs, one number "
                                 f"(e.g. {ROUNDS_KEY}=5), not a list of values")
        rounds = OmegaConf.select(self.config, ROUNDS_KEY, default=1)
        if isinstance(rounds, int) and rounds < 1:  # a setting of the sweep, not of one job
            raise HydraException(f"{ROUNDS_KEY}={rounds} must be > 0")
        if isinstance(rounds, int) and rounds > 1:
            if any(o.key_or_group == ROUND_KEY for o in overrides):
                raise HydraException(f"{ROUND_KEY} is set by the sweep when {ROUNDS_KEY} > 1; "
                                     f"set only {ROUNDS_KEY}={rounds}")
            # a dict keeps its insertion order: the round key becomes the outermost loop
            self.params = {ROUND_KEY: round_sweep(rounds), **(self.params or {})}
        return super().sweep(arguments)  # type: ignore[misc]
