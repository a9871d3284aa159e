"""The SLURM launcher's numeric settings checked before anything is submitted.

sbatch refuses a zero CPU count or a negative memory with its own words about the cluster's
configuration ("Batch job submission failed: ..."), which send a user to the wrong place; some
values it takes and then does nothing useful with (a zero ``array_parallelism`` holds every job
of the array forever). Each is refused here with the key, its value and what is allowed.
"""

from __future__ import annotations

from typing import Any

from nnbench.errors import ConfigError

# key: (least value, may it be null (SLURM's or the plugin's default), what it counts)
BOUNDS: dict[str, tuple[float, bool, str]] = {
    "cpus_per_task": (1, True, "CPUs a job gets"),
    "gpus_per_node": (0, True, "GPUs a node gives a job"),
    "gpus_per_task": (0, True, "GPUs a task gets"),
    "cpus_per_gpu": (1, True, "CPUs a GPU gets"),
    "tasks_per_node": (1, False, "tasks a node runs"),
    "nodes": (1, False, "nodes a job spans"),
    "mem_gb": (1, True, "GB of memory a job gets"),
    "timeout_min": (1, False, "minutes a job may run"),
    "array_parallelism": (1, False, "jobs of the sweep running at once"),
    "signal_delay_s": (0, False, "seconds of warning before the time limit"),
    "max_num_timeout": (0, False, "times a job is requeued after its time limit"),
    "stalled_patience_min": (0, True, "minutes jobs may pend on a reason an administrator "
                                      "clears"),
}


def check(params: dict[str, Any]) -> None:
    """Raise ConfigError naming the first setting out of its bounds."""
    for key, (least, nullable, counts) in BOUNDS.items():
        if key not in params:
            continue
        value = params[key]
        allowed = f"a whole number of {counts}, at least {least:g}" + (
            " (or null: the default)" if nullable else "")
        if key == "stalled_patience_min":  # minutes: a fraction is fine
            allowed = allowed.replace("a whole number of", "a number of")
        if value is None:
            if nullable:
                continue
            raise ConfigError(f"hydra.launcher.{key}=null: it must be {allowed}")
        whole = isinstance(value, int) and not isinstance(value, bool)
        number = whole or (isinstance(value, float) and key == "stalled_patience_min")
        if not number or value < least or value != value:
            raise ConfigError(f"hydra.launcher.{key}={value!r} must be {allowed}")
