"""Runs started side by side: each gets its own folder and record, and a record says which
other nnbench jobs shared the host while it ran instead of claiming it had the host alone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from helpers import start_cli

from nnbench.runner import registry

QUICK = ("bench.mfu=false", "bench.memory_probe=false")


def start(runs: Path, *overrides: str, env: dict | None = None) -> subprocess.Popen:
    return start_cli(f"runs_dir={runs}", *QUICK, *overrides, env=env)


def finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    return out


def records(runs: Path) -> dict[str, dict]:
    """Each run folder's record, by folder name."""
    found = {}
    for path in runs.rglob("result.json"):
        found[path.parent.name] = json.loads(path.read_text())
    return found


@pytest.mark.slow
def test_two_runs_started_together_keep_their_own_folder_config_and_record(tmp_path):
    runs = tmp_path / "scratch"
    procs = [start(runs, "train.epochs=20"), start(runs, "train.epochs=20", "train.lr=0.1")]
    for proc in procs:
        finish(proc)
    folders = sorted((runs / "default").iterdir())
    assert len(folders) == 2, folders
    lrs = []
    for folder in folders:
        record = json.loads((folder / "result.json").read_text())
        config = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        assert record["status"] == "ok" and record["lr"] == config["train"]["lr"]
        assert record["output_dir"] == str(folder)
        lrs.append(record["lr"])
    assert sorted(lrs) == [0.1, 0.5]


@pytest.mark.slow
def test_jobs_that_overlap_are_not_exclusive_and_name_each_other(tmp_path):
    """A long job runs; two short ones start together while it does. Every record names the
    jobs it overlapped; none claims the host."""
    runs = tmp_path / "scratch"
    env = {**os.environ, registry.ENV: str(tmp_path / "registry")}
    # batches of one sample: about 60 ms an epoch on a quiet 2-core machine, ~10 s in all,
    # where the short ones take ~4 s from their start (the assertion below says if not)
    long = start(runs, "experiment_name=long", "train.batch_size=1", "train.epochs=160",
                 "bench.phases=false", "bench.accuracy_per_epoch=false", env=env)
    deadline = time.time() + 120
    while not list((tmp_path / "registry").glob(f"*{registry.SUFFIX}")):
        assert long.poll() is None and time.time() < deadline, "the long job never started"
        time.sleep(0.1)
    short = [start(runs, "experiment_name=short", "train.epochs=20", f"train.lr={lr}", env=env)
             for lr in (0.1, 0.2)]
    for proc in short:
        finish(proc)
    assert long.poll() is None, "the long job ended before the short ones: make it longer"
    finish(long, timeout=600)

    by_name = {rec["experiment_name"] + str(rec["lr"]): rec for rec in records(runs).values()}
    assert set(by_name) == {"long0.5", "short0.1", "short0.2"}
    for rec in by_name.values():
        assert rec["status"] == "ok" and rec["exclusive"] is False
        assert rec["parallel_jobs"] == 1  # no launcher knew: only the registry did
        others = {Path(job["output_dir"]).parent.name for job in rec["overlapping_jobs"]}
        warning = next(w for w in rec["warnings"] if w.startswith("not exclusive"))
        for job in rec["overlapping_jobs"]:
            assert job["job"] and job["started_utc"] and f"pid {job['pid']}" in warning
        # one line naming the fix; the folders are in overlapping_jobs, not in the warning
        assert warning.endswith("run one sweep at a time, or one job at a time (no parallel "
                                "launcher)") and "\n" not in warning
        assert not any(job["output_dir"] in warning for job in rec["overlapping_jobs"])
        if rec["experiment_name"] == "long":
            assert others == {"short"} and len(rec["overlapping_jobs"]) == 2
        else:
            assert "long" in others
    long_dir = by_name["long0.5"]["output_dir"]
    for name in ("short0.1", "short0.2"):
        assert long_dir in {job["output_dir"] for job in by_name[name]["overlapping_jobs"]}


# --- the registry on its own -----------------------------------------------------------------


@pytest.fixture
def where(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "registry"
    monkeypatch.setenv(registry.ENV, str(folder))
    return folder


def _entry(where: Path, pid: int, started: float, ended: float | None = None,
           process_start: str | None = None) -> Path:
    """An entry as another job would have written it."""
    where.mkdir(parents=True, exist_ok=True)
    import socket

    from nnbench.files import owner

    path = where / f"{owner()}.{pid}.{int(started * 1e9)}{registry.SUFFIX}"
    path.write_text(json.dumps({
        "pid": pid, "host": socket.gethostname(), "owner": owner(), "started": started,
        "ended": ended, "process_start": process_start or registry._process_start(pid),
        "job": "other job", "output_dir": f"/runs/{pid}"}))
    return path


def _run(tmp_path: Path, during=lambda: None) -> dict:
    fields = {"exclusive": True, "warnings": []}
    running = registry.start(tmp_path / "job", {"framework": "numpy"})
    during()
    registry.end(running, fields)
    return fields


def test_a_job_alone_stays_exclusive_and_leaves_an_ended_entry(tmp_path, where):
    fields = _run(tmp_path)
    assert fields == {"exclusive": True, "warnings": []}
    (entry,) = where.glob(f"*{registry.SUFFIX}")
    assert json.loads(entry.read_text())["ended"] is not None
    assert _run(tmp_path)["exclusive"] is True  # an ended job before this one is no overlap


def test_a_live_job_is_named_and_a_dead_or_reused_pid_is_not(tmp_path, where):
    sleeper = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        live = _entry(where, sleeper.pid, time.time() - 5)
        # started before the live one: no job still running can have started before them
        crashed = _entry(where, dead.pid, time.time() - 10, process_start="1")
        reused = _entry(where, os.getppid(), time.time() - 10, process_start="1")
        fields = _run(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert fields["exclusive"] is False
    assert [job["pid"] for job in fields["overlapping_jobs"]] == [sleeper.pid]
    assert f"pid {sleeper.pid} (other job, /runs/{sleeper.pid})" in fields["warnings"][0]
    assert live.exists()
    assert not crashed.exists() and not reused.exists()  # nobody running can need them


def test_jobs_that_start_or_end_during_a_run_overlap_it(tmp_path, where):
    def meanwhile():
        now = time.time()
        _entry(where, 999_999_999, now, ended=now)  # came and went
    fields = _run(tmp_path, meanwhile)
    assert [job["pid"] for job in fields["overlapping_jobs"]] == [999_999_999]
    before = _entry(where, 999_999_998, time.time() - 60, ended=time.time() - 30)
    assert _run(tmp_path)["exclusive"] is True  # ended before this one began
    assert not before.exists()


def test_an_unusable_registry_makes_exclusive_unknown(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(registry.ENV, str(blocker))
    fields = _run(tmp_path)
    assert fields["exclusive"] is None
    assert fields["warnings"][0].startswith("could not tell whether other nnbench jobs ran")
