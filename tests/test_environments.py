"""Two Python environments side by side (``bench.python``): jobs of one sweep run in another
interpreter, interleaved in rounds with this one's; each record names its environment and
carries that environment's versions; the report compares two environments as two sides; an
interpreter that cannot run a job is refused in one line before any job starts.

No test builds an environment with pip: a sweep names this interpreter itself, and the one
second environment is a venv made without pip whose own site-packages hold only a NumPy
dist-info that says 9.9.9 and a .pth reaching this environment's packages (as ``make
env-numpy``'s does): what a record says of NumPy can then come only from the job's own
interpreter.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from nnbench import environments
from nnbench.errors import ConfigError
from nnbench.paths import job_folder
from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.analyse.by_environment import hint
from nnbench.report.analyse.changes import changes
from nnbench.results.collect import Collection

SHORT = ["train.epochs=3", "bench.warmup_epochs=1", "bench.mfu=false", "bench.memory_probe=false",
         "bench.min_samples=0", "bench.phases=false"]
HERE = environments.name(environments.own_facts())  # this environment's name, .venv here


def records(runs: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(runs.rglob("result.json"))]


@pytest.fixture(scope="module")
def other_python(tmp_path_factory) -> Path:
    """The interpreter of a second environment, ``fake-env``, that says NumPy 9.9.9."""
    root = tmp_path_factory.mktemp("envs") / "fake-env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    own = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                               "print(sysconfig.get_path('purelib'))"],
                              capture_output=True, text=True, check=True).stdout.strip())
    info = own / "numpy-9.9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 9.9.9\n")
    base = sysconfig.get_path("purelib")
    (own / "nnbench-base.pth").write_text(f"import site; site.addsitedir({base!r})\n")
    return python


def test_a_sweep_over_this_interpreter_named_and_the_default_records_each_and_resumes(tmp_path):
    runs = tmp_path / "runs"
    args = ["-m", "framework=numpy", f"bench.python=null,{sys.executable}", *SHORT,
            f"runs_dir={runs}"]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nnbench: 2 jobs: 2 ok" in proc.stdout and "Traceback" not in proc.stderr
    # one folder per job, the interpreter's path in its name without nesting folders
    [sweep] = [p.parent for p in runs.rglob("multirun.yaml")]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 2 and all((job / "result.json").is_file() for job in jobs)
    assert f"bench.python={sys.executable.replace('/', '_')}," in jobs[1].name
    default, named = sorted(records(runs), key=lambda r: r["config"]["bench"]["python"] or "")
    assert default["config"]["bench"]["python"] is None
    assert named["config"]["bench"]["python"] == sys.executable
    for rec in (default, named):
        assert rec["status"] == "ok", rec.get("reason")
        assert rec["environment_name"] == HERE and rec["interpreter"] == sys.executable
        assert rec["environment"]["numpy"] == environments.own_facts()["numpy"]
    # the same interpreter named or not is the same environment: its identity is what it
    # holds (versions, BLAS, host), not how it was named
    assert default["identity"]["environment"] == named["identity"]["environment"]
    assert default["job_key"] == named["job_key"]
    assert default["code_version"] == named["code_version"]
    # a resumed sweep finds both: the job key the other process wrote is the one asked for
    again = run_cli(*args, "bench.resume=true")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nnbench: resume: 2 jobs already ok, skipped; 0 ran" in again.stdout


@pytest.mark.slow
def test_two_environments_interleave_in_rounds_and_are_compared_by_environment(
        tmp_path, other_python, capsys):
    runs = tmp_path / "runs"
    proc = run_cli("-m", "framework=numpy", f"bench.python=null,{other_python}",
                   "bench.rounds=2", *SHORT, f"runs_dir={runs}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nnbench: 4 jobs: 4 ok" in proc.stdout
    found = records(runs)  # in the order the sweep ran them (its job numbers, 0-3)
    assert [r["environment"]["time_utc"] for r in found] == \
        sorted(r["environment"]["time_utc"] for r in found)
    # round-major: every environment once per round, round after round
    assert [(r["round"], r["environment_name"]) for r in found] == [
        (0, HERE), (0, "fake-env"), (1, HERE), (1, "fake-env")]
    for rec in found:
        assert rec["status"] == "ok", rec.get("reason")
        other = rec["environment_name"] == "fake-env"
        assert rec["environment"]["numpy"] == ("9.9.9" if other else
                                               environments.own_facts()["numpy"])
        assert rec["interpreter"] == (str(other_python) if other else sys.executable)
    assert report_main([str(runs), "--baseline-env", HERE, "--candidate-env", "fake-env",
                        "--out", str(tmp_path / "cmp"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"environment {HERE} → fake-env" in out and "→ 9.9.9" in out, out


# --- the report: two environments as two sides ---------------------------------------------

def env_record(env: str, numpy: str, round_: int, epoch_s: float, seed: int) -> dict:
    times = list(epoch_s * (1 + 0.01 * np.random.default_rng(seed).standard_normal(20)))
    return {
        "status": "ok", "experiment_name": "demo", "framework": "numpy", "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
        "batch_size": None, "epochs": 20, "lr": 0.5, "init": "he_normal", "round": round_,
        "rounds": 5, "warmup_epochs": 0, "epoch_times_s": [times],
        "train_time_per_epoch_s": float(np.median(times)), "test_accuracy": 0.9,
        "code_version": "c1", "environment_name": env, "interpreter": f"/work/{env}/bin/python",
        "config": {"bench": {"python": None if env == ".venv" else f"/work/{env}/bin/python"}},
        "environment": {"hostname": "hostA", "numpy": numpy, "torch": "2.14.1",
                        "time_utc": f"2026-01-01T00:0{round_}:00Z"},
    }


def two_environments(root: Path, slower: float = 1.0) -> Path:
    """One sweep's folder: 5 rounds in .venv (NumPy 2.4.6) and in .venv-numpy-2.4.0."""
    rng = np.random.default_rng(0)
    for r in range(5):
        for env, numpy, level in ((".venv", "2.4.6", 0.01), (".venv-numpy-2.4.0", "2.4.0",
                                                             0.01 * slower)):
            job = root / f"{r}-{env}"
            job.mkdir(parents=True)
            write_result(job, env_record(env, numpy, r, level * float(np.exp(rng.normal(0, 0.02))),
                                         int(rng.integers(1e9))))
    return root


