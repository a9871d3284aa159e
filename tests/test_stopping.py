"""Adaptive rounds stop on the interval without biasing it: the coverage of the interval at the
stop, over many simulated sweeps whose true ratio is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import run_cli

from nnbench.stats import stopping


def _lognormal(median: float, spread: float):
    return lambda rng: float(median * math.exp(rng.normal(0, spread)))


@pytest.mark.parametrize(("ratio", "spread", "target"), [
    (0.4, 0.03, 0.05),   # a clear difference, typical process-to-process spread
    (1.0, 0.04, 0.05),   # no difference, noisier processes: stops anywhere from 6 to 20 rounds
    (2.0, 0.10, 0.05),   # noisy enough that the cap is reached often
])
def test_the_interval_at_the_stop_covers_the_true_ratio(ratio, spread, target):
    trials, max_rounds = 200, 20
    covered, used = 0, []
    for trial in range(trials):
        n, _, lo, hi = stopping.rounds_needed(_lognormal(ratio, spread), _lognormal(1.0, spread),
                                              target, max_rounds, seed=trial)
        covered += lo <= ratio <= hi
        used.append(n)
    assert covered / trials >= 0.9 * 0.95, f"coverage {covered / trials:.3f}"
    assert min(used) >= stopping.MIN_ROUNDS and max(used) <= max_rounds


def test_rounds_stop_when_the_interval_is_narrow_and_not_before_the_minimum():
    n, ratio, lo, hi = stopping.rounds_needed(_lognormal(0.5, 0.005), _lognormal(1.0, 0.005),
                                              0.05, 20)
    assert n == stopping.MIN_ROUNDS  # settled at once, but not before the minimum
    assert stopping.half_width(ratio, lo, hi) <= stopping.STRICTER * 0.05
    n, *_ = stopping.rounds_needed(_lognormal(0.5, 0.5), _lognormal(1.0, 0.5), 0.05, 12)
    assert n == 12  # never settles: the cap


def test_a_ratio_without_an_interval_is_not_settled():
    assert not stopping.settled([math.nan], 10, 0.05)
    assert not stopping.settled([], 10, 0.05)
    assert np.isnan(stopping.half_width(1.0, math.nan, 1.1))
    assert stopping.settled([0.04], 5, 0.05) and not stopping.settled([0.048], 5, 0.05)


@pytest.mark.slow
def test_an_auto_sweep_stops_and_says_why(tmp_path):
    done = run_cli("-m", "framework=numpy,torch", "bench.rounds=auto", "bench.max_rounds=5",
                   "bench.budget_s=null", "train.epochs=3", "bench.warmup_epochs=1",
                   "bench.mfu=false", "bench.memory_probe=false", f"runs_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    (stop,) = tmp_path.rglob("rounds.json")
    why = json.loads(stop.read_text())
    assert why["rounds"] == 5 and why["target_ci"] == 0.05  # the cap: 3 epochs never settle
    assert why["reason"].startswith(("cap of 5 rounds reached", "every ratio's interval"))
    assert "nnbench: round 2: widest ratio interval" in done.stdout
    records = [json.loads(p.read_text()) for p in tmp_path.rglob("result.json")]
    assert sorted(r["round"] for r in records) == sorted(list(range(5)) * 2)
    assert all(r["rounds"] is None for r in records)  # rounds.json says how many
    report = run_cli(str(tmp_path), "--out", str(tmp_path / "report"), "--no-progress",
                     module="nnbench.report")
    assert report.returncode == 0, report.stderr
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "## Why the rounds stopped" in summary and why["reason"] in summary


@pytest.mark.parametrize(("overrides", "line"), [
    (["bench.rounds=auto", "bench.max_rounds=3"],
     "bench.max_rounds=3 must be at least 5 with bench.rounds=auto"),
    (["bench.rounds=auto", "bench.target_ci=1.5"], "bench.target_ci=1.5 must lie in (0, 1)"),
    (["bench.rounds=often"], "bench.rounds='often' is not a number of rounds; allowed: a whole "
                             "number > 0, or auto"),
])
def test_bad_round_settings_are_refused_in_one_line(tmp_path, overrides, line):
    done = run_cli("-m", "framework=numpy", *overrides, f"runs_dir={tmp_path}")
    assert done.returncode == 2 and line in done.stderr, done.stderr
    assert not any(tmp_path.rglob("result.json"))


def test_the_budget_ends_rounds_only_after_the_minimum_or_at_once_when_it_would_not_fit():
    wide = [0.2]
    def reason(rounds, spent, budget, round_s=1.0, done=False):
        return stopping.stop_reason(wide, rounds, 0.05, done, spent, budget, lambda: round_s)
    assert reason(1, 2.0, 60) is None  # five rounds of ~1 s fit in 60 s
    one = reason(1, 20.0, 60, round_s=15.0)  # 20 + 4 x 15 s would not
    assert one and "would take about 80 s, past bench.budget_s=60" in one
    assert reason(3, 50.0, 60) is None  # the minimum first, budget or not
    assert reason(5, 40.0, 60) is None  # a sixth round ends at ~48 s
    late = reason(5, 55.0, 60)
    assert late and late.startswith("time budget of 60 s (bench.budget_s) reached after 5")
    assert reason(7, 500.0, None) is None  # no budget: the target or the cap
    assert stopping.stop_reason([0.01], 5, 0.05, False, 500.0, 60, lambda: 1.0).startswith(
        "every ratio's interval within ±1.0% after 5 rounds")
    assert stopping.stop_reason([], 1, 0.05, False, 1.0, 60, lambda: 1.0).startswith(
        "no two frameworks ran")

