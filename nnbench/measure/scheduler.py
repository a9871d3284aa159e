"""What SLURM gave the job this process runs in: its ids, CPUs, memory, and whether it has the
node to itself.

A job's timings mean something only with the resources it ran on: SLURM may give a job fewer
cores than the machine has (``cpus_per_task``), without binding it to them (``TaskPlugin=task/none``
leaves ``os.sched_getaffinity`` at every core), and unless the job asked for ``--exclusive`` other
jobs may share its node. Everything here reads the job's environment and, for exclusivity, asks
``scontrol``; nothing needs submitit.

This is what the record says about a scheduler, and the one place outside ``nnbench.slurm`` that
names a SLURM command: ``scontrol show`` of the job's own allocation, read-only. Submitting,
watching and ending jobs is ``nnbench.slurm``'s.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping

# A command runner: argv in, stdout out; raises on failure. Replaceable in tests.
Runner = Callable[[list[str]], str]

SCONTROL_TIMEOUT_S = 10


def _scontrol(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True,
                          timeout=SCONTROL_TIMEOUT_S).stdout


def in_job(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs inside a SLURM job (batch script, srun step or salloc)."""
    env = os.environ if env is None else env
    return bool(env.get("SLURM_JOB_ID"))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _tasks_on_node(env: Mapping[str, str]) -> int:
    """Tasks of the job step on this node: SLURM_STEP_TASKS_PER_NODE / SLURM_TASKS_PER_NODE look
    like ``1`` or ``2(x3),1``; the first group is this node's when the node is the first."""
    for key in ("SLURM_NTASKS_PER_NODE", "SLURM_STEP_TASKS_PER_NODE", "SLURM_TASKS_PER_NODE"):
        match = re.match(r"(\d+)", env.get(key, ""))
        if match:
            return int(match.group(1))
    return 1


def allocated_cpus(env: Mapping[str, str] | None = None) -> int | None:
    """CPUs this process may use by its SLURM allocation; None outside SLURM.

    ``SLURM_CPUS_ON_NODE`` is what the job holds on this node (all of the node's CPUs under
    ``--exclusive``); a step of several tasks on the node gets ``SLURM_CPUS_PER_TASK`` each. The
    result is capped by the CPUs the process may run on (``os.sched_getaffinity``), which is
    narrower where SLURM binds tasks to cores.
    """
    env = os.environ if env is None else env
    if not in_job(env):
        return None
    cpus = _int(env.get("SLURM_CPUS_ON_NODE"))
    per_task = _int(env.get("SLURM_CPUS_PER_TASK"))
    if cpus is None:
        cpus = per_task
    elif per_task and _tasks_on_node(env) > 1:
        cpus = min(cpus, per_task)
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        affinity = None
    if cpus is None:
        return affinity
    return min(cpus, affinity) if affinity else cpus


def mem_allocated_mb(env: Mapping[str, str] | None = None) -> int | None:
    """Memory the job holds on this node in MB (``--mem``, or ``--mem-per-cpu`` times its CPUs);
    None outside SLURM or where the job did not ask for memory."""
    env = os.environ if env is None else env
    per_node = _int(env.get("SLURM_MEM_PER_NODE"))
    if per_node is not None:
        return per_node
    per_cpu = _int(env.get("SLURM_MEM_PER_CPU"))
    cpus = _int(env.get("SLURM_CPUS_ON_NODE"))
    if per_cpu is not None and cpus:
        return per_cpu * cpus
    return None


def _fields(text: str) -> dict[str, str]:
    """``scontrol show -o`` output (Key=Value pairs separated by spaces) as a dict."""
    return dict(re.findall(r"(\w[\w/:]*)=(\S*)", text))


def exclusivity(env: Mapping[str, str] | None = None,
                run: Runner | None = None) -> tuple[bool | None, str]:
    """Whether the job has its node to itself, and how that was found out.

    ``scontrol show job``'s ``OverSubscribe=NO`` means the job was submitted with
    ``--exclusive`` (or its partition hands out whole nodes): True. Otherwise the job's CPUs on
    this node are compared with the node's (``scontrol show node``): holding all of them leaves
    no CPU for another job (True); fewer leaves room for others (False). None when scontrol
    cannot say.
    """
    env = os.environ if env is None else env
    run = run or _scontrol
    job_id = env.get("SLURM_JOB_ID")
    if not job_id:
        return None, "not in a SLURM job"
    try:
        job = _fields(run(["scontrol", "show", "job", "-o", job_id]))
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"scontrol show job {job_id} failed: {_first_line(err)}"
    oversubscribe = job.get("OverSubscribe")
    if oversubscribe == "NO":
        return True, "scontrol show job: OverSubscribe=NO (--exclusive)"
    if oversubscribe == "YES":
        return False, "scontrol show job: OverSubscribe=YES (the job may share its CPUs)"
    node = env.get("SLURMD_NODENAME") or (env.get("SLURM_JOB_NODELIST") or "").split(",")[0]
    held = _int(env.get("SLURM_CPUS_ON_NODE"))
    if not node or held is None:
        return None, f"OverSubscribe={oversubscribe}; the job's CPUs on its node are not known"
    try:
        info = _fields(run(["scontrol", "show", "node", "-o", node]))
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"scontrol show node {node} failed: {_first_line(err)}"
    total = _int(info.get("CPUTot"))
    if total is None:
        return None, f"scontrol show node {node} gave no CPUTot"
    how = f"holds {held} of the {total} CPUs of node {node} (OverSubscribe={oversubscribe})"
    if held >= total:
        return True, f"the job {how}"
    return False, f"the job {how}: other jobs may run beside it"


def _first_line(err: BaseException) -> str:
    stderr = getattr(err, "stderr", None)
    text = (stderr if isinstance(stderr, str) and stderr.strip() else str(err)).strip()
    return text.splitlines()[0] if text else type(err).__name__


def scheduler_info(env: Mapping[str, str] | None = None,
                   run: Runner | None = None) -> dict | None:
    """The record's ``scheduler`` block: None outside SLURM, else the job's ids, where it ran and
    what it holds, and whether that is the whole node (``exclusive``: True, False or None, with
    ``exclusive_how`` saying how that was determined)."""
    env = os.environ if env is None else env
    if not in_job(env):
        return None
    array_job, array_task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    exclusive, how = exclusivity(env, run)
    return {
        "name": "slurm",
        "job_id": env["SLURM_JOB_ID"],
        # the id squeue and sacct show for an array task, e.g. 12_3
        "job": f"{array_job}_{array_task}" if array_job and array_task else env["SLURM_JOB_ID"],
        "array_job_id": array_job,
        "array_task_id": _int(array_task),
        "cluster": env.get("SLURM_CLUSTER_NAME"),
        "partition": env.get("SLURM_JOB_PARTITION"),
        "node_list": env.get("SLURM_JOB_NODELIST"),
        "node": env.get("SLURMD_NODENAME"),
        "cpus_allocated": allocated_cpus(env),
        "mem_allocated_mb": mem_allocated_mb(env),
        "exclusive": exclusive,
        "exclusive_how": how,
    }
