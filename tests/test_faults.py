"""Faults injected for real: each job ends with the right record and nothing else is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from helpers import REPO, TESTS, run_cli, start_cli

from nnbench import runner
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.results.collect import collect
from nnbench.runner import registry

CASES = ["ok_numpy", "ok_torch", "ok_float64", "fail", "diverge", "skip"]


def sweep(tmp_path: Path, *extra: str, **popen) -> subprocess.CompletedProcess:
    return run_cli("-m", f"+case={','.join(CASES)}", f"hydra.searchpath=[file://{TESTS / 'conf'}]",
                   f"runs_dir={tmp_path}", "train.epochs=20", "bench.mfu=false", *extra,
                   timeout=600, **popen)


def results(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


@pytest.mark.slow
def test_six_job_sweep_records_every_outcome_and_resume_reruns_only_the_rest(tmp_path):
    first = sweep(tmp_path)
    assert first.returncode == 1, first.stderr  # because one job failed
    records = results(tmp_path)
    assert len(records) == 6
    statuses = sorted(r["status"] for r in records)
    assert statuses == ["diverged", "failed", "ok", "ok", "ok", "skipped"]
    failed = next(r for r in records if r["status"] == "failed")
    assert failed["error_type"] == "DataError" and "no-data-here" in failed["reason"]
    assert "nnbench: 6 jobs: 1 diverged, 1 failed, 3 ok, 1 skipped" in first.stdout

    again = sweep(tmp_path, "bench.resume=true")
    assert again.returncode == 1
    assert "resume: 3 jobs already ok, skipped; 3 ran" in again.stdout
    records = results(tmp_path)
    assert len(records) == 9  # the three that were not ok ran again; the ok ones did not
    assert sorted(r["status"] for r in records).count("ok") == 3
    assert len(list(tmp_path.rglob("resumed.json"))) == 3
    assert collect([tmp_path], progress=False).incomplete == []


def test_huge_learning_rate_diverges_and_stops_early(make_cfg, tmp_path):
    rec = runner.run(make_cfg("train.lr=1e6", "bench.mfu=false"), tmp_path)
    assert rec["status"] == "diverged" and rec["diverged_epoch"] < 2000
    assert f"epoch {rec['diverged_epoch']}" in rec["reason"]
    assert len(rec["loss_history"]) == rec["diverged_epoch"] and rec["loss_history"][-1] is None
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "diverged"


class OutOfMemoryTrainer(NumpyTrainer):
    """A trainer whose allocations fail as CUDA's allocator fails, raised for real."""

    def train_epoch(self, perm, batch_size):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


class HostMemoryTrainer(NumpyTrainer):
    def set_train_data(self, x, y):
        np.empty((1 << 60,), dtype=np.uint8)  # NumPy cannot allocate an exabyte: MemoryError


@pytest.mark.parametrize("trainer", [OutOfMemoryTrainer, HostMemoryTrainer])
def test_out_of_memory_is_a_result_and_the_next_job_runs(make_cfg, tmp_path, monkeypatch,
                                                         trainer):
    monkeypatch.setattr(type(runner.resolve(make_cfg())), "trainer_class", property(
        lambda job: trainer))
    cfg = make_cfg("bench.isolate=false", "bench.mfu=false", "train.epochs=5")
    rec = runner.run(cfg, tmp_path / "oom")
    assert rec["status"] == "oom" and rec["reason"].startswith("out of memory")
    assert not (tmp_path / "oom" / "traceback.txt").exists()
    monkeypatch.undo()
    after = runner.run(make_cfg("bench.isolate=false", "bench.mfu=false", "train.epochs=5"),
                       tmp_path / "next")
    assert after["status"] == "ok"
    assert json.loads((tmp_path / "oom" / "result.json").read_text())["status"] == "oom"


