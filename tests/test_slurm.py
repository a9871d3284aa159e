"""SLURM: what a job learns about its allocation, and sweeps through hydra/launcher=slurm on a
real one-node cluster (scripts/local_slurm.sh, from Debian's slurmctld, slurmd, slurm-client and
munge packages).

The cluster tests are marked ``slurm``; without the packages they are skipped, unless
NNBENCH_REQUIRE_SLURM=1 (CI), which turns their absence into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from helpers import CONF, REPO, run_cli, start_cli

from nnbench.measure import scheduler as slurm
from nnbench.slurm import states

SCRIPT = REPO / "scripts" / "local_slurm.sh"
REQUIRE = os.environ.get("NNBENCH_REQUIRE_SLURM") == "1"
PACKAGES = "apt-get install slurmctld slurmd slurm-client munge"


# --- what a job learns about its allocation (no cluster needed) -------------------------------

# the environment of array task 3_0 on a 2-CPU node, as seen inside a job of the local cluster
JOB_ENV = {
    "SLURM_JOB_ID": "4", "SLURM_ARRAY_JOB_ID": "3", "SLURM_ARRAY_TASK_ID": "0",
    "SLURM_JOB_NODELIST": "vm", "SLURMD_NODENAME": "vm", "SLURM_JOB_PARTITION": "debug",
    "SLURM_CLUSTER_NAME": "nnbench", "SLURM_CPUS_ON_NODE": "1", "SLURM_CPUS_PER_TASK": "1",
    "SLURM_NTASKS": "1", "SLURM_TASKS_PER_NODE": "1", "SLURM_MEM_PER_NODE": "1024",
}


def scontrol(oversubscribe: str, node_cpus: int = 2):
    def run(argv: list[str]) -> str:
        if argv[:3] == ["scontrol", "show", "job"]:
            return (f"JobId={argv[-1]} ArrayJobId=3 ArrayTaskId=0 JobState=RUNNING "
                    f"NumNodes=1 NumCPUs=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* "
                    f"OverSubscribe={oversubscribe} Contiguous=0\n")
        if argv[:3] == ["scontrol", "show", "node"]:
            return f"NodeName={argv[-1]} Arch=x86_64 CPUAlloc=2 CPUEfctv={node_cpus} " \
                   f"CPUTot={node_cpus} RealMemory=24105\n"
        raise AssertionError(argv)

    return run


def test_outside_slurm_there_is_no_scheduler_block():
    assert slurm.scheduler_info(env={}) is None
    assert slurm.allocated_cpus(env={}) is None


def test_a_shared_allocation_is_not_exclusive_and_says_why():
    info = slurm.scheduler_info(env=JOB_ENV, run=scontrol("OK"))
    assert info["job_id"] == "4" and info["job"] == "3_0" and info["array_task_id"] == 0
    assert info["partition"] == "debug" and info["node_list"] == "vm"
    assert info["cpus_allocated"] == 1 and info["mem_allocated_mb"] == 1024
    assert info["exclusive"] is False
    assert "1 of the 2 CPUs" in info["exclusive_how"]


def test_an_exclusive_job_is_exclusive():
    env = {**JOB_ENV, "SLURM_CPUS_ON_NODE": "2"}
    assert slurm.exclusivity(env, scontrol("NO")) == (
        True, "scontrol show job: OverSubscribe=NO (--exclusive)")
    # a job holding every CPU of its node leaves none to another job, flag or not
    exclusive, how = slurm.exclusivity(env, scontrol("OK"))
    assert exclusive is True and "2 of the 2 CPUs" in how


def test_exclusivity_is_unknown_when_scontrol_fails():
    def failing(argv):
        raise subprocess.CalledProcessError(1, argv, stderr="scontrol: error: not reachable\n")

    exclusive, how = slurm.exclusivity(JOB_ENV, failing)
    assert exclusive is None and "not reachable" in how


def test_allocated_cpus_follow_the_allocation_not_the_machine():
    cores = len(os.sched_getaffinity(0))
    assert slurm.allocated_cpus({**JOB_ENV, "SLURM_CPUS_ON_NODE": "1"}) == 1
    # never more than this process may run on
    assert slurm.allocated_cpus({**JOB_ENV, "SLURM_CPUS_ON_NODE": str(cores + 8)}) == cores
    # several tasks on the node: each has its cpus_per_task
    many = {**JOB_ENV, "SLURM_CPUS_ON_NODE": "8", "SLURM_CPUS_PER_TASK": "1",
            "SLURM_TASKS_PER_NODE": "4(x2)"}
    assert slurm.allocated_cpus(many) == 1


def test_the_signal_that_ended_a_job_is_read_from_its_exit_code():
    def show(exit_code):
        return lambda argv: f"JobId={argv[-1]} JobState=FAILED Reason=JobLaunchFailure " \
                            f"ExitCode={exit_code} DerivedExitCode=0:0\n"

    assert states.exit_signal("8", show("0:12")) == 12  # the batch shell died of SIGUSR2
    assert states.exit_signal("8", show("140:0")) == 12  # srun: its task died of SIGUSR2
    assert states.exit_signal("8", show("1:0")) is None  # exit status 1, no signal
    assert states.exit_signal("8", show("")) is None

    def forgotten(argv):
        raise subprocess.CalledProcessError(1, argv, stderr="Invalid job id specified\n")

    assert states.exit_signal("8", forgotten) is None


def test_a_warning_delay_that_would_end_a_short_job_as_it_starts_is_shortened():
    from nnbench.slurm.launcher import sbatch_parameters

    def delay(timeout_min, signal_delay_s=120):
        return sbatch_parameters({"timeout_min": timeout_min,
                                  "signal_delay_s": signal_delay_s})["signal_delay_s"]

    # SLURM sends the warning up to 60 s early: at most half of the limit less 60 s
    assert delay(1) == 0  # no warning: the job ends at its limit
    assert delay(2) == 30 and delay(4) == 90
    assert delay(5) == 120 and delay(60) == 120 and delay(60, 30) == 30


@pytest.mark.parametrize("state, message, signum, says", [
    ("TIMEOUT", "has not produced any output", None,
     "reached its time limit (timeout_min=1)"),
    ("FAILED", "Job not requeued because: timed-out and not checkpointable.", None,
     "reached its time limit (timeout_min=1; submitit ends a job"),
    # SLURM's warning before submitit's handler was in place: the process died of it
    ("FAILED", "Job 8 (task: 0) has not produced any output (state: FAILED)", 12,
     "was ended by SIGUSR2, the warning SLURM sends signal_delay_s=30 s before the job's "
     "time limit (timeout_min=1)"),
    ("FAILED", "has not produced any output", 9, "ended FAILED (killed by SIGKILL) before"),
    ("CANCELLED", "has not produced any output", None, "ended CANCELLED before"),
    ("UNKNOWN", "the node went away", None, "ended without writing its result: the node"),
])
def test_a_lost_job_is_explained_in_slurms_terms(state, message, signum, says):
    from nnbench.slurm.ending import lost_reason

    reason = lost_reason("8", state, message, {"timeout_min": 1, "signal_delay_s": 30}, signum)
    assert reason.startswith("the SLURM job 8 ") and says in reason


def test_a_record_the_job_wrote_as_slurm_ended_it_gets_slurms_account(tmp_path):
    from nnbench.record import write_result
    from nnbench.slurm.ending import amend_record

    lost = "the job's process was lost with the process it was started from"
    write_result(tmp_path / "timed-out", {"status": "failed", "reason": lost,
                                          "scheduler": {"name": "slurm", "job_id": "1_0"}})
    account = "the SLURM job 1_0 reached its time limit (timeout_min=1)"
    assert amend_record(tmp_path / "timed-out", account, "TIMEOUT")
    rec = json.loads((tmp_path / "timed-out" / "result.json").read_text())
    assert rec["reason"] == f"{account}: {lost}"
    assert rec["scheduler"] == {"name": "slurm", "job_id": "1_0", "state": "TIMEOUT"}
    assert not amend_record(tmp_path / "timed-out", account, "TIMEOUT")  # once only
    # a job that finished its record before SLURM ended it keeps it as it is
    write_result(tmp_path / "ok", {"status": "ok", "framework": "numpy"})
    assert not amend_record(tmp_path / "ok", account, "TIMEOUT")
    assert not amend_record(tmp_path / "none", account, "TIMEOUT")


@pytest.mark.parametrize("reason, never", [
    ("PartitionConfig", True), ("PartitionTimeLimit", True), ("BadConstraints", True),
    ("QOSMaxCpuPerJobLimit", True), ("AssocMaxWallDurationPerJobLimit", True),
    ("Resources", False), ("Priority", False), ("JobArrayTaskLimit", False),
    ("QOSMaxJobsPerUserLimit", False), ("QOSGrpCpuLimit", False), ("ReqNodeNotAvail", False),
])
def test_which_pending_reasons_mean_never(reason, never):
    assert states.never_starts(reason) is never


def test_exclusive_is_asked_for_by_default_and_can_be_turned_off():
    from hydra import compose, initialize_config_dir

    from nnbench.slurm.script import slurm_script

    def launcher(*overrides):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("config", overrides=["hydra/launcher=slurm", *overrides],
                           return_hydra_config=True).hydra.launcher

    assert "#SBATCH --exclusive" in slurm_script(launcher()).splitlines()
    script = slurm_script(launcher("hydra.launcher.exclusive=false"))
    assert "exclusive" not in script and "stalled_patience" not in script


class _Run:
    """subprocess.run for the watcher: sacct fails as it does without accounting, squeue
    answers with the given lines."""

    def __init__(self, squeue_lines: list[str]):
        self.squeue_lines, self.calls = squeue_lines, []

    def __call__(self, argv, **kwargs):
        self.calls.append(argv[0])
        if argv[0] == "sacct":
            return subprocess.CompletedProcess(argv, 1, "", "Slurm accounting storage is "
                                                            "disabled\n")
        return subprocess.CompletedProcess(argv, 0, "\n".join(self.squeue_lines) + "\n", "")


def test_without_accounting_jobs_are_followed_with_squeue_and_sacct_is_told_once(caplog):
    from nnbench.slurm.watch import GONE, queue_watcher

    run = _Run(["7_0|COMPLETED|vm|None", "7_1|TIMEOUT|vm|TimeLimit",
                "7_[2-3%4]|PENDING||Resources"])
    watcher = queue_watcher(run=run)
    for job in ("7_0", "7_1", "7_2", "7_3", "7_4"):
        watcher.register_job(job)
    with caplog.at_level("WARNING"):
        watcher.update()
        watcher.update()
    assert run.calls == ["sacct", "squeue", "squeue"]  # sacct asked once, then left alone
    assert sum("sacct" in r.getMessage() for r in caplog.records) == 1
    assert watcher.get_state("7_1", mode="cache") == "TIMEOUT"
    assert watcher.get_state("7_3", mode="cache") == "PENDING"
    assert watcher.get_state("7_4", mode="cache") == GONE  # ended and forgotten by slurmctld
    assert watcher.is_done("7_0", mode="cache") and not watcher.is_done("7_2", mode="cache")


def test_a_job_slurm_will_never_start_stops_the_wait():
    from nnbench.slurm.watch import NeverStarts, queue_watcher

    watcher = queue_watcher(run=_Run(["8_[0-1%2]|PENDING||PartitionConfig"]))
    watcher.register_job("8_0")
    watcher.register_job("8_1")
    with pytest.raises(NeverStarts) as never:
        watcher.update()
    assert never.value.reason == "PartitionConfig" and never.value.jobs == ["8_0", "8_1"]


def test_threads_follow_the_slurm_allocation(monkeypatch):
    from nnbench.measure.threads import available_cores

    for key, value in JOB_ENV.items():
        monkeypatch.setenv(key, value)
    assert available_cores() == 1  # one CPU allocated, however many the machine has
    monkeypatch.delenv("SLURM_JOB_ID")
    assert available_cores() == len(os.sched_getaffinity(0))


# --- a real cluster ---------------------------------------------------------------------------

def _missing_packages() -> list[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [cmd for cmd in ("slurmctld", "slurmd", "sinfo", "sbatch", "munged")
            if shutil.which(cmd, path=path) is None]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node cluster for this module; stopped by the pids its script wrote."""
    missing = _missing_packages()
    why = None
    if missing:
        why = f"SLURM is not installed (no {', '.join(missing)}); {PACKAGES}"
    elif os.geteuid() != 0:
        why = "the local SLURM cluster needs root (slurmd starts the jobs)"
    if why:
        if REQUIRE:
            pytest.fail(f"NNBENCH_REQUIRE_SLURM=1 but {why}")
        pytest.skip(why)
    env = {**os.environ, "NNBENCH_SLURM_DIR": str(tmp_path_factory.mktemp("slurm"))}
    # the node offers the host's cores, whichever this test process keeps to (tests/conftest.py)
    cores = {int(c) for c in os.environ.get("NNBENCH_TEST_HOST_CORES", "").split(",") if c}
    up = subprocess.run([str(SCRIPT), "up"], env=env, capture_output=True, text=True,
                        timeout=120, preexec_fn=lambda: cores and os.sched_setaffinity(0, cores))
    assert up.returncode == 0, up.stderr
    exports = dict(line.removeprefix("export ").split("=", 1)
                   for line in up.stdout.splitlines() if line.startswith("export "))
    env.update(exports)
    try:
        yield env
    finally:
        down = subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert down.returncode == 0, down.stderr