def by_env(tmp_path: Path, folder: Path, *extra: str) -> int:
    return report_main([str(folder), "--out", str(tmp_path / "cmp"), "--no-progress", *extra])


def test_the_comparison_by_environment_says_which_version_changed(tmp_path, capsys):
    runs = two_environments(tmp_path / "runs", slower=2.0)
    args = ["--baseline-env", ".venv", "--candidate-env", ".venv-numpy-2.4.0"]
    assert by_env(tmp_path, runs, *args) == 0
    out = capsys.readouterr().out
    assert "environment .venv → .venv-numpy-2.4.0; numpy 2.4.6 → 2.4.0" in out, out
    assert "bench.python" not in out  # the environment line says it
    assert "5/5" in out and "slower" in out
    # the gate names the version too; an interpreter's path names its environment as well
    assert by_env(tmp_path, runs, "--baseline-env", "/work/.venv/bin/python", "--candidate-env",
                  ".venv-numpy-2.4.0", "--fail-above", "0.1") == 3
    assert "numpy 2.4.6 → 2.4.0" in capsys.readouterr().err
    # two folders, each split by environment, compare the same way
    assert report_main(["--baseline", str(runs), "--candidate", str(runs), *args, "--out",
                        str(tmp_path / "cmp2"), "--no-progress"]) == 0


