"""``python -m nnbench`` end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def nnbench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nnbench", *args, f"runs_dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )


def results(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


@pytest.mark.slow
def test_sweep_over_frameworks_and_devices_records_every_job(tmp_path):
    proc = nnbench(tmp_path, "-m", "framework=numpy,torch", "device=cpu,cuda", "train.epochs=50")
    assert proc.returncode == 0, proc.stderr
    records = results(tmp_path)
    assert len(records) == 4
    by_job = {(r["framework"], r["device"]): r for r in records}
    for framework in ("numpy", "torch"):
        ok = by_job[(framework, "cpu")]
        assert ok["status"] == "ok" and ok["reason"] is None
        assert len(ok["loss_history"]) == 50 and ok["train_time_per_epoch_s"] > 0
        assert 0.5 < ok["test_accuracy"] <= 1
        assert ok["arch"] == "2x32x16x1" and ok["n_params"] == 641
        assert ok["environment"]["torch"] and ok["environment"]["numpy"]
        assert ok["config"]["train"]["epochs"] == 50
    if any(r["status"] == "ok" for r in records if r["device"] == "cuda"):
        pytest.skip("this host has CUDA; the skip path is tested on CPU-only hosts")
    for framework in ("numpy", "torch"):
        skipped = by_job[(framework, "cuda")]
        assert skipped["status"] == "skipped" and "CUDA" in skipped["reason"]
    # one console line per job, naming how it ended
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith(("numpy", "torch"))]
    assert len(lines) == 4 and sum(" skipped " in ln for ln in lines) == 2


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train.lr=-1"], "train.lr=-1.0 must be > 0"),
        (["framework=jax"], "framework=jax is not an option; allowed: numpy, textbook, torch"),
        (["arch.layer_sizes=[3,32,16,1]"], "arch.layer_sizes[0]=3 does not fit dataset 'moons'"),
        (["trian.lr=0.1"], "trian.lr is not a configuration key"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line_and_no_traceback(tmp_path, args, expected):
    proc = nnbench(tmp_path, *args)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert expected in lines[0]
    # a rejected configuration trains nothing: no record claims a result
    assert all(r["status"] == "failed" for r in results(tmp_path))


def test_rounds_run_the_whole_sweep_round_after_round(tmp_path):
    proc = nnbench(tmp_path, "-m", "bench.rounds=2", "framework=numpy,torch", "train.epochs=2",
                   "bench.mfu=false", "bench.memory_probe=false", "bench.isolate=false",
                   "bench.min_samples=0")
    assert proc.returncode == 0, proc.stderr
    jobs = sorted((p.parent for p in tmp_path.rglob("result.json")),
                  key=lambda job: int(job.name.split("-")[0]))  # Hydra's job number
    order = [(r["round"], r["framework"]) for r in map(
        lambda job: json.loads((job / "result.json").read_text()), jobs)]
    assert order == [(0, "numpy"), (0, "torch"), (1, "numpy"), (1, "torch")]
    records = results(tmp_path)
    assert {r["rounds"] for r in records} == {2}
    assert len({r["job_key"] for r in records}) == 4  # the round is part of a job's identity
    # the sweep ends with the ratio of each configuration, pooled over its rounds
    assert "nnbench: numpy/torch time per epoch, moons 2x32x16x1 float32 full batch cpu: " \
        in proc.stdout
    assert "95% CI over rounds (2 vs 2 fresh processes)" in proc.stdout


def test_rounds_is_a_number_not_a_sweep(tmp_path):
    proc = nnbench(tmp_path, "-m", "bench.rounds=2,3", "train.epochs=2")
    assert proc.returncode == 2
    assert "bench.rounds is how many rounds the sweep runs" in proc.stderr
    assert results(tmp_path) == []


def test_a_job_key_includes_its_round_but_not_the_number_of_rounds():
    from nnbench.run.resume import job_key

    def config(round_: int, rounds: int) -> dict:
        return {"bench": {"round": round_, "rounds": rounds, "resume": False}, "runs_dir": "x"}

    assert job_key(config(1, 3), "v") == job_key(config(1, 5), "v")
    assert job_key(config(1, 3), "v") != job_key(config(2, 3), "v")