def nnbench(env: dict, runs: Path, *overrides: str, timeout: int = 300):
    args = ["-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
            "hydra.launcher.gpus_per_node=0", "hydra.launcher.mem_gb=1", "bench.mfu=false",
            "bench.memory_probe=false", f"runs_dir={runs}", *overrides]
    started = time.monotonic()
    proc = run_cli(*args, env=env, timeout=timeout)
    return proc, time.monotonic() - started


def squeue(env: dict, *args: str) -> str:
    return subprocess.run(["squeue", "-h", *args], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


@pytest.mark.slurm
def test_the_cluster_is_up_with_this_machine_as_its_node(cluster):
    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%P %t %c"], env=cluster,
                           capture_output=True, text=True, check=True).stdout.split()
    assert nodes == ["debug*", "idle", str(os.cpu_count())]


@pytest.fixture(scope="module")
def four_job_sweep(cluster, tmp_path_factory):
    runs = tmp_path_factory.mktemp("slurm-sweep")
    proc, _ = nnbench(cluster, runs, "framework=numpy,torch", "train.lr=0.1,0.2",
                      "train.epochs=5", "hydra.launcher.cpus_per_task=1")
    return proc, runs


@pytest.mark.slurm
def test_a_sweep_through_slurm_ends_with_a_record_per_job(four_job_sweep):
    proc, runs = four_job_sweep
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    recs = records(runs)
    assert len(recs) == 4 and {r["status"] for r in recs} == {"ok"}
    assert {(r["framework"], r["lr"]) for r in recs} == {
        (f, lr) for f in ("numpy", "torch") for lr in (0.1, 0.2)}
    assert "nnbench: 4 jobs: 4 ok" in proc.stdout
    # each job re-resolves the config on its node: the sweep folder is still the parent's
    (sweep_dir,) = {Path(r["output_dir"]).parent for r in recs}
    assert (sweep_dir / "multirun.yaml").is_file()
    # accounting is off on this cluster: said once, not once per poll
    assert "Bypassing sacct error" not in out and out.count("sacct is not usable") == 1
    (script,) = runs.rglob("*_submission.sh")
    assert "#SBATCH --exclusive" in script.read_text().splitlines()


