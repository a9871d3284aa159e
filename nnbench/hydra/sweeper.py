"""nnbench's sweeper: Hydra's basic sweeper with rounds, every job resolved before any runs.

**Rounds.** Hydra's BasicSweeper runs the product of the swept keys with the first key as the
outermost loop, the config's ``hydra.sweeper.params``
(an experiment's sweep) before the command line's.
Putting a round key first on the command line is therefore not enough: an experiment's own
keys would still come before it. This sweeper puts ``bench.round=range(N)`` in front of all of
them, so the jobs run round-major: every configuration once (round 0), then all of them again
(round 1), and so on. Each job runs in a fresh process (``bench.isolate``), so the rounds of one
configuration are separate processes spread over the sweep's time: a slow minute of the host
hits every configuration of one round alike, instead of every round of one configuration, and
NumPy and torch are interleaved in time. A launcher that runs every job at once (SLURM arrays,
joblib) keeps the order of submission but not of execution.

**Every job checked.**

Hydra composes each job's config only when its launcher starts it, so a sweep with a bad value in
its last job would run the others first and end with a ``failed`` record. ``CheckedSweeper``
builds the job list as ``BasicSweeper`` does, composes every job's config with Hydra's config
loader and resolves it (``nnbench.hydra.callbacks``); the first error ends the command (exit 2) with
one line naming the job's swept values, before the sweep's folder exists. Registered as
``hydra/sweeper: nnbench`` (the default in conf/config.yaml) by ``register``, with the schema.
The class is hydra_plugins.nnbench_sweeper's, ``CheckAllJobs`` over ``BasicSweeper``: Hydra
instantiates plugins only from hydra_plugins, and its plugin scan executes the basic sweeper's
module anew, so the subclass is made where the scan makes it. ``hydra.sweeper.params`` works as
with the basic sweeper.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeperConf
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from nnbench import runner
from nnbench.cli.one_line import one_line
from nnbench.config import check_rounds
from nnbench.errors import ConfigError
from nnbench.hydra import launchers
from nnbench.hydra.callbacks import check
from nnbench.paths import check_unused

ROUND_KEY, ROUNDS_KEY = "bench.round", "bench.rounds"


def round_sweep(rounds: int) -> str:
    """The sweep override that makes ``rounds`` rounds."""
    return f"range(0,{rounds})"



def repeated_value(overrides: list[Any]) -> str | None:
    """A swept key that lists one value twice (``framework=numpy,numpy``), in one line: its jobs
    would be one job run twice under the same round index, which the report would pool as two
    rounds. Refused rather than kept apart later: a second identical job measures nothing the
    first does not, and repeats have their own key (``bench.rounds``), which gives each its
    round. Values compare as Hydra parses them (0.1 and 0.10 are one value); the last override
    of a key is the one the sweep uses."""
    last = {o.get_key_element(): o for o in overrides}
    for key, override in last.items():
        if not (override.is_sweep_override() and override.is_discrete_sweep()):
            continue
        values = list(override.sweep_iterator())
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:
            listed = ",".join(override.sweep_string_iterator())
            return (f"{key}={listed} lists {twice} twice: its jobs would run twice as one round "
                    f"and pool as two; list each value once (bench.rounds=N runs every job N "
                    f"times, each its own round)")
    return None


def first_of_each_framework(jobs: list[list[str]]) -> list[int]:
    """The indices of the first job of each swept ``framework=`` value, in the sweep's order
    (the first job alone when the sweep does not vary the framework)."""
    seen: set[str] = set()
    first = [0] if jobs else []
    for index, overrides in enumerate(jobs):
        chosen = next((o for o in overrides if o.split("=", 1)[0] == "framework"), None)
        if chosen is not None and chosen not in seen:
            seen.add(chosen)
            if index not in first:
                first.append(index)
    return first


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
        twice = repeated_value(overrides)
        if twice:
            raise ConfigError(twice)
        swept = {o.get_key_element() for o in overrides if o.is_sweep_override()}
        batches = self.split_arguments(overrides, None)  # type: ignore[attr-defined]
        return [job for batch in batches for job in batch], swept

    def check_all(self, arguments: list[str]) -> int:
        """Compose and check the jobs (the first round's), and the sweep's folder new or empty
        (one named with ``hydra.sweep.dir`` may hold an earlier sweep, whose job folders this
        one would reuse); the number of jobs in the sweep. ``ConfigError`` on the first fault."""
        assert self.config is not None and self.hydra_context is not None
        here = launchers.runs_here(self.config.hydra)
        parallel = launchers.parallel_jobs(self.config.hydra)
        jobs, swept = self.jobs(arguments)
        # rounds differ only in bench.round, which the sweep sets within bounds: the first
        # round's jobs (the first ones, rounds being the outermost loop) stand for every round
        checked = [i for i, job in enumerate(jobs) if f"{ROUND_KEY}=0" in job
                   or ROUND_KEY not in swept]
        if len(checked) > 20:  # about 0.1 s a job: say what the wait is for
            print(f"nnbench: checking the {len(checked)} jobs of the sweep before the first "
                  f"starts", file=sys.stderr, flush=True)
        loader = self.hydra_context.config_loader
        self.composed: dict[tuple[str, ...], Any] = {}
        faults: dict[int, BaseException] = {}

        def check_one(index: int) -> None:
            overrides = jobs[index]
            try:
                cfg = loader.load_sweep_config(self.config, list(overrides))
                self.composed[tuple(overrides)] = copy.deepcopy(cfg)  # before check reads it
                job = check(cfg, on_this_host=here, parallel_jobs=parallel)
            except (ConfigError, HydraException, OmegaConfBaseException) as err:
                faults[index] = err
                return
            if here and parallel == 1:
                runner.warm_up_for(job)

        # the first job of each framework first: its warm process (torch's takes ~2 s to
        # import) starts after one composition instead of after every job before it; the first
        # fault in the sweep's order is still the one reported
        scouts = first_of_each_framework(jobs)
        for index in scouts:
            check_one(index)
        for index in checked:
            overrides = jobs[index]
            if index not in scouts:
                check_one(index)
            if index in faults:
                shown = " ".join(o for o in overrides if o.split("=", 1)[0] in swept)
                raise ConfigError(f"job {index + 1} of {len(jobs)}"
                                  f"{f' ({shown})' if shown else ''}: "
                                  f"{one_line(faults[index])}") from None
        # after the jobs: a runs_dir that cannot name the folder is said as the jobs' fault
        check_unused("hydra.sweep.dir", self.config.hydra.sweep.dir)
        return len(jobs)

    def sweep(self, arguments: list[str]) -> Any:
        jobs = self.check_all(arguments)
        batch = getattr(self, "max_batch_size", None) or jobs  # a round at a time when auto
        workers = launchers.cap_workers(getattr(self, "launcher", None), min(jobs, batch))
        with self._composed_once(workers):
            return super().sweep(arguments)  # type: ignore[misc]

    @contextlib.contextmanager
    def _composed_once(self, workers: int | None = None):
        """The launcher composes each job's config again (0.1-0.2 s a job, most of what a
        skipped job costs): hand it the one ``check_all`` composed instead, a copy taken before
        anything read it; any other (a later round's) is composed as before. ``workers``: the
        joblib workers the sweep runs (``cap_workers``), which each job's record counts."""
        loader = self.hydra_context.config_loader
        compose = loader.load_sweep_config

        def load_sweep_config(master_config: Any, sweep_overrides: list[str]) -> Any:
            done = self.composed.pop(tuple(sweep_overrides), None)
            if done is None:
                done = compose(master_config, sweep_overrides)
            else:
                # the resolvers' cache (the sweep folder's time stamp) as Hydra hands it on: a
                # copy of the config does not carry it, and each job would name a folder anew
                OmegaConf.copy_cache(from_config=master_config, to_config=done)
            if workers is not None:
                with open_dict(done.hydra.launcher):
                    done.hydra.launcher.n_jobs = workers
            return done

        loader.load_sweep_config = load_sweep_config
        try:
            yield
        finally:
            del loader.load_sweep_config  # the class's method again

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Every job was composed and resolved before the sweep began (``check_all``)."""


class RoundsFirst:
    """What the basic sweeper gains: ``bench.round`` as the outermost loop when
    ``bench.rounds`` > 1 (mixed in before ``BasicSweeper``, see nnbench.hydra.sweeper); with
    ``bench.rounds=auto``, one round per batch until every ratio is known (``is_done``)."""

    config: Any
    hydra_context: Any
    params: Any
    max_batch_size: int | None
    batch_index: int
    auto: dict | None = None  # target_ci, max_rounds and the sweep folder of an auto sweep

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])  # type: ignore[attr-defined]
        swept = {o.key_or_group for o in overrides if o.is_sweep_override()}
        if ROUNDS_KEY in swept:
            raise HydraException(f"{ROUNDS_KEY} is how many rounds the sweep runs, one number "
                                 f"(e.g. {ROUNDS_KEY}=5) or auto, not a list of values")
        # a setting of the sweep, checked before its rounds' jobs are listed (all at once)
        check_rounds(self.config.bench)
        rounds = OmegaConf.select(self.config, ROUNDS_KEY, default=1)
        per_round = len(self.jobs(arguments)[0]) if rounds == "auto" else 0  # type: ignore[attr-defined]
        if rounds == "auto":
            rounds = OmegaConf.select(self.config, "bench.max_rounds")
            self.auto = {"target": OmegaConf.select(self.config, "bench.target_ci"),
                         "max_rounds": rounds, "dir": str(self.config.hydra.sweep.dir),
                         "budget": OmegaConf.select(self.config, "bench.budget_s"),
                         "start": time.monotonic()}
        if isinstance(rounds, int) and rounds > 1:
            if any(o.key_or_group == ROUND_KEY for o in overrides):
                raise HydraException(f"{ROUND_KEY} is set by the sweep when {ROUNDS_KEY} > 1; "
                                     f"set only {ROUNDS_KEY}={rounds}")
            # a dict keeps its insertion order: the round key becomes the outermost loop
            self.params = {ROUND_KEY: round_sweep(rounds), **(self.params or {})}
        if self.auto is not None:  # one batch per round, so that the rounds can stop
            self.max_batch_size = max(per_round, 1)
        return super().sweep(arguments)  # type: ignore[misc]

    def is_done(self) -> bool:
        done = super().is_done()  # type: ignore[misc]
        if self.auto is None or self.batch_index < 1:
            return done
        from nnbench.results.sweep_summary import rounds_state
        from nnbench.stats.stopping import stop_reason, widest

        widths, busy = rounds_state(self.auto["dir"])
        rounds, spent = self.batch_index, time.monotonic() - self.auto["start"]
        if rounds > 1:
            print(f"nnbench: round {rounds}: widest ratio interval {widest(widths)} "
                  f"(target ±{self.auto['target']:.1%}, {spent:.0f} s)", flush=True)
        reason = stop_reason([w for _, w in widths], rounds, self.auto["target"], done,
                             spent, self.auto["budget"],
                             lambda: _round_s(self.auto["dir"], spent), busy)  # type: ignore[index]
        if reason is None:
            return False
        _write_stop(Path(self.auto["dir"]), rounds, reason, widths, self.auto["target"])
        return True


def _round_s(sweep_dir: str, spent: float) -> float:
    """What a further round will take: the first round's jobs' own wall times, less than its
    ``spent`` by the warm processes' start (imports, once a sweep); ``spent`` without them."""
    total = 0.0
    for path in Path(sweep_dir).glob("*/result.json"):
        try:
            total += float(json.loads(path.read_text()).get("wall_time_s") or 0)
        except (OSError, ValueError, TypeError):
            return spent
    return min(total, spent) if total > 0 else spent


def _write_stop(sweep_dir: Path, rounds: int, reason: str, widths: list, target: float) -> None:
    """Why an auto sweep's rounds stopped, beside its jobs (the report reads it)."""
    from nnbench.files import write_text

    print(f"nnbench: rounds stopped: {reason}", flush=True)
    write_text(sweep_dir / "rounds.json", json.dumps(
        {"rounds": rounds, "reason": reason, "target_ci": target,
         "widths": {label: (None if w != w else w) for label, w in widths}},
        indent=1, ensure_ascii=False) + "\n")


@dataclass
class CheckedSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.nnbench_sweeper.CheckedSweeper"


def register() -> None:
    """``hydra/sweeper: nnbench``, the sweeper conf/config.yaml selects."""
    ConfigStore.instance().store(group="hydra/sweeper", name="nnbench", node=CheckedSweeperConf,
                                 provider="nnbench")
