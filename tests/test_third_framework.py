"""A framework nnbench has never heard of: one module and one YAML, both under tests/.

The sweep goes through the real command line and Hydra; nothing under nnbench/ names it.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from helpers import TESTS, run_cli


def test_a_cpu_framework_implements_seven_members_of_the_contract_and_two_it_needs():
    """What the contract asks of a CPU framework is small: noblas defines the seven required
    members, ``check_model`` (it trains ReLU networks only) and ``matmul_size`` (its matmul is
    too slow for the default calibration); its own helpers are private, and ``predict``, the
    device probes and the rest come from the base."""
    sys.path.insert(0, str(TESTS))
    try:
        from frameworks.noblas import NoBlasTrainer
    finally:
        sys.path.remove(str(TESTS))
    from nnbench.frameworks.base import ExportsParameters, Trainer

    public = sorted(k for k in vars(NoBlasTrainer) if not k.startswith("_"))
    assert public == ["check_model", "infer", "matmul_kernel", "matmul_size", "name", "prepare",
                      "set_train_data", "skip_reason", "train_epoch"]
    contract = {k for k in dir(Trainer) if not k.startswith("_")}
    assert set(public) <= contract | {"name"}
    assert not issubclass(NoBlasTrainer, ExportsParameters)  # an optional capability


@pytest.mark.slow
def test_a_third_framework_runs_beside_numpy_and_torch_and_gets_its_column(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(TESTS)}  # where frameworks/noblas.py lives
    sweep = run_cli("-m", "framework=numpy,torch,noblas",
                    f"hydra.searchpath=[file://{TESTS / 'conf'}]", f"runs_dir={tmp_path / 'runs'}",
                    "precision=float64", "train.epochs=30", env=env)
    assert sweep.returncode == 0, sweep.stderr
    assert "3 jobs: 3 ok" in sweep.stdout
    records = {}
    for path in (tmp_path / "runs").rglob("result.json"):
        rec = json.loads(path.read_text())
        records[rec["framework"]] = rec
    assert sorted(records) == ["noblas", "numpy", "torch"]
    assert all(r["status"] == "ok" for r in records.values())
    # its peak is its own n x n matmul, counted as such: MFU is a share of it, not 512x off
    noblas = records["noblas"]
    assert noblas["matmul_peak"]["n"] == 384 and noblas["matmul_peak"]["gflops"] > 0
    assert 0 < noblas["mfu"] <= 1
    # same start, same batches, same math: the loss histories agree in float64
    for other in ("numpy", "torch"):
        np.testing.assert_allclose(records["noblas"]["loss_history"],
                                   records[other]["loss_history"], rtol=1e-9)

    report = run_cli(str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--no-progress",
                     module="nnbench.report", env=env)
    assert report.returncode == 0, report.stderr
    summary = (tmp_path / "report" / "summary.md").read_text()
    header = next(line for line in summary.splitlines() if "numpy cpu" in line)
    assert "noblas cpu" in header and "torch cpu" in header
    assert "numpy/torch cpu" in header  # the headline pair keeps its ratio column


def test_a_network_the_third_framework_cannot_train_is_refused_before_any_job(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = run_cli("framework=noblas", "arch.activations=[tanh,tanh,sigmoid]",
                   f"hydra.searchpath=[file://{TESTS / 'conf'}]", f"runs_dir={tmp_path}",
                   env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("nnbench: error: framework=noblas trains ReLU networks with bce or "
                           "cross_entropy only, not tanh/tanh with bce\n")
    assert not list(tmp_path.iterdir())  # refused before its folder was made