@pytest.mark.slurm
def test_slurm_records_say_what_the_job_was_given(four_job_sweep):
    _, runs = four_job_sweep
    for rec in records(runs):
        scheduler = rec["scheduler"]
        assert scheduler["name"] == "slurm" and scheduler["partition"] == "debug"
        assert scheduler["job_id"] and scheduler["array_job_id"]
        # --exclusive: the job holds the whole node, and its threads are the node's CPUs
        assert scheduler["exclusive"] is True and rec["exclusive"] is True
        assert scheduler["cpus_allocated"] == os.cpu_count() == rec["threads"]


@pytest.mark.slurm
def test_the_report_over_a_slurm_sweep_shows_the_node_beside_the_host(four_job_sweep, tmp_path):
    _, runs = four_job_sweep
    out = tmp_path / "report"
    made = run_cli(str(runs), "--out", str(out), "--no-progress", module="nnbench.report")
    assert made.returncode == 0, made.stderr
    assert "4 records, 0 unreadable, 0 invalid, 0 incomplete" in made.stdout
    summary = (out / "summary.md").read_text()
    node = records(runs)[0]["scheduler"]["node"]
    header = next(line for line in summary.splitlines() if "numpy cpu" in line)
    assert "| node " in header and f"| {node} " in summary
    assert "numpy/torch cpu" in header  # both frameworks ran on the same node: one ratio
    html = (out / "report.html").read_text()
    assert "<th>node</th>" in html and "<th>scheduler job</th>" in html


