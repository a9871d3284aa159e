"""What the Hydra launcher in use means for a job's timings, and SLURM scripts as submitted.

Jobs launched side by side on one host (joblib, or submitit's local executor with more than one
job at a time) share its cores and memory bandwidth, so their clocks measure contention as well
as work. Their records say ``exclusive: false``; timing sweeps refuse such launchers unless
``bench.allow_parallel=true``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nnbench.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def parallel_jobs(hydra_cfg: DictConfig | None) -> int:
    """How many jobs of this sweep may run at once on this host (1 = exclusive)."""
    if hydra_cfg is None:
        return 1
    launcher = hydra_cfg.runtime.choices.get("hydra/launcher") or "basic"
    params = hydra_cfg.launcher
    if "joblib" in launcher:
        return joblib_workers(params.get("n_jobs", -1))
    if launcher == "submitit_local":
        # submitit's local executor starts every job of the sweep at once; the sweep's size is
        # not known to a job, so "at least two" is what can be said.
        return 2
    return 1  # basic runs jobs one after another; a cluster gives each job its own allocation


def joblib_workers(n_jobs: int | None, jobs: int | None = None) -> int:
    """How many worker processes joblib's launcher is to start for ``n_jobs`` (joblib's: -1 every
    core, -2 all but one, None one): no more than the cores, where more would only queue for
    them, nor than the ``jobs`` of a batch, where loky would start the rest idle."""
    from nnbench.measure.threads import available_cores

    if n_jobs == 0:
        raise ConfigError("hydra.launcher.n_jobs=0 runs no job; allowed: how many jobs run at "
                          "once, at least 1, or -1 (one per core)")
    cores = available_cores()
    wanted = 1 if n_jobs is None else cores + 1 + int(n_jobs) if n_jobs < 0 else int(n_jobs)
    return max(1, min(wanted, cores, jobs or wanted))


def cap_workers(launcher: object, jobs: int) -> int | None:
    """joblib's launcher starts ``n_jobs`` workers whatever the sweep's size (100000 asked for
    two jobs spawned workers for minutes, and none ran): its setting capped as
    ``joblib_workers`` says, before its first batch; the workers, or None for another
    launcher, left as it is."""
    params = getattr(launcher, "joblib", None)  # hydra_joblib_launcher keeps its settings here
    if not isinstance(params, dict):
        return None
    params["n_jobs"] = joblib_workers(params.get("n_jobs", -1), jobs)
    return params["n_jobs"]


def swept_trainers(hydra_cfg: DictConfig | None, argv: list[str]) -> list[str]:
    """The trainer classes (``_target_``) of the frameworks a sweep names, on its command line
    or in its experiment's sweeper params, where conf/framework/ has their YAML: so that their
    warm processes can start together, before the first job."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    texts = [a for a in argv if "=" in a and not a.startswith("-")]
    if hydra_cfg is not None:
        params = hydra_cfg.sweeper.get("params") or {}
        texts += [f"{key}={value}" for key, value in params.items()]
    try:
        overrides = OverridesParser.create().parse_overrides(texts)
    except Exception:  # noqa: BLE001 - Hydra has reported what it could not parse
        return []
    names: list[str] = []
    for override in overrides:
        if override.key_or_group != "framework":
            continue
        values = list(override.sweep_string_iterator()) if override.is_sweep_override() \
            else [override.value()]
        names += [str(v) for v in values if str(v) not in names]
    targets = []
    for name in names:
        yaml = CONF_DIR / "framework" / f"{name}.yaml"
        target = OmegaConf.load(yaml).get("_target_") if yaml.is_file() else None
        if target:
            targets.append(str(target))
    return targets


def runs_here(hydra_cfg: DictConfig | None) -> bool:
    """Whether the launcher runs the jobs on this host (what its cores allow then holds)."""
    if hydra_cfg is None:
        return True
    launcher = hydra_cfg.runtime.choices.get("hydra/launcher") or "basic"
    return launcher in ("basic", "submitit_local") or "joblib" in launcher
