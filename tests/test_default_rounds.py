"""The main command answers across processes by default: ``bench.rounds=auto`` unless a number is
given, at least five rounds of fresh processes when a sweep compares frameworks and they fit
``bench.budget_s``, one round (said as one run, without an interval) when they would not, or
when nothing is compared."""

from __future__ import annotations

import json
import os
import re

import pytest
from helpers import run_cli

from nnbench.stats.stopping import MIN_ROUNDS

QUICK = ("train.epochs=3", "bench.warmup_epochs=1", "bench.mfu=false", "bench.min_samples=0",
         "bench.memory_probe=false", "bench.phases=false", "bench.accuracy_per_epoch=false")


def _default_env() -> dict:
    """This environment without the suite's NNBENCH_ROUNDS=1: the default a user gets."""
    return {k: v for k, v in os.environ.items() if k != "NNBENCH_ROUNDS"}


def _closing(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines()
            if " than " in line or "difference between" in line or "cannot tell" in line]


@pytest.mark.slow
def test_the_default_sweep_pools_rounds_of_fresh_processes(tmp_path):
    done = run_cli("-m", "framework=numpy,torch", *QUICK, "bench.budget_s=900",
                   f"runs_dir={tmp_path}", env=_default_env())
    assert done.returncode == 0, done.stderr[-2000:]
    (stop,) = tmp_path.rglob("rounds.json")
    rounds = json.loads(stop.read_text())["rounds"]
    assert rounds >= MIN_ROUNDS
    (line,) = _closing(done.stdout)
    over = re.search(r"95% CI over (\d+) vs (\d+) rounds of fresh processes", line)
    assert over and int(over[1]) == int(over[2]) == rounds, line
    assert "one process per side" not in line


def test_rounds_that_would_not_fit_the_budget_leave_one_run_said_as_one(tmp_path):
    done = run_cli("-m", "framework=numpy,torch", *QUICK, "bench.budget_s=0.5",
                   f"runs_dir={tmp_path}", env=_default_env())
    assert done.returncode == 0, done.stderr[-2000:]
    (stop,) = tmp_path.rglob("rounds.json")
    why = json.loads(stop.read_text())
    assert why["rounds"] == 1
    assert "past bench.budget_s=0.5; bench.rounds=5 runs them" in why["reason"], why
    assert len(list(tmp_path.rglob("result.json"))) == 2
    (line,) = _closing(done.stdout)
    assert line.startswith("nnbench: in one run, ") and "[" not in line, line
    assert "not yet an answer" in line and "bench.rounds=5 repeats it" in line


def test_a_sweep_that_compares_nothing_runs_once(tmp_path):
    done = run_cli("-m", "framework=numpy", "dataset.n_samples=200,400", *QUICK,
                   f"runs_dir={tmp_path}", env=_default_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(tmp_path.rglob("result.json"))) == 2
    (stop,) = tmp_path.rglob("rounds.json")
    assert json.loads(stop.read_text())["reason"].startswith("no two frameworks ran")


def test_a_single_run_takes_the_default_and_refuses_a_number_of_rounds(tmp_path):
    single = run_cli(*QUICK, f"runs_dir={tmp_path / 'one'}", env=_default_env())
    assert single.returncode == 0, single.stderr[-2000:]
    (record,) = (json.loads(p.read_text()) for p in (tmp_path / "one").rglob("result.json"))
    assert record["status"] == "ok" and record["round"] == 0
    refused = run_cli("bench.rounds=3", f"runs_dir={tmp_path / 'three'}")
    assert refused.returncode == 2
    assert "bench.rounds=3 replicates a sweep in rounds of fresh processes: add -m" \
        in refused.stderr, refused.stderr


def test_the_environment_sets_the_default_and_a_bad_budget_is_refused(tmp_path):
    env = {**_default_env(), "NNBENCH_ROUNDS": "2"}
    done = run_cli("-m", "framework=numpy,torch", *QUICK, f"runs_dir={tmp_path / 'two'}",
                   env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in (tmp_path / "two").rglob("result.json")]
    assert sorted(r["round"] for r in records) == [0, 0, 1, 1]
    bad = run_cli("-m", "framework=numpy,torch", "bench.budget_s=-1",
                  f"runs_dir={tmp_path / 'bad'}", env=_default_env())
    assert bad.returncode == 2
    assert "bench.budget_s=-1.0 must be a number of seconds > 0, or null" in bad.stderr, \
        bad.stderr
