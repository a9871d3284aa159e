"""nnbench's SLURM launcher: hydra-submitit-launcher's, with what a benchmark sweep needs.

``hydra/launcher=slurm`` (conf/hydra/launcher/slurm.yaml) builds on :class:`SlurmConf`, the
plugin's ``submitit_slurm`` settings plus:

- ``exclusive`` (default true): ``#SBATCH --exclusive``, so no other job shares a job's node and
  its clocks; ``hydra.launcher.exclusive=false`` submits without it (the records then say
  whether the job happened to hold its whole node).
- ``signal_delay_s`` (the plugin's, default 120) is shortened to half of ``timeout_min`` less
  60 s when it is longer: SLURM sends its warning, on which submitit ends the job, up to 60 s
  before the delay asks, so a short job would otherwise end as it starts (0: no warning).
- ``stalled_patience_min`` (default 10): how long jobs may wait on a reason that needs an
  administrator (ReqNodeNotAvail, NodeDown, PartitionDown, ...) before the sweep cancels them;
  null waits without end.

and three changes to how the sweep is followed:

- Jobs SLURM will never start (squeue's reason PartitionConfig, PartitionTimeLimit,
  BadConstraints, ...: ``nnbench.slurm.states.never_starts``) are cancelled as soon as
  they are seen, and the sweep ends with :class:`SlurmError` naming the reason, instead of submitit
  polling a job that pends forever. An ``sbatch`` refusal ends it the same way.
- Job states come from ``sacct`` as in submitit, and from ``squeue`` when accounting is disabled:
  submitit would log one "Bypassing sacct error" warning per poll (and sacct print its own
  error), and never learn that a job ended without a result. Here sacct's failure is told once.
- A job that ends without writing its record (killed at its time limit, cancelled, its node
  failed, a signal) gets a ``failed`` record written by the launcher, with SLURM's account of
  what happened (its state, and the signal that ended it, from ``scontrol``'s ExitCode), so
  the sweep's tally and exit status count it like any other failed job; a ``failed`` record the
  job wrote itself as SLURM ended it gets SLURM's account before its reason
  (``nnbench.slurm.ending``).

The plugin class Hydra instantiates is ``hydra_plugins.nnbench_launcher.SlurmLauncher`` (Hydra
only loads launchers from the ``hydra_plugins`` package); the code is here.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as _PluginSlurmLauncher,
)
from omegaconf import OmegaConf, open_dict

from nnbench.slurm import settings, states
from nnbench.slurm.ending import (
    ENDED_BY_SLURM,
    amend_record,
    failed_record_in,
    lost_reason,
    slurm_account,
    write_lost_record,
)
from nnbench.slurm.watch import (
    INCOMPLETE_STATES,
    POLL_MAX_S,
    NeverStarts,
    compact,
    first_line,
    queue_ids,
    queue_watcher,
)

log = logging.getLogger(__name__)

# sbatch(1): "the signal may be sent up to 60 seconds earlier than specified"
SIGNAL_RESOLUTION_S = 60
# how long a job whose task has returned may take to reach its final state (SLURM's KillWait
# after the time limit's SIGTERM is 30 s by default)
FINAL_STATE_WAIT_S = 90

# launcher settings that are nnbench's, not sbatch's
NNBENCH_KEYS = frozenset({"stalled_patience_min"})


@dataclass
class SlurmConf(SlurmQueueConf):
    """The plugin's ``submitit_slurm`` settings plus nnbench's (see the module docstring)."""

    _target_: str = "hydra_plugins.nnbench_launcher.SlurmLauncher"
    # true: #SBATCH --exclusive; "user" or "mcs": --exclusive=user|mcs; false/null: shared nodes
    exclusive: Any = True
    # minutes jobs may pend on a reason only an administrator clears; null: wait without end
    stalled_patience_min: float | None = 10.0


class SlurmError(RuntimeError):
    """SLURM refused the sweep or will never run it; the message is one line for the user."""


def sbatch_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The launcher's settings as submitit's executor takes them: nnbench's own keys removed,
    ``exclusive`` only when it asks for something (submitit would write ``--exclusive=False``)."""
    out = {k: v for k, v in params.items() if k not in NNBENCH_KEYS}
    if out.get("exclusive") in (False, None, "false", "no"):
        out.pop("exclusive", None)
    # SLURM warns a job (SIGUSR2, on which submitit ends it) signal_delay_s before its time
    # limit, and up to SIGNAL_RESOLUTION_S earlier than that: a delay near the limit ends a job
    # as it starts, before submitit can even catch the signal. At most half of what is left
    # leaves the job half its time; 0 sends no warning (the job then ends at its limit).
    timeout, delay = out.get("timeout_min"), out.get("signal_delay_s")
    if timeout and delay is not None:
        longest = max(0, int(timeout * 60 - SIGNAL_RESOLUTION_S) // 2)
        out["signal_delay_s"] = min(int(delay), longest)
    return out


class SlurmSweepLauncher(_PluginSlurmLauncher):
    """hydra-submitit-launcher's SlurmLauncher, following its jobs as the module says."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        settings.check(self.params)  # before sbatch, which would blame the cluster's config
        patience = self.params.get("stalled_patience_min")
        self.stalled_patience_s = None if patience is None else float(patience) * 60
        self.sbatch: dict[str, Any] = sbatch_parameters(self.params)

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit
        from submitit.core.utils import FailedJobError
        from submitit.slurm.slurm import SlurmJob

        assert self.config is not None and len(job_overrides) > 0
        params = self.sbatch = sbatch_parameters(self.params)
        if params.get("signal_delay_s") != self.params.get("signal_delay_s"):
            log.info("signal_delay_s=%s leaves too little of timeout_min=%s before SLURM's "
                     "time-limit warning: signal_delay_s=%s instead", self.params.get(
                         "signal_delay_s"), params["timeout_min"], params["signal_delay_s"])
        init_keys = {"submitit_folder", "max_num_timeout"}
        executor = submitit.AutoExecutor(cluster="slurm", folder=params["submitit_folder"],
                                         slurm_max_num_timeout=params["max_num_timeout"])
        generic = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in generic else f"slurm_{k}": v
                                      for k, v in params.items() if k not in init_keys})
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
        job_params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                               Singleton.get_state()))

        watcher = queue_watcher(delay_s=POLL_MAX_S, stalled_patience_s=self.stalled_patience_s)
        previous, SlurmJob.watcher = SlurmJob.watcher, watcher
        jobs: list[Any] = []
        try:
            try:
                jobs = executor.map_array(self, *zip(*job_params, strict=True))
            except FailedJobError as err:
                lines = [re.sub(r"^sbatch: error: ", "", ln.strip())
                         for ln in str(err).splitlines() if ln.strip()]
                raise SlurmError(f"sbatch refused the sweep: {'; '.join(lines)}") from None
            returns = []
            for job, (overrides, _, idx, _, _) in zip(jobs, job_params, strict=True):
                try:
                    ret = job.results()[0]
                except NeverStarts:
                    raise
                except Exception as err:  # the job ended without handing back its result
                    ret = self._lost_job(job, overrides, idx, err, watcher)
                if ret.status == JobStatus.FAILED:  # the task raised: submitit's time-limit
                    # signal handler does, inside the job
                    ret = self._lost_job(job, overrides, idx, ret._return_value, watcher)
                else:  # a failed record the job wrote as SLURM ended it from outside
                    self._explain(job.job_id, watcher, _output_dir(ret)
                                  or self._job_dir(overrides, idx, job)[0])
                returns.append(ret)
            return returns
        except NeverStarts as never:
            _cancel(jobs)
            waited = f" for {never.how_long_s / 60:.0f} min" if never.how_long_s else ""
            help_ = states.REASON_HELP.get(never.reason)
            raise SlurmError(
                f"SLURM will not start jobs {compact(never.jobs)}: pending{waited} with reason "
                f"{never.reason}" + (f" ({help_})" if help_ else "") + f"; {self._request()}; "
                f"the sweep's jobs were cancelled") from None
        except KeyboardInterrupt:
            _cancel(jobs)
            raise
        finally:
            SlurmJob.watcher = previous

    def _request(self) -> str:
        keys = ("partition", "cpus_per_task", "gpus_per_node", "mem_gb", "timeout_min", "nodes")
        return "requested " + " ".join(f"{k}={self.params.get(k)}" for k in keys
                                       if self.params.get(k) is not None)

    def _job_dir(self, overrides: list[str], idx: int, job: Any) -> tuple[Path, Any]:
        """The job's output folder and its sweep config, as the job itself resolved them."""
        assert self.hydra_context is not None and self.config is not None
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config,
                                                                          list(overrides))
        with open_dict(sweep_config.hydra.job):
            sweep_config.hydra.job.num = idx
            sweep_config.hydra.job.id = job.job_id
        out = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
        return out, sweep_config

    def _explain(self, job_id: str, watcher: Any, out: Path, message: str = "") -> None:
        """SLURM's account before the reason of a failed record the job wrote as SLURM ended it
        (at its time limit the job's workers die of SIGTERM, and the record says only that)."""
        if not failed_record_in(out):
            return
        deadline = time.monotonic() + FINAL_STATE_WAIT_S
        state = watcher.get_state(job_id, mode="force").split()[0].upper()
        while state in INCOMPLETE_STATES and time.monotonic() < deadline:
            time.sleep(1)  # the task returned; SLURM is still ending the job
            state = watcher.get_state(job_id, mode="force").split()[0].upper()
        if state not in ENDED_BY_SLURM:
            return
        account = slurm_account(job_id, state, message, self.sbatch, states.exit_signal(job_id))
        try:
            if account and amend_record(out, account, state):
                log.warning("SLURM job %s: %s", job_id, account)
        except Exception as err:  # the record the job wrote stays as it was
            log.warning("could not add SLURM's account to the record of job %s: %s", job_id, err)

    def _lost_job(self, job: Any, overrides: list[str], idx: int, err: BaseException,
                  watcher: Any) -> JobReturn:
        """A failed record for a job that ended without one; a JobReturn for Hydra."""
        state = watcher.get_state(job.job_id, mode="cache").split()[0].upper()
        message = first_line(str(err))
        reason = lost_reason(job.job_id, state, message, self.sbatch,
                             states.exit_signal(job.job_id))
        out, sweep_config = self._job_dir(overrides, idx, job)
        task_cfg = OmegaConf.masked_copy(sweep_config,
                                         [k for k in sweep_config.keys() if k != "hydra"])
        if (out / "result.json").exists():  # the job wrote its record, then raised
            log.warning("SLURM job %s raised after writing its result: %s", job.job_id, message)
            self._explain(job.job_id, watcher, out, message)
        else:
            log.warning("SLURM job %s: %s", job.job_id, reason)
            try:
                write_lost_record(task_cfg, out, reason, job.job_id, state)
            except Exception as write_err:  # the sweep goes on; the folder stays incomplete
                log.warning("could not write the record of SLURM job %s: %s", job.job_id,
                            write_err)
        ret = JobReturn(overrides=list(overrides), cfg=task_cfg, working_dir=str(out),
                        task_name=str(sweep_config.hydra.job.name))
        ret.status = JobStatus.COMPLETED  # its record (failed) is the result the sweep counts
        ret.return_value = None
        return ret


def _output_dir(ret: JobReturn) -> Path | None:
    """The folder the job wrote to, as its own Hydra config said (handed back with its return)."""
    try:
        return Path(str(ret.hydra_cfg.hydra.runtime.output_dir))  # type: ignore[union-attr]
    except AttributeError:
        return None


def _cancel(jobs: Sequence[Any]) -> None:
    ids = queue_ids([j.job_id for j in jobs])
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)
