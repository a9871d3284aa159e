"""Sweeps through Hydra's launchers: submitit (local here, SLURM on a cluster) and joblib."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import CONF, run_cli
from hydra import compose, initialize_config_dir

from nnbench.report.__main__ import main as report_main
from nnbench.slurm.script import slurm_script


def sweep(tmp_path: Path, *launcher: str) -> subprocess.CompletedProcess:
    return run_cli("-m", "framework=numpy,torch", "train.epochs=20,30", "bench.mfu=false",
                   "bench.memory_probe=false", f"runs_dir={tmp_path}", *launcher, timeout=600)


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in root.rglob("result.json")]


@pytest.mark.parametrize("launcher", [
    ["hydra/launcher=submitit_local"],
    ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
], ids=["submitit_local", "joblib"])
@pytest.mark.slow
def test_parallel_launchers_record_every_job_marked_non_exclusive(tmp_path, launcher,
                                                                  host_cores):
    if host_cores < 2:
        pytest.skip("one core: joblib runs its jobs one at a time here, never side by side")
    proc = sweep(tmp_path, *launcher, "bench.allow_parallel=true")
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = records(tmp_path)
    assert len(recs) == 4 and {r["status"] for r in recs} == {"ok"}
    assert all(r["exclusive"] is False and r["parallel_jobs"] >= 2 for r in recs)
    # the workers re-resolve the config: the sweep folder is still the one the parent named
    (sweep_dir,) = {Path(r["output_dir"]).parent for r in recs}
    assert sweep_dir.parent == tmp_path / "default" and (sweep_dir / "multirun.yaml").is_file()
    assert "nnbench: 4 jobs: 4 ok" in proc.stdout
    out = tmp_path / "report"
    assert report_main([str(tmp_path), "--out", str(out), "--no-progress", "--small"]) == 0
    summary = (out / "summary.md").read_text()
    assert "4 result records: 4 ok." in summary and "(parallel)" in summary


@pytest.mark.slow
def test_parallel_launcher_is_refused_for_timing_unless_allowed(tmp_path, host_cores):
    if host_cores < 2:
        pytest.skip("one core: joblib runs its jobs one at a time here, never side by side")
    proc = sweep(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert proc.returncode == 2  # refused before any job starts, and nothing is left behind
    assert "bench.allow_parallel=true" in proc.stderr and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_basic_launcher_runs_are_exclusive(tmp_path):
    proc = sweep(tmp_path)
    assert proc.returncode == 0
    assert all(r["exclusive"] is True and r["parallel_jobs"] == 1 for r in records(tmp_path))


def test_joblib_starts_no_more_workers_than_the_jobs_and_the_cores(tmp_path, host_cores):
    # loky starts every worker n_jobs asks for: 50 for two jobs, and 100000 never ran one
    proc = run_cli("-m", "framework=numpy,torch", "hydra/launcher=joblib",
                   "hydra.launcher.n_jobs=50", "bench.allow_parallel=true", "train.epochs=2",
                   "bench.warmup_epochs=0", "dataset.n_samples=200", "bench.mfu=false",
                   "bench.memory_probe=false", f"runs_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    workers = min(2, host_cores)
    assert f"Joblib.Parallel(n_jobs={workers},backend=loky" in proc.stdout + proc.stderr
    assert sorted(r["parallel_jobs"] for r in records(tmp_path)) == [workers, workers]


@pytest.mark.parametrize(("n_jobs", "jobs", "cores", "workers"), [
    (100000, 2, 16, 2), (50, 40, 16, 16), (-1, 40, 16, 16), (-2, 40, 16, 15), (None, 4, 16, 1),
    (3, 40, 16, 3), (-1, 3, 1, 1),
])
def test_joblib_workers_are_capped_at_the_jobs_and_the_cores(monkeypatch, n_jobs, jobs, cores,
                                                              workers):
    from nnbench.hydra import launchers

    monkeypatch.setattr("nnbench.measure.threads.available_cores", lambda: cores)
    launcher = type("Launcher", (), {"joblib": {"n_jobs": n_jobs}})()
    assert launchers.cap_workers(launcher, jobs) == workers
    assert launcher.joblib["n_jobs"] == workers


def test_joblib_n_jobs_zero_is_refused_in_one_line(tmp_path):
    proc = run_cli("-m", "framework=numpy,torch", "hydra/launcher=joblib",
                   "hydra.launcher.n_jobs=0", "bench.allow_parallel=true", f"runs_dir={tmp_path}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("nnbench: error: hydra.launcher.n_jobs=0 runs no job; "
                                   "allowed: how many jobs run at once, at least 1, or -1 (one "
                                   "per core)")


def _launcher_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=["+experiment=scaling", "hydra/launcher=slurm",
                                            "hydra.sweep.dir=/scratch/nnbench/scaling",
                                            *overrides], return_hydra_config=True).hydra.launcher


def test_slurm_submission_for_the_scaling_experiment_follows_the_config():
    script = slurm_script(_launcher_cfg("hydra.launcher.partition=gpu"))
    assert script.startswith("#!/bin/bash")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=60",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=32GB", "#SBATCH --job-name=nnbench",
                 "#SBATCH --output=/scratch/nnbench/scaling/.submitit/%j/%j_0_log.out"):
        assert line in script.splitlines(), line
    assert "srun" in script and "python -m nnbench" in script


def test_slurm_settings_are_overridable_from_the_command_line():
    script = slurm_script(_launcher_cfg("hydra.launcher.partition=long",
                                        "hydra.launcher.timeout_min=240",
                                        "hydra.launcher.gpus_per_node=4"))
    lines = script.splitlines()
    assert "#SBATCH --partition=long" in lines and "#SBATCH --time=240" in lines
    assert "#SBATCH --gpus-per-node=4" in lines


@pytest.mark.parametrize(("setting", "line"), [
    ("cpus_per_task=0", "hydra.launcher.cpus_per_task=0 must be a whole number of CPUs a job "
                        "gets, at least 1 (or null: the default)"),
    ("mem_gb=-1", "hydra.launcher.mem_gb=-1 must be a whole number of GB of memory a job gets, "
                  "at least 1 (or null: the default)"),
    ("timeout_min=0", "hydra.launcher.timeout_min=0 must be a whole number of minutes a job "
                      "may run, at least 1"),
    ("array_parallelism=0", "hydra.launcher.array_parallelism=0 must be a whole number of jobs "
                            "of the sweep running at once, at least 1"),
    ("gpus_per_node=-1", "hydra.launcher.gpus_per_node=-1 must be a whole number of GPUs a node "
                         "gives a job, at least 0 (or null: the default)"),
    ("stalled_patience_min=-5", "hydra.launcher.stalled_patience_min=-5.0 must be a number of "
                                "minutes jobs may pend on a reason an administrator clears, at "
                                "least 0 (or null: the default)"),
])
def test_slurm_settings_out_of_bounds_are_refused_before_sbatch_sees_them(setting, line):
    from nnbench.errors import ConfigError
    from nnbench.slurm import settings

    params = dict(_launcher_cfg(f"hydra.launcher.{setting}"))
    settings.check(dict(_launcher_cfg()))  # the shipped settings pass
    with pytest.raises(ConfigError) as err:
        settings.check(params)
    assert str(err.value) == line


def test_a_slurm_setting_out_of_bounds_ends_the_command_with_its_line_before_any_job(tmp_path):
    # no SLURM on this host: without the check, submitit's "Could not detect srun" would answer
    proc = run_cli("-m", "hydra/launcher=slurm", "hydra.launcher.cpus_per_task=0",
                   f"runs_dir={tmp_path}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == ("nnbench: error: hydra.launcher.cpus_per_task=0 must be a "
                                   "whole number of CPUs a job gets, at least 1 (or null: the "
                                   "default)")
    assert not list(tmp_path.rglob("result.json"))


def test_a_launcher_setting_the_launcher_lacks_lists_the_launchers_settings(tmp_path):
    proc = run_cli("-m", "hydra/launcher=slurm", "hydra.launcher.nosuch=1", f"runs_dir={tmp_path}")
    line = proc.stderr.strip()
    assert proc.returncode == 2 and "\n" not in line
    assert line.startswith("nnbench: error: hydra.launcher.nosuch is not a setting of "
                           "hydra/launcher=slurm; its settings: account, additional_parameters, ")
    assert "cpus_per_task" in line and "stalled_patience_min" in line
    assert "experiment_name" not in line and "runs_dir" not in line  # not the job's keys