def test_job_process_killed_mid_training_is_recorded_as_failed(make_cfg, tmp_path):
    cfg = make_cfg("train.epochs=300000", "bench.mfu=false", "bench.memory_probe=false")

    def kill_child_when_training():
        me = psutil.Process()
        deadline = time.time() + 60
        while time.time() < deadline:
            # the job's process: forked from its framework's warm process (a child of this one,
            # beside multiprocessing's resource tracker)
            jobs = [p for p in me.children(recursive=True) if p.ppid() != me.pid]
            if jobs and jobs[0].cpu_times().user > 1.5:  # imported, loaded, training
                jobs[0].send_signal(signal.SIGKILL)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_child_when_training)
    killer.start()
    rec = runner.run(cfg, tmp_path / "job")
    killer.join()
    assert rec["status"] == "failed" and "killed by signal 9" in rec["reason"]
    assert json.loads((tmp_path / "job" / "result.json").read_text())["status"] == "failed"


WRITER = """
import sys
from nnbench.record import write_result
record = {"status": "ok", "blob": "x" * 30_000_000}
while True:
    write_result(sys.argv[1], record)
"""


def test_a_process_killed_while_writing_never_leaves_a_partial_result(tmp_path):
    for delay in (0.3, 0.55, 0.8, 1.1):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        result = tmp_path / "result.json"
        if result.exists():  # whatever instant it died at: the whole record or none
            assert len(json.loads(result.read_text())["blob"]) == 30_000_000
    collection = collect([tmp_path], progress=False)
    assert collection.unreadable == []  # leftover temporary files are never read as results


def _registry(tmp_path: Path) -> Path:
    return tmp_path.parent / f"{tmp_path.name}-registry"  # outside the runs the test reads


def _start_sweep(tmp_path: Path, epochs: str) -> subprocess.Popen:
    return start_cli(
        "-m", "framework=numpy,torch", f"train.epochs={epochs}", f"runs_dir={tmp_path}",
        "bench.mfu=false", "bench.memory_probe=false",
        env={**os.environ, registry.ENV: str(_registry(tmp_path))},
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _wait_for_second_job(tmp_path: Path, proc: subprocess.Popen) -> None:
    """Until the second job's own process has registered itself as running (it then holds its
    data and is on its way to the timed epochs, which last for hours)."""
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if len(list(tmp_path.rglob("result.json"))) == 1 and \
                len(list(_registry(tmp_path).glob(f"*{registry.SUFFIX}"))) == 2:
            time.sleep(0.5)
            return
        time.sleep(0.1)
    raise AssertionError("the sweep never reached its second job")


@pytest.mark.slow
def test_sigint_during_a_sweep_keeps_finished_results_and_says_so(tmp_path):
    proc = _start_sweep(tmp_path, "20,1000000")  # job 1 is short, job 2 would run for hours
    _wait_for_second_job(tmp_path, proc)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted" in err
    [finished] = results(tmp_path)
    assert finished["status"] == "ok" and finished["epochs"] == 20
    collection = collect([tmp_path], progress=False)
    assert len(collection.records) == 1 and len(collection.incomplete) == 1
    assert not [p for p in psutil.Process().children(recursive=True)
                if "nnbench" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_sweep_killed_outright_leaves_an_incomplete_folder_the_report_lists(tmp_path):
    proc = _start_sweep(tmp_path, "20,1000000")
    _wait_for_second_job(tmp_path, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    collection = collect([tmp_path], progress=False)
    assert [r.status for r in collection.records] == ["ok"]
    assert len(collection.incomplete) == 1 and "train.epochs=1000000" in collection.incomplete[0]


def _job_processes(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_command_alone_stops_its_job(tmp_path, sig):
    """Only the main process is signalled (as `kill PID` does): its job must not outlive it."""
    proc = _start_sweep(tmp_path, "20,1000000")
    _wait_for_second_job(tmp_path, proc)
    workers = _job_processes(proc)
    assert workers, "the running job's process should exist"
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    gone, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == [], f"left running after {sig.name}: {[p.pid for p in alive]}"
    time.sleep(1)
    collection = collect([tmp_path], progress=False)
    assert [r.status for r in collection.records] == ["ok"]  # the finished job is intact
    assert len(collection.incomplete) == 1  # the killed one left no result, then or later
    if sig == signal.SIGTERM:
        assert proc.returncode == 143
        lines = [ln for ln in err.splitlines() if ln.startswith("nnbench")]
        assert lines == ["nnbench: terminated; finished jobs keep their results (1 ok)"]
        assert "Traceback" not in err
