"""Answers that say what really happened: data that is not finite is named before training,
a disk that fills mid-sweep is not called a refused configuration, swept keys label the closing
lines, a cost model without spread in its sizes says so, and the command line's own help and
flags read plainly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from nnbench import data
from nnbench.errors import DataError

TINY = ["train.epochs=2", "bench.warmup_epochs=0", "dataset.n_samples=200", "bench.mfu=false",
        "bench.memory_probe=false", "bench.min_samples=0"]


def records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


def test_features_that_overflow_the_jobs_precision_fail_the_job_before_training(tmp_path):
    proc = run_cli("dataset.noise=1e300", *TINY, f"runs_dir={tmp_path}")
    assert proc.returncode == 1, proc.stderr[-2000:]
    (rec,) = records(tmp_path)
    assert rec["status"] == "failed" and rec["error_type"] == "DataError"
    assert rec["reason"] == ("dataset moons: the features are not finite in float32 (320 of 320 "
                             "training values, 80 of 80 test values NaN, infinite or beyond "
                             "3.4e+38); check the dataset's settings (its noise, its scale)")
    assert not rec.get("loss_history")  # no epoch ran


@pytest.mark.parametrize(("dtype", "value", "finite"), [
    ("float32", 1e300, False), ("float64", 1e300, True), ("float16", 7e4, False),
    ("bfloat16", 7e4, True), ("float32", np.nan, False), ("float64", np.inf, False),
    ("float32", 3e38, True),
])
def test_finite_means_finite_in_the_precision_the_trainers_cast_to(dtype, value, finite):
    x = np.zeros((4, 2))
    x[1, 1] = value
    ds = data.Dataset("moons", x, np.zeros(4, np.int64), np.zeros((2, 2)), np.zeros(2, np.int64),
                      ("a", "b"))
    if finite:
        data.check_finite(ds, dtype)
    else:
        with pytest.raises(DataError, match=rf"^dataset moons: the features are not finite in "
                                            rf"{dtype} \(1 of 8 training values NaN"):
            data.check_finite(ds, dtype)


def test_cfg_with_a_sweep_says_what_to_do_instead_of_hydras_flag_list(tmp_path):
    proc = run_cli("-m", "--cfg", "job", "framework=numpy,torch", f"runs_dir={tmp_path}")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("nnbench: error: -m (a sweep) and --cfg, --info or --shell-completion "
                           "do not go together: --cfg job shows one job's configuration; drop -m "
                           "and give each key one value (python -m nnbench --cfg job "
                           "framework=torch)\n")


def test_the_reports_help_reads_without_restructuredtext_quotes():
    proc = run_cli("--help", module="nnbench.report")
    assert proc.returncode == 0 and "``" not in proc.stdout
    assert "--baseline DIR --candidate DIR compares two sets of runs" in \
        " ".join(proc.stdout.split())


def test_a_job_folder_holds_no_empty_log_file(tmp_path):
    proc = run_cli("-m", "framework=numpy", *TINY, f"runs_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (job,) = [p.parent for p in tmp_path.rglob("result.json")]
    assert sorted(p.name for p in job.iterdir()) == [".hydra", "result.json"]


def test_the_closing_lines_of_a_sweep_name_the_key_that_tells_them_apart(tmp_path):
    proc = run_cli("-m", "framework=numpy,torch", "train.lr=0.01,0.05", *TINY,
                   f"runs_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    labels = [re.search(r" on (moons .*? cpu)", line)[1] for line in proc.stdout.splitlines()
              if " on moons " in line]
    assert labels == ["moons 2x32x16x1, float32, full batch, lr 0.01, cpu",
                      "moons 2x32x16x1, float32, full batch, lr 0.05, cpu"]
