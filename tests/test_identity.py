"""Every number knows what it measured: one identity (configuration, code, data, environment)
per job, and every consumer (the closing lines, the report's rows, compare, resume, the warm
processes) keeps apart what it keeps apart.

Each test plants a fault that a consumer once reported as a valid number: two configurations
pooled as rounds of one, a mixture of code versions shown without a word, two environments
of one name pooled, a warm process serving code that was edited after it imported it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from test_identity_and_figures import checkout  # noqa: F401 - a fixture: the tree in a repository

from nnbench import identity
from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.analyse import by_environment
from nnbench.results.sweep_summary import ratio_lines

TINY = ("dataset=moons", "train.epochs=3", "bench.mfu=false", "bench.min_samples=0",
        "bench.memory_probe=false", "bench.isolate=false", "bench.phases=false")


# ---- the configuration part: measured keys only, declared in the schema -------------------

def _config(**changes) -> dict:
    config = {"framework": {"name": "numpy", "_target_": "nnbench.frameworks.numpy.X"},
              "train": {"lr": 0.5, "epochs": 3}, "bench": {"threads": 2, "resume": False,
                                                           "round": 0, "rounds": 1},
              "dataset": {"name": "moons", "n_samples": 2000}, "arch": {"name": "a"},
              "runs_dir": "runs", "experiment_name": "default"}
    for key, value in changes.items():
        section, name = key.split("__") if "__" in key else (None, key)
        (config[section] if section else config)[name] = value
    return config


def test_keys_the_schema_declares_not_measured_leave_the_configuration_part_alone():
    base = identity.configuration(_config())
    for change in ({"runs_dir": "elsewhere"}, {"experiment_name": "mine"},
                   {"bench__resume": True}, {"bench__round": 3}, {"bench__rounds": 5},
                   {"arch__name": "another name for the same sizes"}):
        assert identity.configuration(_config(**change)) == base, change
    for change in ({"bench__threads": 1}, {"dataset__n_samples": 500}, {"train__lr": 0.1}):
        assert identity.configuration(_config(**change))["digest"] != base["digest"], change
    # the framework is the axis two frameworks are compared along: not part of the setting
    other = identity.configuration(_config(framework={"name": "torch", "_target_": "T"}))
    assert other["digest"] != base["digest"] and other["setting"] == base["setting"]
    assert "bench.resume" not in base["content"] and base["content"]["bench.threads"] == 2


def test_a_datasets_location_keys_are_not_measured_its_content_is():
    from nnbench.data.idx_images import Config

    assert {"dataset.data_dir", "dataset.source_dir", "dataset.download",
            "dataset.fallback"} == identity.unmeasured(Config, "dataset.")


# ---- the closing lines and the report: one row per setting ---------------------------------

@pytest.mark.slow
def test_a_sweep_over_a_datasets_size_gives_a_line_and_a_row_per_size(tmp_path):
    """The reported probe: n_samples=500,8000 pooled as "2 vs 2 fresh processes" with an
    interval from 0.00047 to 82; here 200 and 400 samples."""
    runs = tmp_path / "runs"
    done = run_cli("-m", "framework=numpy,torch", "dataset.n_samples=200,400", *TINY,
                   f"runs_dir={runs}")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines()
             if " than " in line or "difference between" in line]
    assert len(lines) == 2, done.stdout
    assert "n_samples 200, cpu (" in lines[0] and "n_samples 400, cpu (" in lines[1]
    assert all("one process per side, not yet an answer" in line for line in lines)  # not pooled
    assert report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"]) == 0
    summary = (tmp_path / "report" / "summary.md").read_text()
    table = summary.split("### Training time per epoch (s")[1].split("###")[0]
    rows = [line for line in table.splitlines() if line.startswith("| moons")]
    assert [row.split("|")[4].strip() for row in rows] == ["n_samples 200", "n_samples 400"]


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _record(framework: str, epoch_s: float, seed: int, threads: int = 2, code: str = COMMIT,
            environment: str = "e1", name: str = ".venv", numpy_version: str = "2.4.6",
            **extra) -> dict:
    """A record as a job writes one, its identity included (the configuration's content
    differing in the threads alone)."""
    rng = np.random.default_rng(seed)
    times = list(epoch_s * (1 + 0.01 * rng.standard_normal(20)))
    content = {"bench.threads": threads, "train.lr": 0.5, "framework.name": framework}
    setting = identity.digest({k: v for k, v in content.items() if k != "framework.name"})
    return {
        "status": "ok", "experiment_name": "demo", "framework": framework, "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
        "batch_size": None, "epochs": 20, "lr": 0.5, "init": "he_normal",
        "code_version": code, "warmup_epochs": 0, "epoch_times_s": [times],
        "train_time_per_epoch_s": float(np.median(times)), "test_accuracy": 0.9,
        "environment_name": name, "interpreter": f"/work/{environment}/{name}/bin/python",
        "environment": {"hostname": "hostA", "numpy": numpy_version, "torch": "2.14.1",
                        "time_utc": "2026-01-01T00:00:00Z"},
        "identity": {"config": {"digest": identity.digest(content), "setting": setting,
                                "content": content},
                     "code": {"digest": identity.digest(code), "version": code},
                     "data": {"digest": "d1"}, "environment": {"digest": environment}},
        **extra,
    }


def _write(folder: Path, records: list[dict]) -> None:
    for i, rec in enumerate(records):
        job = folder / f"{i}-{rec['framework']}"
        (job / ".hydra").mkdir(parents=True)
        write_result(job, rec)


def _sweep(folder: Path, rounds: int, numpy_s: float, torch_s: float, **kw) -> list[dict]:
    out = []
    for r in range(rounds):
        for framework, level in (("numpy", numpy_s), ("torch", torch_s)):
            seed = zlib.crc32(f"{folder}{r}{framework}{kw}".encode())
            out.append(_record(framework, level, seed, round=r, rounds=rounds, **kw))
    return out


def test_runs_at_one_and_two_threads_in_one_runs_folder_are_two_rows(tmp_path):
    """A new user's runs at 1 and at 2 threads were one row, "rounds disagree"."""
    runs = tmp_path / "runs"
    _write(runs / "a", _sweep(runs / "a", 3, 0.002, 0.001, threads=1))
    _write(runs / "b", _sweep(runs / "b", 3, 0.001, 0.001, threads=2))
    assert report_main([str(runs), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    summary = (tmp_path / "r" / "summary.md").read_text()
    table = summary.split("### Training time per epoch (s")[1].split("###")[0]
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| moons")]
    assert [row[4].strip() for row in rows] == ["threads 1", "threads 2"], table
    assert [float(row[-2].strip().split("x")[0]) for row in rows] == [
        pytest.approx(2.0, rel=0.02), pytest.approx(1.0, rel=0.02)], table
    assert "6 rounds" not in summary


def test_a_sweep_of_two_thread_counts_closes_with_a_line_each(tmp_path):
    sweep = tmp_path / "sweep"
    _write(sweep, _sweep(sweep, 1, 0.002, 0.001, threads=1) +
           _sweep(sweep, 1, 0.001, 0.001, threads=2))
    lines = ratio_lines(sweep)
    assert len(lines) == 2, lines
    # one process a side: said as this run's, with no interval (its epochs' spread is not the
    # next run's)
    faster = re.match(r"in one run, torch was ([\d.]+)x faster than numpy on ", lines[0])
    assert faster and float(faster[1]) == pytest.approx(2.0, rel=0.03), lines
    assert "full batch, threads 1, cpu (" in lines[0]
    same = re.search(r"^in one run, no clear difference between numpy and torch on .*full batch, "
                     r"threads 2, cpu: numpy/torch time ([\d.]+)x \(", lines[1])
    assert same and float(same[1]) == pytest.approx(1.0, rel=0.03), lines
    assert not any("[" in line for line in lines), lines


def test_frameworks_that_ran_different_code_are_a_mixture_said_on_the_line(tmp_path):
    """NumPy at the clean commit, torch on an edited tree: the headline was a bare ratio."""
    sweep = tmp_path / "sweep"
    edited = f"{COMMIT}-dirty-a1b2c3d4e5f6"
    recs = _sweep(sweep, 1, 0.001, 0.001)
    recs[1] = _record("torch", 0.001, 7, code=edited)
    _write(sweep, recs)
    [line] = ratio_lines(sweep)
    assert line.endswith("; mixture: numpy ran code 0123456, torch 0123456-dirty-a1b2c3d4")


def test_one_frameworks_rounds_of_two_code_versions_give_no_ratio(tmp_path):
    sweep = tmp_path / "sweep"
    recs = _sweep(sweep, 2, 0.001, 0.001)
    recs[2] = {**recs[2], "code_version": f"{COMMIT}-dirty-a1b2c3d4e5f6"}
    _write(sweep, recs)
    [line] = ratio_lines(sweep)
    assert line == ("cannot tell numpy from torch on moons 2x32x16x1, float32, full batch, cpu: "
                    "numpy's rounds ran 2 code versions (0123456, 0123456-dirty-a1b2c3d4)"), line


def test_two_environments_of_one_name_are_two_lines_named_apart(tmp_path):
    """Two venvs both named .venv (NumPy 2.4.6 and 2.4.1) were pooled "4 vs 4"."""
    sweep = tmp_path / "sweep"
    _write(sweep, _sweep(sweep, 2, 0.001, 0.001, environment="e1aaaaaaaaa") +
           _sweep(sweep, 2, 0.002, 0.001, environment="e2bbbbbbbbb", numpy_version="2.4.1"))
    lines = ratio_lines(sweep)
    assert len(lines) == 2 and all("cpu in .venv (" in line for line in lines), lines
    assert all("2 vs 2 rounds of fresh processes" in line for line in lines), lines
    assert sorted(re.search(r" cpu in (\.venv \(\w+\))[ :]", line)[1] for line in lines) == [
        ".venv (e1aaaaaa)", ".venv (e2bbbbbb)"]


def test_compare_gives_no_verdict_on_a_side_whose_rounds_ran_several_code_versions(tmp_path):
    base, cand = tmp_path / "base", tmp_path / "cand"
    _write(base, _sweep(base, 3, 0.001, 0.001))
    recs = _sweep(cand, 3, 0.002, 0.001)
    recs[0] = {**recs[0], "code_version": f"{COMMIT}-dirty-a1b2c3d4e5f6"}
    _write(cand, recs)
    out = tmp_path / "cmp"
    report_main(["--baseline", str(base), "--candidate", str(cand), "--out", str(out),
                 "--no-progress"])
    table = (out / "compare.md").read_text()
    numpy_row = next(line for line in table.splitlines() if "| numpy " in line)
    assert "cannot tell: the candidate's rounds ran 2 code versions" in numpy_row, table


def test_an_environment_named_by_a_shared_name_or_twice_is_refused(tmp_path):
    """--baseline-env .venv --candidate-env /.../.venv/bin/python put the candidate's
    records into the baseline too."""
    runs = tmp_path / "runs"
    _write(runs, _sweep(runs, 1, 0.001, 0.001, environment="e1aaaaaaaaa") +
           _sweep(runs, 1, 0.002, 0.001, environment="e2bbbbbbbbb"))
    from nnbench.results.collect import collect

    def args(base: str, cand: str):
        return type("Args", (), {"baseline_env": base, "candidate_env": cand,
                                 "baseline": runs, "candidate": runs, "run_dirs": [runs]})

    with pytest.raises(by_environment.NoSuchEnvironment, match=r"^--baseline-env \.venv "
                       r"names 2 environments under .*; name one by its interpreter's path$"):
        by_environment.sides(args(".venv", "/work/e2bbbbbbbbb/.venv/bin/python"),
                             lambda f: collect(f, progress=False))
    with pytest.raises(by_environment.NoSuchEnvironment, match="name the same environment"):
        one = "/work/e1aaaaaaaaa/.venv/bin/python"
        by_environment.sides(args(one, one), lambda f: collect(f, progress=False))
    sides = by_environment.sides(args("/work/e1aaaaaaaaa/.venv/bin/python",
                                      "/work/e2bbbbbbbbb/.venv/bin/python"),
                                 lambda f: collect(f, progress=False))
    assert [len(c.records) for _, c in sides.values()] == [2, 2]


# ---- the code part: conf/ is not code; what a warm process imported is what it records ----

def _code(repo: Path) -> str:
    done = subprocess.run([sys.executable, "-c", "from nnbench import identity; "
                           "print(identity.code()['version'])"], cwd=repo, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def test_a_new_experiment_yaml_is_no_code_change_a_package_edit_is(checkout):  # noqa: F811
    clean = _code(checkout)
    (checkout / "conf" / "experiment" / "mine.yaml").write_text("# @package _global_\n")
    assert _code(checkout) == clean  # the records before and after stay one row
    (checkout / "nnbench" / "params.py").write_text(
        (checkout / "nnbench" / "params.py").read_text() + "\n# an edit\n")
    assert _code(checkout).startswith(clean + "-dirty-")


EDIT_DURING_A_SWEEP = """
import json, sys
from pathlib import Path
from hydra import compose, initialize_config_dir
from nnbench.hydra import register
from nnbench.job import resolve
from nnbench.runner import isolated, warm

register()
overrides = sys.argv[2:]
with initialize_config_dir(str(Path("conf").resolve()), version_base=None):
    job = resolve(compose("config", overrides=overrides))
first = isolated.run_isolated(job, "out/first")
pid = warm.warm_process(job.trainer_target).process.pid
trainer = Path("nnbench/frameworks/numpy/trainer.py")
trainer.write_text(trainer.read_text() + "\\n# edited while the sweep runs\\n")
second = isolated.run_isolated(job, "out/second")
print(json.dumps({"first": first["code_version"], "second": second["code_version"],
                  "statuses": [first["status"], second["status"]],
                  "new_process": warm.warm_process(job.trainer_target).process.pid != pid}))
"""


@pytest.mark.slow
def test_a_warm_process_whose_files_changed_serves_no_more_jobs(checkout):  # noqa: F811
    """An edit while a sweep ran: later jobs recorded the edited tree's version but ran the
    code the warm process held. Now a new warm process imports the edit and runs the job."""
    done = subprocess.run([sys.executable, "-c", EDIT_DURING_A_SWEEP, "-", *TINY[:-2],
                           f"runs_dir={checkout / 'runs'}"], cwd=checkout, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["statuses"] == ["ok", "ok"] and said["new_process"]
    assert said["second"].startswith(said["first"] + "-dirty-")  # the code that ran


def test_the_environment_part_holds_every_installed_version_and_numpys_blas():
    part = identity.environment()
    assert part["packages"]["numpy"] == np.__version__
    assert part["blas"] and part["blas"][0]["internal_api"] in ("openblas", "mkl")
    assert "interpreter" in part and part["interpreter"] == sys.executable
    # the path is content only: two venvs holding the same versions are one environment
    moved = {k: v for k, v in part.items() if k not in ("digest", "interpreter")}
    assert identity.digest(moved) == part["digest"]


@pytest.mark.slow
def test_a_resume_after_a_library_change_runs_the_job_again(tmp_path):
    """"1 job already ok, skipped" kept the old library's result after another NumPy was
    installed; here the change is a distribution's version as the environment part sees it."""
    runs = tmp_path / "runs"
    first = run_cli(*TINY, f"runs_dir={runs}")
    assert first.returncode == 0, first.stderr[-2000:]
    same = run_cli(*TINY, f"runs_dir={runs}", "bench.resume=true")
    assert "1 job already ok, skipped" in same.stdout, same.stdout
    fake = tmp_path / "site"  # a distribution installed since: another version, seen first
    (fake / "tqdm-0.0.1.dist-info").mkdir(parents=True)
    (fake / "tqdm-0.0.1.dist-info" / "METADATA").write_text("Name: tqdm\nVersion: 0.0.1\n")
    import os

    env = {**os.environ, "PYTHONPATH": str(fake)}
    again = run_cli(*TINY, f"runs_dir={runs}", "bench.resume=true", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already ok" not in again.stdout
    records = [json.loads(p.read_text()) for p in runs.rglob("result.json")]
    assert len({r["identity"]["environment"]["distributions"] for r in records}) == 2