def test_an_environment_no_record_ran_in_and_a_lone_flag_are_one_line_errors(tmp_path, capsys):
    runs = two_environments(tmp_path / "runs")
    assert by_env(tmp_path, runs, "--baseline-env", ".venv", "--candidate-env", ".venv-x") == 2
    err = capsys.readouterr().err
    assert err == (f"nnbench.report: error: --candidate-env .venv-x: no record ran in that "
                   f"environment under {runs}; records there: .venv (5 records), "
                   f".venv-numpy-2.4.0 (5 records)\n")
    assert by_env(tmp_path, runs, "--baseline-env", ".venv") == 2
    assert capsys.readouterr().err == ("nnbench.report: error: --baseline-env and "
                                       "--candidate-env go together\n")


def test_a_report_of_several_environments_says_how_to_compare_them(tmp_path):
    runs = two_environments(tmp_path / "runs")
    recs = records(runs)
    assert hint(Collection(records=recs)) == (
        "environments: .venv (5 records), .venv-numpy-2.4.0 (5 records); compare two with "
        "--baseline-env .venv --candidate-env .venv-numpy-2.4.0")
    assert hint(Collection(records=[r for r in recs if r["environment_name"] == ".venv"])) is None


def test_what_changed_names_the_environment_and_leaves_out_bench_python():
    a, b = env_record(".venv", "2.4.6", 0, 0.01, 1), env_record(".venv-n", "2.4.0", 0, 0.01, 2)
    assert changes([a], [b]) == ["environment .venv → .venv-n", "numpy 2.4.6 → 2.4.0"]


# --- an interpreter that cannot run a job --------------------------------------------------

ALLOWED = ("allowed: the path of a Python interpreter whose environment imports this "
           "checkout's nnbench (pip install -e . there, or make env-numpy), or null for this one")


@pytest.fixture
def bad_pythons(tmp_path) -> dict[str, tuple[Path, str]]:
    """Paths given as bench.python, and what the one line says of each."""
    folder = tmp_path / "folder"
    folder.mkdir()
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    bare = tmp_path / "bare-env"  # a Python without nnbench or its libraries
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    return {"missing": (tmp_path / "nowhere" / "python", "does not exist"),
            "folder": (folder, "is a folder, not an interpreter"),
            "script": (script, "is not a Python interpreter nnbench can use (exit status 0, "
                               "and it printed no answer)"),
            "bare": (bare / "bin" / "python",
                     "has no nnbench importable (ModuleNotFoundError: No module named "
                     "'nnbench')")}


