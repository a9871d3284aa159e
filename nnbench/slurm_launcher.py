"""nnbench's SLURM launcher: hydra-submitit-launcher's, with what a benchmark sweep needs.

``hydra/launcher=slurm`` (conf/hydra/launcher/slurm.yaml) builds on :class:`SlurmConf`, the
plugin's ``submitit_slurm`` settings plus:

- ``exclusive`` (default true): ``#SBATCH --exclusive``, so no other job shares a job's node and
  its clocks; ``hydra.launcher.exclusive=false`` submits without it (the records then say
  whether the job happened to hold its whole node).
- ``stalled_patience_min`` (default 10): how long jobs may wait on a reason that needs an
  administrator (ReqNodeNotAvail, NodeDown, PartitionDown, ...) before the sweep cancels them;
  null waits without end.

and three changes to how the sweep is followed:

- Jobs SLURM will never start (squeue's reason PartitionConfig, PartitionTimeLimit,
  BadConstraints, ...: :func:`nnbench.slurm.never_starts`) are cancelled as soon as they are
  seen, and the sweep ends with :class:`SlurmError` naming the reason, instead of submitit
  polling a job that pends forever. An ``sbatch`` refusal ends it the same way.
- Job states come from ``sacct`` as in submitit, and from ``squeue`` when accounting is disabled:
  submitit would log one "Bypassing sacct error" warning per poll (and sacct print its own
  error), and never learn that a job ended without a result. Here sacct's failure is told once.
- A job that ends without writing its record (killed at its time limit, cancelled, its node
  failed) gets a ``failed`` record written by the launcher, with SLURM's account of what
  happened, so the sweep's tally and exit status count it like any other failed job.

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

from nnbench import slurm

log = logging.getLogger(__name__)

# launcher settings that are nnbench's, not sbatch's
NNBENCH_KEYS = frozenset({"stalled_patience_min"})
# how often, at most, the sweep asks SLURM about its jobs (submitit asks at 2 s, 4 s, 8 s, ...
# after a submission, then at this interval; submitit's own default for SLURM is 600 s)
POLL_MAX_S = 30


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


class _NeverStarts(Exception):
    def __init__(self, jobs: list[str], reason: str, how_long_s: float | None = None) -> None:
        super().__init__(reason)
        self.jobs, self.reason, self.how_long_s = jobs, reason, how_long_s


def sbatch_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The launcher's settings as submitit's executor takes them: nnbench's own keys removed,
    ``exclusive`` only when it asks for something (submitit would write ``--exclusive=False``)."""
    out = {k: v for k, v in params.items() if k not in NNBENCH_KEYS}
    if out.get("exclusive") in (False, None, "false", "no"):
        out.pop("exclusive", None)
    return out


def _queue_ids(job_ids: Sequence[str]) -> list[str]:
    """Array and plain job ids as squeue/sacct take them: 12_3 -> 12, once each."""
    return sorted({j.split("_")[0] for j in job_ids})


def _compact(job_ids: Sequence[str]) -> str:
    ids = sorted(set(job_ids), key=lambda j: [int(p) for p in re.findall(r"\d+", j)])
    return ", ".join(ids[:6]) + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


# SLURM states after which a job will not run again (sacct may append " by <uid>")
INCOMPLETE_STATES = frozenset({
    "READY", "PENDING", "RUNNING", "UNKNOWN", "REQUEUED", "COMPLETING", "PREEMPTED",
    "CONFIGURING", "SUSPENDED", "STOPPED", "SIGNALING", "RESIZING", "STAGE_OUT", "REQUEUE_HOLD",
    "REQUEUE_FED", "SPECIAL_EXIT", "RESV_DEL_HOLD",
})
GONE = "GONE"  # no longer known to the controller (ended more than MinJobAge ago)


