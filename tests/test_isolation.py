"""Every job in a fresh process forked from a warm one per framework (nnbench.runner.warm)."""

from __future__ import annotations

import pytest

from nnbench import runner
from nnbench.runner import warm

QUICK = ("train.epochs=3", "bench.mfu=false")


@pytest.mark.slow
def test_a_numpy_job_never_holds_torch_even_after_torch_jobs(make_cfg, tmp_path):
    first = runner.run(make_cfg("framework=torch", *QUICK), tmp_path / "torch")
    numpy_job = runner.run(make_cfg("framework=numpy", *QUICK), tmp_path / "numpy")
    assert first["status"] == numpy_job["status"] == "ok"
    # torch_threads is read only where torch is imported: the NumPy job's process has none
    assert numpy_job["environment"]["torch_threads"] is None
    assert first["environment"]["torch_threads"] is not None
    # and its memory does not carry torch's libraries (~400 MB here)
    assert numpy_job["rss_baseline_mb"] < first["rss_baseline_mb"] - 150


def test_each_job_is_a_new_process_of_its_frameworks_warm_one(make_cfg, tmp_path):
    pids = []
    for i in range(2):
        rec = runner.run(make_cfg("framework=numpy", "bench.memory_probe=false", *QUICK),
                         tmp_path / str(i))
        assert rec["status"] == "ok"
        pids.append(rec["environment"]["pid"])
    assert pids[0] != pids[1]  # a fresh process per job
    target = "nnbench.frameworks.numpy.NumpyTrainer"
    assert warm.warm_process(target).process.pid not in pids  # the warm one runs no job