def test_a_bad_interpreter_is_refused_in_one_line_before_any_job(tmp_path, bad_pythons):
    runs = tmp_path / "runs"
    for path, said in bad_pythons.values():
        # from a folder without nnbench in it: the interpreter is asked from where jobs run
        proc = run_cli("-m", "framework=numpy", f"bench.python=null,{path}", *SHORT,
                       f"runs_dir={runs}", cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert proc.stderr == (f"nnbench: error: job 2 of 2 (bench.python={path}): "
                               f"bench.python={path} {said}; {ALLOWED}\n")
        assert not runs.exists()


def test_the_checks_in_process_a_non_executable_file_and_bench_isolate_false(tmp_path):
    plain = tmp_path / "python"
    plain.write_text("")
    plain.chmod(0o644)
    with pytest.raises(ConfigError, match=r"^bench.python=\S+ is not executable; allowed: "):
        environments.check(str(plain), isolate=True)
    with pytest.raises(ConfigError, match="bench.isolate=false .in this process. cannot"):
        environments.check(sys.executable, isolate=False)
    environments.check(None, isolate=False)
    environments.check(str(plain), isolate=True, on_this_host=False)  # a node's own files


def test_an_environment_is_named_by_its_venv_folder_else_its_interpreter():
    assert environments.name({"prefix": "/w/.venv-numpy-2.4.0", "base_prefix": "/usr",
                              "executable": "/w/.venv-numpy-2.4.0/bin/python"}) == \
        ".venv-numpy-2.4.0"
    assert environments.name({"prefix": "/usr", "base_prefix": "/usr",
                              "executable": "/usr/bin/python3"}) == "/usr/bin/python3"
    assert job_folder(3, "bench.python=/a/b/python,framework=numpy") == \
        "3-bench.python=_a_b_python,framework=numpy"


# What a pyenv shim prints for a version it does not have, and NumPy's import text when a
# Python reaches the site-packages of another version (its many lines cut short here).
PYENV = """pyenv: python3.12: command not found

The `python3.12' command exists in these Python versions:
  3.12.1

Note: See 'pyenv help global' for tips on allowing multiple
      Python versions to be found at the same time."""
NUMPY = ("ImportError: \n\nIMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE!\n\n"
         "Importing the numpy C-extensions failed. This error can happen for\nmany reasons, "
         "often due to issues with your setup or how NumPy was\ninstalled.\n\nWe have "
         "compiled some common reasons and troubleshooting tips at:\n\n    https://numpy.org/"
         "devdocs/user/troubleshooting-importerror.html\n\nOriginal error was: No module "
         "named 'numpy._core._multiarray_umath'\n")


def fake_python(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_an_interpreter_that_fails_is_told_by_its_exit_status_and_first_meaningful_line(
        tmp_path):
    shim = fake_python(tmp_path, "shim", f"cat >&2 <<'EOF'\n{PYENV}\nEOF\nexit 127")
    with pytest.raises(ConfigError) as err:
        environments.facts(shim)
    assert str(err.value) == (f"bench.python={shim} is not a Python interpreter nnbench can use "
                              f"(exit status 127: pyenv: python3.12: command not found); "
                              f"{ALLOWED}")
    answer = json.dumps({"nnbench_dir": str(environments._package_dir()), "error": NUMPY})
    numpy = fake_python(tmp_path, "py312", f"cat <<'EOF'\n{answer}\nEOF")
    with pytest.raises(ConfigError) as err:
        environments.facts(numpy)
    assert str(err.value) == (f"bench.python={numpy} cannot import what a job needs "
                              f"(ImportError: Importing the numpy C-extensions failed. (Original "
                              f"error was: No module named 'numpy._core._multiarray_umath')); "
                              f"{ALLOWED}")


def test_an_interpreter_that_hangs_is_ended_with_every_process_it_started(tmp_path,
                                                                          monkeypatch):
    import psutil

    pid_file = tmp_path / "sleep.pid"
    # the wrapper waits on a child of its own, as a script running `sleep 75` does
    hangs = fake_python(tmp_path, "hangs", f"sh -c 'echo $$ > {pid_file}; exec sleep 75'")
    monkeypatch.setattr(environments, "ASK_TIMEOUT_S", 2)
    try:
        with pytest.raises(ConfigError) as err:
            environments.facts(hangs)
        assert str(err.value) == (f"bench.python={hangs} did not answer within 2 s (it was "
                                  f"ended, with every process it started); {ALLOWED}")
        sleeper = int(pid_file.read_text())
        try:
            assert psutil.Process(sleeper).status() == psutil.STATUS_ZOMBIE  # killed, unreaped
        except psutil.NoSuchProcess:
            pass  # killed and reaped
    finally:
        if pid_file.exists():  # the test's own process, ended by its pid whatever happened
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_an_interpreter_that_answers_the_check_then_runs_no_job_leaves_a_failed_record(tmp_path):
    # it passes the check (this interpreter answers it), then ends 0 without running the job
    python = fake_python(tmp_path, "python", f'if [ "$1" = "-c" ]; then exec {sys.executable} '
                                             f'"$@"; fi\ncat > /dev/null\nexit 0')
    runs = tmp_path / "runs"
    proc = run_cli(f"bench.python={python}", *SHORT, f"runs_dir={runs}")
    assert proc.returncode == 1, proc.stderr[-2000:]
    (rec,) = records(runs)  # on disk, where the report and a resume look
    assert rec["status"] == "failed" and rec["error_type"] == "WorkerDied"
    assert rec["reason"] == "the job's process ended with exit code 0 without writing a result"
    assert "the job's process ended with exit code 0 without writing a result" in proc.stdout
