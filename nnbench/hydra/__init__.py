"""Hydra's plumbing: what makes ``conf/`` a Hydra application with nnbench's behaviour.

``register`` puts the schema (``nnbench.config``) in Hydra's ConfigStore as ``nnbench_schema``,
the base of ``conf/config.yaml``, with the sweeper it selects (``hydra/sweeper: nnbench``) and the
resolver that names run folders. The callbacks (``callbacks``) resolve every job before the first
starts and read a sweep's statuses from its records; ``launchers`` says what the launcher in use
means for a job's timings. Only this package (and ``nnbench.slurm``) may touch Hydra's internals;
the core never imports it.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from nnbench.config import NNBenchConfig
from nnbench.paths import register_resolver


def register() -> None:
    """Everything ``conf/config.yaml`` needs before Hydra composes it (idempotent): the schema,
    nnbench's sweeper, the run-folder resolver. The command line calls it; so does
    ``nnbench.run`` and anyone composing the config with Hydra's ``compose`` API."""
    from nnbench.hydra.sweeper import register as register_sweeper

    ConfigStore.instance().store(name="nnbench_schema", node=NNBenchConfig)
    register_resolver()
    register_sweeper()
