"""The sbatch script submitit would submit for a launcher configuration, without a cluster."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

# The submitit launcher's generic keys under the names submitit's sbatch writer uses.
_GENERIC_TO_SLURM = {"name": "job_name", "timeout_min": "time", "tasks_per_node":
                     "ntasks_per_node"}
_NOT_SBATCH = {"_target_", "submitit_folder", "max_num_timeout", "stalled_patience_min"}


def slurm_script(launcher: DictConfig, command: str = "python -m nnbench") -> str:
    """The sbatch script submitit would submit for these launcher settings.

    Translates the launcher config the way submitit does (generic names to sbatch names, memory
    in GB) and renders it with submitit's own sbatch writer, without needing a cluster: for
    checking a configuration before sending a sweep.
    """
    from submitit.slurm.slurm import _make_sbatch_string

    params: dict[str, Any] = OmegaConf.to_container(launcher, resolve=True)  # type: ignore[assignment]
    folder = str(params["submitit_folder"])
    sbatch: dict[str, Any] = {}
    for key, value in params.items():
        if key in _NOT_SBATCH or value is None or (key == "exclusive" and value is False):
            continue
        if key == "mem_gb":
            sbatch["mem"] = f"{value}GB"
        else:
            sbatch[_GENERIC_TO_SLURM.get(key, key)] = value
    return _make_sbatch_string(command=command, folder=folder, **sbatch)
