"""Measurements never lost, bad inputs refused before they hurt.

Each test injects the real fault: a runs_dir path too long for the system, a small tmpfs that
is full or fills up while a job trains, IDX files of the wrong shape, a job too large for this
host's memory, a third-party framework whose class-level hook raises, an interrupted job
resumed, a report interrupted or terminated.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import TESTS, run_cli, start_cli
from omegaconf import OmegaConf

from nnbench import footprint
from nnbench.data import DataError, checked_config, load
from nnbench.data.idx_files import FILES

QUICK = ("bench.mfu=false", "bench.min_samples=0", "dataset.n_samples=200", "train.epochs=30")

# A third-party framework (the tests' noblas MLP) whose faults the environment switches on.
FAULTY = '''
import os
import time
from pathlib import Path

from frameworks.noblas import NoBlasTrainer


class Faulty(NoBlasTrainer):
    name = "faulty"

    @classmethod
    def skip_reason(cls, device, precision):
        if os.environ.get("FAULTY_RAISES") == "skip_reason":
            raise RuntimeError("cannot tell which devices I run on")
        return super().skip_reason(device, precision)

    @classmethod
    def check(cls, name, options, device, precision):
        if os.environ.get("FAULTY_RAISES") == "check":
            raise KeyError("no such option table")
        super().check(name, options, device, precision)

    def set_train_data(self, x, y):
        fill = os.environ.get("FAULTY_FILLS")
        if fill and not Path(fill).exists():  # the disk fills up while the job trains
            fd = os.open(fill, os.O_WRONLY | os.O_CREAT)
            try:
                while True:
                    os.write(fd, bytes(65536))
            except OSError:
                pass
            finally:
                os.close(fd)
        super().set_train_data(x, y)

    def train_epoch(self, perm, batch_size):
        gate = os.environ.get("FAULTY_WAITS")
        if gate and Path(gate).exists():  # held here until the test interrupts the run
            Path(gate + ".entered").touch()
            while Path(gate).exists():
                time.sleep(0.05)
        return super().train_epoch(perm, batch_size)
'''


@pytest.fixture
def faulty(tmp_path):
    """(environment, search-path override) that run the ``faulty`` framework through the CLI."""
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "faulty_fw.py").write_text(FAULTY)
    conf = tmp_path / "conf" / "framework"
    conf.mkdir(parents=True)
    (conf / "faulty.yaml").write_text("name: faulty\n_target_: faulty_fw.Faulty\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'fw'}{os.pathsep}{TESTS}",
           "NNBENCH_UNSAVED_DIR": str(tmp_path / "unsaved")}
    return env, f"hydra.searchpath=[file://{tmp_path / 'conf'}]"


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs, unmounted afterwards; skipped where mounting is not permitted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(65536))
    except OSError:
        pass
    finally:
        os.close(fd)


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return lines[0]


# -- 5. a measurement is never lost


def test_a_runs_dir_too_long_for_the_system_is_refused_before_any_job(tmp_path):
    runs = tmp_path.joinpath(*["a" * 250] * 16)  # ~4,000 characters
    proc = run_cli("-m", "framework=numpy,torch", f"runs_dir={runs}", *QUICK)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert line.startswith("nnbench: error: job 1 of 2 (framework=numpy): runs_dir=")
    assert "is too long" in line and "PATH_MAX" in line and "characters)" in line
    assert list(tmp_path.iterdir()) == []


def test_a_full_runs_dir_is_refused_before_any_job_and_leaves_no_folder(small_disk):
    fill(small_disk)
    proc = run_cli(f"runs_dir={small_disk / 'runs'}", *QUICK)
    assert proc.returncode == 2
    assert one_error_line(proc) == (
        f"nnbench: error: runs_dir={small_disk / 'runs'} has 0 bytes free on its file system, "
        f"and a job needs about 71.5 KB (its record and Hydra's files); free some space or "
        f"choose another runs_dir")
    assert [p.name for p in small_disk.iterdir()] == ["filler"]


def test_a_record_its_folder_cannot_take_is_kept_elsewhere_whole(small_disk, faulty, tmp_path):
    env, searchpath = faulty
    env["FAULTY_FILLS"] = str(small_disk / "filler")  # full once the job trains
    proc = run_cli("framework=faulty", searchpath, f"runs_dir={small_disk / 'runs'}",
                   "precision=float64", *QUICK, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "faulty cpu" in proc.stdout and " ok " in proc.stdout
    (job,) = [p.parent for p in small_disk.rglob(".hydra")]
    kept = tmp_path / "unsaved" / "runs" / "default" / job.name / "result.json"
    assert proc.stderr.strip() == (
        f"nnbench: cannot write {job / 'result.json'} (No space left on device); the record is "
        f"kept in {kept} (python -m nnbench.report reads it there; move it into the job folder "
        f"when there is room)")
    record = json.loads(kept.read_text())
    assert record["status"] == "ok" and record["output_dir"] == str(job)
    assert len(record["loss_history"]) == 30 and record["train_time_per_epoch_s"] > 0
    # nothing half-written, and no record of a worker that "ended with exit code 1"
    assert sorted(p.name for p in job.iterdir()) == [".hydra"]


def test_a_record_kept_elsewhere_is_found_by_the_report_load_and_resume_over_runs_dir(
        small_disk, faulty, monkeypatch):
    env, searchpath = faulty
    env["FAULTY_FILLS"] = str(small_disk / "filler")  # full once the job trains
    runs = small_disk / "runs"
    args = ("framework=faulty", searchpath, f"runs_dir={runs}", "precision=float64", *QUICK)
    first = run_cli(*args, env=env)
    assert first.returncode == 0 and "the record is kept in" in first.stderr, first.stderr
    assert not list(runs.rglob("result.json"))
    (small_disk / "filler").unlink()  # room again; the record stays where it was kept
    report = run_cli(str(runs), "--out", str(small_disk / "report"), "--no-progress",
                     module="nnbench.report", env=env)
    assert report.returncode == 0, report.stderr
    assert "1 result records: 1 ok." in (small_disk / "report" / "summary.md").read_text()
    assert "1 records, 0 unreadable, 0 invalid, 0 incomplete" in report.stdout
    monkeypatch.setenv("NNBENCH_UNSAVED_DIR", env["NNBENCH_UNSAVED_DIR"])
    import nnbench

    assert list(nnbench.load(runs)["status"]) == ["ok"]
    del env["FAULTY_FILLS"]
    again = run_cli(*args, "bench.resume=true", env=env)
    assert again.returncode == 0, again.stderr
    assert "nnbench: resume: 1 job already ok, skipped; 0 ran" in again.stdout


def test_a_disk_that_fills_mid_sweep_ends_it_with_status_1_not_a_refusals_2(small_disk, faulty):
    env, searchpath = faulty
    env["FAULTY_FILLS"] = str(small_disk / "filler")  # full while the first job trains
    runs = small_disk / "runs"
    proc = run_cli("-m", "framework=faulty", "train.seed=1,2", searchpath, f"runs_dir={runs}",
                   "precision=float64", *QUICK, env=env)
    assert proc.returncode == 1, proc.stderr  # 2 is a configuration refused before any job
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("nnbench: error: No space left on device") and last.endswith(
        f"(writing the next job's folder under runs_dir={runs}); finished jobs keep their "
        f"results (1 ok)")


# -- 8. IDX files of the wrong shape


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim  # unsigned bytes, then the number of dimensions
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def idx_set(folder: Path, train_shape=(40, 28, 28), test_shape=(20, 28, 28),
            train_labels=None, test_labels=None) -> None:
    rng = np.random.default_rng(0)
    arrays = dict(zip(FILES, (
        rng.integers(0, 256, train_shape), np.arange(train_shape[0]) % 10
        if train_labels is None else np.asarray(train_labels),
        rng.integers(0, 256, test_shape), np.arange(test_shape[0]) % 10
        if test_labels is None else np.asarray(test_labels)), strict=True))
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        (folder / name).write_bytes(idx_bytes(array))


WRONG_IDX = {
    "train images 28x27": ({"train_shape": (40, 28, 27)}, FILES[0],
                           "holds images of 28x27 pixels; an MNIST-style dataset's are 28x28"),
    "32x32 test beside 28x28 train": ({"test_shape": (20, 32, 32)}, FILES[2],
                                      "holds images of 32x32 pixels"),
    "label 12": ({"train_labels": [12] + [1] * 39}, FILES[1], "has label 12 (at index 0); an "
                 "MNIST-style dataset's labels are 0 to 9"),
    "label 255": ({"test_labels": [0] * 19 + [255]}, FILES[3], "has label 255 (at index 19)"),
    "150 labels for 200 images": ({"train_shape": (200, 28, 28), "train_labels": [1] * 150},
                                  FILES[1], "holds 150 labels for the 200 images of"),
}


@pytest.mark.parametrize("case", WRONG_IDX, ids=list(WRONG_IDX))
def test_idx_files_of_the_wrong_shape_are_refused_on_load_naming_the_file(tmp_path, case):
    shapes, culprit, expected = WRONG_IDX[case]
    idx_set(tmp_path / "src", **shapes)
    cfg = {"name": "mnist", "data_dir": str(tmp_path / "data"), "download": False,
           "source_dir": str(tmp_path / "src")}
    with pytest.raises(DataError) as info:
        load(checked_config(OmegaConf.create(cfg)))
    message = str(info.value)
    assert message.startswith(str(tmp_path / "src" / culprit)) and "\n" not in message
    assert expected in message
    assert not (tmp_path / "data" / "MNIST" / "raw" / FILES[0]).exists()  # not kept for later
    # the same files put into data_dir by hand are refused the same way, naming that copy
    raw = tmp_path / "data2" / "MNIST" / "raw"
    idx_set(raw, **shapes)
    cfg.update(data_dir=str(tmp_path / "data2"), source_dir=None)
    with pytest.raises(DataError) as info:
        load(checked_config(OmegaConf.create(cfg)))
    assert str(info.value).startswith(f"{raw / culprit} ") and expected in str(info.value)


# -- 9. sizes that cannot fit


def test_a_job_too_large_for_this_hosts_memory_is_refused_before_start_with_the_estimate(
        tmp_path):
    # 10^10 samples: terabytes, more than any host this runs on (10^8 took 24 GB when reported)
    proc = run_cli(f"runs_dir={tmp_path / 'runs'}", "dataset=moons",
                   "dataset.n_samples=10000000000", "train.epochs=2")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert line.startswith("nnbench: error: dataset=moons with 8,000,000,000 training and "
                           "2,000,000,000 test samples, arch 2x32x16x1, needs about ")
    assert "GB of memory (" in line and "a job is started only with 1.25x its estimate" in line
    assert not (tmp_path / "runs").exists()


def test_a_job_too_large_for_the_host_it_runs_on_ends_oom_and_a_sigkill_says_oom(
        make_cfg, tmp_path, monkeypatch):
    from nnbench import runner
    from nnbench.runner.isolated import death

    monkeypatch.setattr(footprint, "available", lambda: (1024, "available memory"))
    record = runner.run(make_cfg("train.epochs=2"), tmp_path / "job")
    assert record["status"] == "oom" and record["error_type"] == "TooLarge"
    assert record["reason"].startswith("out of memory before it started: dataset=moons with "
                                       "1,600 training and 400 test samples")
    assert json.loads((tmp_path / "job" / "result.json").read_text())["status"] == "oom"
    # a worker killed by SIGKILL while the kernel's OOM killer acted: oom, not "signal 9"
    status, reason = death(-9, 3, 4)
    assert status == "oom" and "out-of-memory killer ended 1 process" in reason
    assert death(-9, 3, 3)[0] == "failed" and "out-of-memory killer" in death(-9, 3, 3)[1]


# -- 10. a third-party framework's hook that raises


@pytest.mark.parametrize("hook,error", [
    ("skip_reason", "RuntimeError: cannot tell which devices I run on"),
    ("check", "KeyError: 'no such option table'"),
])
def test_a_framework_hook_that_raises_fails_its_job_only_and_the_sweep_goes_on(
        tmp_path, faulty, hook, error):
    env, searchpath = faulty
    env["FAULTY_RAISES"] = hook
    proc = run_cli("-m", "framework=numpy,faulty", searchpath, f"runs_dir={tmp_path / 'runs'}",
                   "precision=float64", *QUICK, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "2 jobs: 1 failed, 1 ok" in proc.stdout
    by_framework = {r["framework"]: r for r in records(tmp_path / "runs")}
    assert by_framework["numpy"]["status"] == "ok"
    failed = by_framework["faulty"]
    assert failed["status"] == "failed" and failed["error_type"] == "FrameworkError"
    assert failed["reason"] == f"framework faulty: Faulty.{hook} raised {error}"


# -- 11. the smaller items


def test_textbook_with_sigmoid_or_tanh_hidden_layers_is_refused_before_start(tmp_path):
    proc = run_cli(f"runs_dir={tmp_path / 'runs'}", "framework=textbook",
                   "arch.activations=[tanh,sigmoid,sigmoid]")
    assert proc.returncode == 2
    assert one_error_line(proc).endswith("this job has hidden activations sigmoid, tanh "
                                         "(arch.activations)")
    assert not (tmp_path / "runs").exists()


def test_cfg_job_says_when_a_run_would_refuse_the_configuration(tmp_path):
    proc = run_cli("--cfg", "job", f"runs_dir={tmp_path / 'runs'}", "train.lr=-1")
    assert proc.returncode == 2
    assert "lr: -1" in proc.stdout  # printed, as asked
    assert proc.stderr.strip() == ("nnbench: error: a run would refuse this configuration: "
                                   "train.lr=-1.0 must be > 0")
    fine = run_cli("--cfg", "job", f"runs_dir={tmp_path / 'runs'}")
    assert fine.returncode == 0 and fine.stderr == ""


def test_a_large_sweep_says_it_is_checking_its_jobs(tmp_path):
    # 22 configurations (the rounds of one are checked by its first: they differ in bench.round)
    proc = run_cli("-m", "train.seed=range(0,11)", "framework=numpy,torch", "train.lr=-1",
                   f"runs_dir={tmp_path / 'runs'}")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == ("nnbench: checking the 22 jobs of the sweep before "
                                           "the first starts")


def test_a_diverging_run_prints_no_numpy_warning(tmp_path):
    proc = run_cli(f"runs_dir={tmp_path / 'runs'}", "train.lr=1000", "train.epochs=20",
                   "bench.mfu=false")
    (record,) = records(tmp_path / "runs")
    assert record["status"] == "diverged", record["reason"]
    assert "RuntimeWarning" not in proc.stderr and "overflow" not in proc.stderr


def test_a_resume_that_skipped_nothing_says_so(tmp_path):
    proc = run_cli(f"runs_dir={tmp_path / 'runs'}", "bench.resume=true", *QUICK)
    assert proc.returncode == 0, proc.stderr
    assert (f"nnbench: resume: no job skipped: none of these jobs has an ok result of the same "
            f"config and code under runs_dir={tmp_path / 'runs'}; 1 ran") in proc.stdout


def test_after_a_resumed_sweep_the_report_lists_no_interrupted_folder(tmp_path, faulty):
    env, searchpath = faulty
    gate = tmp_path / "gate"
    gate.touch()
    env["FAULTY_WAITS"] = str(gate)
    runs = tmp_path / "runs"
    args = ("-m", "framework=faulty", searchpath, f"runs_dir={runs}", "precision=float64",
            *QUICK)
    first = start_cli(*args, env=env)
    try:
        for _ in range(2400):  # until the job trains (or the sweep ended without it)
            if Path(f"{gate}.entered").exists() or first.poll() is not None:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 143
    gate.unlink()
    resumed = run_cli(*args, "bench.resume=true", env=env)
    assert resumed.returncode == 0, resumed.stderr
    report = run_cli(str(runs), "--out", str(tmp_path / "report"), "--no-progress",
                     module="nnbench.report")
    assert report.returncode == 0, report.stderr
    assert "1 records, 0 unreadable, 0 invalid, 0 incomplete" in report.stdout


def test_sigint_to_the_command_alone_counts_the_job_that_ended_with_its_record(tmp_path,
                                                                               faulty):
    # kill -INT PID reaches the command, not its job: the job goes on, and ends while the
    # command gives it time to; its ok record is a finished job's, and its folder is settled
    env, searchpath = faulty
    gate = tmp_path / "gate"
    gate.touch()
    env["FAULTY_WAITS"] = str(gate)
    runs = tmp_path / "runs"
    sweep = start_cli("-m", "framework=faulty", searchpath, f"runs_dir={runs}",
                      "precision=float64", *QUICK, env=env)
    try:
        for _ in range(2400):  # until the job trains (or the sweep ended without it)
            if Path(f"{gate}.entered").exists() or sweep.poll() is not None:
                break
            time.sleep(0.05)
        sweep.send_signal(signal.SIGINT)
        gate.unlink()  # the job, not interrupted, trains on and writes its record
        _, err = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("nnbench: interrupted; finished jobs keep their "
                                            "results (1 ok)")
    assert [r["status"] for r in records(runs)] == ["ok"]
    assert not list(runs.rglob("started.json"))


def test_a_folder_interrupted_before_it_named_its_job_is_settled_by_a_resume(tmp_path):
    runs = tmp_path / "runs"
    args = ("-m", "framework=numpy", "bench.isolate=false", f"runs_dir={runs}", *QUICK)
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    (result,) = runs.rglob("result.json")
    result.unlink()  # what an interrupt while its config resolved leaves: .hydra/ alone
    assert not list(runs.rglob("started.json"))
    resumed = run_cli(*args, "bench.resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((result.parent / "resumed.json").read_text())["interrupted"] is True
    report = run_cli(str(runs), "--out", str(tmp_path / "report"), "--no-progress",
                     module="nnbench.report")
    assert "1 records, 0 unreadable, 0 invalid, 0 incomplete" in report.stdout


def test_ctrl_c_or_sigterm_during_a_report_is_one_line_and_leaves_no_temporary(
        tmp_path, monkeypatch, capsys):
    from test_report_output import good_tree

    from nnbench.report.__main__ import main as report_main
    from nnbench.report.render import html

    runs, out = good_tree(tmp_path / "runs"), tmp_path / "report"
    for signum, code, how in ((signal.SIGINT, 130, "interrupted"),
                              (signal.SIGTERM, 143, "terminated")):
        # the signal arrives while the report is being written
        monkeypatch.setattr(html, "render", lambda *a, signum=signum, **k:
                            os.kill(os.getpid(), signum) or time.sleep(5) or "")
        capsys.readouterr()
        assert report_main([str(runs), "--out", str(out), "--no-progress"]) == code
        err = capsys.readouterr().err
        assert err == f"nnbench.report: {how}; no report written, an earlier one is left as " \
                      f"it was\n"
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir()] == ["runs"]  # no .nnbench-tmp-* folder