@pytest.mark.slurm
def test_a_shared_allocation_is_recorded_as_not_exclusive_with_its_cpus(cluster, tmp_path):
    proc, _ = nnbench(cluster, tmp_path, "framework=numpy,torch", "train.epochs=5",
                      "hydra.launcher.cpus_per_task=1", "hydra.launcher.exclusive=false")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    recs = records(tmp_path)
    assert len(recs) == 2 and {r["status"] for r in recs} == {"ok"}
    for rec in recs:  # one CPU of a node others may use: not exclusive, one thread
        assert rec["scheduler"]["cpus_allocated"] == 1 == rec["threads"]
        assert rec["scheduler"]["exclusive"] is False and rec["exclusive"] is False
        assert "1 of the" in rec["scheduler"]["exclusive_how"]


@pytest.mark.slurm
def test_a_sweep_slurm_can_never_run_ends_at_once_with_slurms_reason(cluster, tmp_path):
    proc, took = nnbench(cluster, tmp_path, "framework=numpy,torch",
                         f"hydra.launcher.cpus_per_task={4 * (os.cpu_count() or 1)}",
                         timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert took < 30
    assert "PartitionConfig" in proc.stderr and "cancelled" in proc.stderr
    assert records(tmp_path) == []
    pending = subprocess.run(["squeue", "-h", "-t", "PD"], env=cluster, capture_output=True,
                             text=True, check=True).stdout
    assert pending.strip() == ""


@pytest.mark.slurm
def test_a_job_past_its_time_limit_ends_as_a_failed_record(cluster, tmp_path):
    proc, took = nnbench(cluster, tmp_path, "framework=numpy", "train.epochs=100000000",
                         "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=1",
                         timeout=240)
    assert proc.returncode == 1, (proc.stdout + proc.stderr)[-2000:]
    (rec,) = records(tmp_path)
    # a 1-minute job gets no warning (see sbatch_parameters): SLURM ends it at its limit, its
    # workers die of SIGTERM, and SLURM's account goes before what the job could tell
    assert rec["status"] == "failed" and rec["scheduler"]["state"] == "TIMEOUT"
    assert "reached its time limit (timeout_min=1)" in rec["reason"], rec["reason"]
    assert rec["framework"] == "numpy" and rec["scheduler"]["name"] == "slurm"
    assert took < 180


@pytest.mark.slurm
def test_a_job_ended_by_slurms_warning_signal_as_it_starts_says_so(cluster, tmp_path):
    # SLURM's time-limit warning (SIGUSR2 to the job's steps) can come before submitit has
    # installed its handler: the task dies of it, srun exits 140 and the job ends FAILED. Sent
    # here by hand, again and again from the moment the job runs (a signal sent before srun has
    # started the task reaches nobody), as SLURM does with a delay near the limit.
    args = ["-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
            "hydra.launcher.gpus_per_node=0", "hydra.launcher.mem_gb=1",
            "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=5", "framework=numpy",
            "train.epochs=100000000", f"runs_dir={tmp_path}"]
    sweep = start_cli(*args, env=cluster)
    signalled = 0
    try:
        deadline = time.monotonic() + 120
        while sweep.poll() is None and time.monotonic() < deadline:
            job = squeue(cluster, "-t", "R", "-o", "%A")  # this test's: the only one running
            if job:
                signalled += subprocess.run(["scancel", "-s", "USR2", job], env=cluster,
                                            capture_output=True).returncode == 0
            time.sleep(0.25)
        out, err = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert signalled, "the job never ran"
    assert sweep.returncode == 1, (out + err)[-2000:]
    (rec,) = records(tmp_path)
    assert rec["status"] == "failed"
    # died of the signal ("ended by SIGUSR2, the warning ...") or, had submitit's handler been
    # in place already, ended by it: either way the record names the time limit
    assert "time limit (timeout_min=5" in rec["reason"], rec["reason"]