def _watcher_class() -> type:
    from submitit.slurm.slurm import SlurmInfoWatcher

    class QueueWatcher(SlurmInfoWatcher):
        """submitit's job-state poller, with squeue beside sacct (see the module docstring)."""

        def __init__(self, delay_s: int = POLL_MAX_S, stalled_patience_s: float | None = None,
                     run: Any = subprocess.run) -> None:
            super().__init__(delay_s=delay_s)
            self.sacct_error: str | None = None
            self.stalled_patience_s = stalled_patience_s
            self._run = run
            self._stalled_since: dict[str, float] = {}
            self._reasons_told: set[str] = set()

        def _call(self, argv: list[str]) -> subprocess.CompletedProcess:
            return self._run(argv, capture_output=True, text=True, timeout=60)

        def _sacct(self, ids: list[str]) -> dict[str, dict[str, str]] | None:
            if self.sacct_error is not None:
                return None
            argv = ["sacct", "-o", "JobID,State,NodeList", "--parsable2"]
            for jid in ids:
                argv += ["-j", jid]
            try:
                done = self._call(argv)
            except (OSError, subprocess.SubprocessError) as err:
                done = subprocess.CompletedProcess(argv, 1, "", str(err))
            if done.returncode != 0:
                self.sacct_error = _first_line(done.stderr) or f"exit status {done.returncode}"
                log.warning("sacct is not usable here (%s): following the jobs with squeue",
                            self.sacct_error)
                return None
            return self.read_info(done.stdout)

        def _squeue(self, ids: list[str]) -> dict[str, dict[str, str]] | None:
            argv = ["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%N|%r"]
            try:
                done = self._call(argv)
            except (OSError, subprocess.SubprocessError) as err:
                done = subprocess.CompletedProcess(argv, 1, "", str(err))
            if done.returncode != 0:
                if "Invalid job id" in done.stderr:  # none of them is known any more
                    return {}
                log.warning("squeue failed: %s", _first_line(done.stderr))
                return None
            text = "JobID|State|NodeList|Reason\n" + done.stdout
            return self.read_info(text)

        def update(self) -> None:
            open_ids = [j for j in self._registered - self._finished]
            if not open_ids:
                return
            self._num_calls += 1
            ids = _queue_ids(open_ids)
            accounted = self._sacct(ids)
            queued = self._squeue(ids)
            if accounted is not None:
                self._info_dict.update(accounted)
                for job_id, row in (queued or {}).items():  # pending reasons come from squeue
                    self._info_dict.setdefault(job_id, {})["Reason"] = row.get("Reason", "")
            elif queued is not None:
                self._info_dict.update(queued)
                for job_id in open_ids:
                    if job_id not in queued:
                        self._info_dict[job_id] = {"JobID": job_id, "State": GONE}
            self._last_status_check = time.time()
            for job_id in self._registered - self._finished:
                if self.is_done(job_id, mode="cache"):
                    self._finished.add(job_id)
            if queued:
                self._check_pending(queued)

        def is_done(self, job_id: str, mode: str = "standard") -> bool:
            state = self.get_state(job_id, mode=mode).split()[0].upper()
            return state not in INCOMPLETE_STATES

        def _check_pending(self, queued: dict[str, dict[str, str]]) -> None:
            now = time.time()
            by_reason: dict[str, list[str]] = {}
            for job_id, row in queued.items():
                if row.get("State") == "PENDING" and job_id in self._registered:
                    by_reason.setdefault(row.get("Reason", ""), []).append(job_id)
            for reason, jobs in by_reason.items():
                if slurm.never_starts(reason):
                    raise _NeverStarts(jobs, reason)
                if reason in slurm.STALLED_REASONS:
                    since = self._stalled_since.setdefault(reason, now)
                    if reason not in self._reasons_told:
                        self._reasons_told.add(reason)
                        log.warning("SLURM jobs %s wait: %s (%s)", _compact(jobs), reason,
                                    slurm.REASON_HELP.get(reason, "see squeue"))
                    patience = self.stalled_patience_s
                    if patience is not None and now - since >= patience:
                        raise _NeverStarts(jobs, reason, now - since)
            for reason in list(self._stalled_since):
                if reason not in by_reason:
                    del self._stalled_since[reason]

    return QueueWatcher


