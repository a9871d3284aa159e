"""The Python API as a notebook uses it: ``nnbench.run`` and ``nnbench.load`` with no internal
call, errors as the command line's one-liners, and the manual's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest
from helpers import REPO

import nnbench

SHRINK = ["train.epochs=3", "bench.warmup_epochs=1", "bench.mfu=false",
          "bench.memory_probe=false"]


def test_run_returns_a_validated_record_and_load_reads_it_back(tmp_path):
    rec = nnbench.run(["framework=torch", *SHRINK], runs_dir=tmp_path)
    assert isinstance(rec, nnbench.Record)
    assert rec.status == "ok" and rec.framework == "torch" and rec.epochs == 3
    assert rec.train_time_per_epoch_s > 0 and 0 <= rec.test_accuracy <= 1
    frame = nnbench.load(tmp_path)
    assert len(frame) == 1  # one row per record
    row = frame.iloc[0]
    assert row["framework"] == "torch" and row["status"] == "ok"
    assert row["train_time_per_epoch_s"] == rec.train_time_per_epoch_s
    assert "loss_history" not in frame  # scalars only, unless asked
    full = nnbench.load([tmp_path], histories=True)
    assert list(full["loss_history"].iloc[0]) == rec.loss_history


def test_the_job_folder_is_the_command_lines(tmp_path):
    nnbench.run(SHRINK, runs_dir=tmp_path)
    (job,) = [p.parent for p in tmp_path.rglob("result.json")]
    assert (job / ".hydra" / "config.yaml").is_file()
    assert job.parent.parent == tmp_path  # <runs_dir>/<experiment_name>/<run folder>


@pytest.mark.parametrize(("overrides", "line"), [
    (["train.lr=fast"], "train.lr=fast is not a number"),
    (["framework=jax"], "framework=jax is not an option; allowed: numpy, textbook, torch"),
    (["-m", "framework=numpy,torch"], "nnbench.run takes overrides only, not -m"),
])
def test_bad_input_is_the_command_lines_one_line(tmp_path, overrides, line):
    with pytest.raises(nnbench.ConfigError) as err:
        nnbench.run(overrides, runs_dir=tmp_path)
    assert str(err.value).startswith(line) and "\n" not in str(err.value)
    assert not any(tmp_path.rglob("result.json"))


@pytest.mark.parametrize(("call", "line"), [
    (lambda: nnbench.run(None), "nnbench.run takes a list of overrides (strings) such as "
                                "['framework=torch', 'train.epochs=5'], not None"),
    (lambda: nnbench.run("framework=torch"), "nnbench.run takes a list of overrides, not one "
                                             "string: nnbench.run(['framework=torch'])"),
    (lambda: nnbench.run([5]), "nnbench.run takes a list of overrides (strings) such as "
                               "['framework=torch', 'train.epochs=5'], not [5]"),
    (lambda: nnbench.load(5), "nnbench.load takes a folder or result.json file, or a list of "
                              "them (str or pathlib.Path), not 5"),
    (lambda: nnbench.load(None), "nnbench.load takes a folder or result.json file, or a list "
                                 "of them (str or pathlib.Path), not None"),
])
def test_an_argument_of_the_wrong_kind_says_what_is_expected(call, line):
    with pytest.raises(nnbench.ConfigError) as err:
        call()
    assert str(err.value) == line


def test_two_threads_running_jobs_at_once_run_them_one_after_the_other(tmp_path):
    # Hydra's state is one per process: the second call waits for the first, and both end ok
    results: dict[int, object] = {}

    def job(i: int) -> None:
        try:
            results[i] = nnbench.run([f"train.seed={i}", *SHRINK], runs_dir=tmp_path / str(i))
        except Exception as err:  # noqa: BLE001 - the test reports what either thread raised
            results[i] = err

    threads = [threading.Thread(target=job, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [getattr(results[i], "status", results[i]) for i in (1, 2)] == ["ok", "ok"]
    assert len(list(tmp_path.rglob("result.json"))) == 2


def test_load_names_a_path_that_is_not_there(tmp_path):
    with pytest.raises(nnbench.ConfigError, match="no such file or folder"):
        nnbench.load(tmp_path / "nowhere")


def test_import_nnbench_imports_no_heavy_library():
    """``python -m nnbench`` imports the package first: the API must cost it nothing."""
    code = "import sys, nnbench; print(sorted(m for m in ('pandas', 'hydra', 'torch', " \
           "'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


def test_the_job_path_imports_none_of_the_reports_libraries():
    """A job, or a skip, needs neither SciPy nor pandas nor matplotlib: their imports would be
    paid by every fresh job process (SciPy's stats alone ~0.7 s)."""
    code = "import sys, nnbench.__main__; print(sorted(m for m in ('pandas', 'scipy', " \
           "'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "[]"


def test_the_manuals_api_examples_run_as_written(tmp_path, monkeypatch):
    page = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert blocks, "docs/api.md shows no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        # the manual's examples run for real, on a shrunk job
        code = block.replace('"train.epochs=5"', ", ".join(f'"{o}"' for o in SHRINK))
        exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102
    assert any(isinstance(v, nnbench.Record) for v in namespace.values())


def test_a_default_job_imports_none_of_the_reports_libraries(tmp_path):
    """The whole default job (two-moons, run in this process): loading its data, training,
    timing and writing its record import no scikit-learn, SciPy, pandas or matplotlib."""
    probe = tmp_path / "modules.txt"
    code = ("import atexit, runpy, sys\n"
            "def seen():\n"
            "    names = ('sklearn', 'scipy', 'pandas', 'matplotlib')\n"
            f"    open({str(probe)!r}, 'w').write(' '.join(m for m in names if m in sys.modules))\n"
            "atexit.register(seen)\n"
            f"sys.argv = ['nnbench', 'bench.isolate=false', 'runs_dir={tmp_path}', "
            f"{', '.join(repr(o) for o in SHRINK)}]\n"
            "runpy.run_module('nnbench', run_name='__main__', alter_sys=True)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert " ok " in run.stdout and len(list(tmp_path.rglob("result.json"))) == 1
    assert probe.read_text() == ""