class SlurmSweepLauncher(_PluginSlurmLauncher):
    """hydra-submitit-launcher's SlurmLauncher, following its jobs as the module says."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        patience = self.params.get("stalled_patience_min")
        self.stalled_patience_s = None if patience is None else float(patience) * 60

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit
        from submitit.core.utils import FailedJobError
        from submitit.slurm.slurm import SlurmJob

        assert self.config is not None and len(job_overrides) > 0
        params = sbatch_parameters(self.params)
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

        watcher = _watcher_class()(delay_s=POLL_MAX_S,
                                   stalled_patience_s=self.stalled_patience_s)
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
                except _NeverStarts:
                    raise
                except Exception as err:  # the job ended without handing back its result
                    ret = self._lost_job(job, overrides, idx, err, watcher)
                if ret.status == JobStatus.FAILED:  # the task raised: submitit's time-limit
                    # signal handler does, inside the job
                    ret = self._lost_job(job, overrides, idx, ret._return_value, watcher)
                returns.append(ret)
            return returns
        except _NeverStarts as never:
            _cancel(jobs)
            waited = f" for {never.how_long_s / 60:.0f} min" if never.how_long_s else ""
            help_ = slurm.REASON_HELP.get(never.reason)
            raise SlurmError(
                f"SLURM will not start jobs {_compact(never.jobs)}: pending{waited} with reason "
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

    def _lost_job(self, job: Any, overrides: list[str], idx: int, err: BaseException,
                  watcher: Any) -> JobReturn:
        """A failed record for a job that ended without one; a JobReturn for Hydra."""
        assert self.hydra_context is not None and self.config is not None
        state = watcher.get_state(job.job_id, mode="cache").split()[0].upper()
        message = _first_line(str(err))
        timeout = self.params.get("timeout_min")
        if state == "TIMEOUT":
            reason = (f"the SLURM job {job.job_id} reached its time limit "
                      f"(timeout_min={timeout}) before writing its result")
        elif "timed-out" in message:  # submitit's handler of SLURM's warning signal
            reason = (f"the SLURM job {job.job_id} reached its time limit "
                      f"(timeout_min={timeout}; submitit ends a job when SLURM signals it, "
                      f"up to signal_delay_s={self.params.get('signal_delay_s')} s before the "
                      f"limit) before writing its result")
        elif state not in ("UNKNOWN", GONE, "COMPLETED"):
            reason = f"the SLURM job {job.job_id} ended {state} before writing its result"
        else:
            reason = f"the SLURM job {job.job_id} ended without writing its result: {message}"
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config,
                                                                          list(overrides))
        with open_dict(sweep_config.hydra.job):
            sweep_config.hydra.job.num = idx
            sweep_config.hydra.job.id = job.job_id
        out = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
        task_cfg = OmegaConf.masked_copy(sweep_config,
                                         [k for k in sweep_config.keys() if k != "hydra"])
        if (out / "result.json").exists():  # the job wrote its record, then raised
            log.warning("SLURM job %s raised after writing its result: %s", job.job_id, message)
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


def write_lost_record(cfg: Any, output_dir: Path, reason: str, job_id: str, state: str) -> None:
    """The ``failed`` record of a job whose process never wrote one."""
    from nnbench import record as record_module

    try:  # the runner's common fields (framework, device, precision, ...) when it has them
        from nnbench.runner import _base_record

        rec = _base_record(cfg)
    except Exception:
        rec = {"framework": OmegaConf.select(cfg, "framework.name"),
               "device": OmegaConf.select(cfg, "device.name"),
               "precision": OmegaConf.select(cfg, "precision.name")}
    rec.update(status="failed", reason=reason, error_type="SlurmJobEnded",
               scheduler={"name": "slurm", "job": job_id,
                          "state": None if state in INCOMPLETE_STATES else state},
               config=OmegaConf.to_container(cfg, resolve=True), output_dir=str(output_dir),
               wall_time_s=None)
    record_module.write_result(output_dir, rec)


def _cancel(jobs: Sequence[Any]) -> None:
    ids = _queue_ids([j.job_id for j in jobs])
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)
