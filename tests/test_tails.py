"""Tail latency (``nnbench.stats.tails``): percentiles against samples whose tail is known, the
minimum calls each percentile needs, and the record and report that carry them."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nnbench import inference
from nnbench.bounds import Tail
from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.render import tails as report_tails
from nnbench.stats import tails


def exact_cdf(n: int, q: Fraction, t: int) -> float:
    return float(sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(t + 1)))


@pytest.mark.parametrize(("n", "q", "t"), [(20, Fraction(1, 10), 3), (662, Fraction(1, 100), 1),
                                           (2000, Fraction(1, 10), 170), (11, Fraction(1, 2), 1)])
def test_the_binomial_tail_in_log_space_matches_exact_fractions(n, q, t):
    assert tails.binomial_cdf(n, float(q))[t] == pytest.approx(exact_cdf(n, q, t), rel=1e-9)


def test_minimum_calls_are_mlperf_loadgens():
    # LoadGen's SingleStream: "Processed at least 64 queries" for the p90 early-stopping
    # estimate, 662 for its 99th-percentile one (confidence 0.99, tolerance 0)
    assert tails.MIN_CALLS == {"p50": 11, "p90": 64, "p99": 662}
    for name, percent in tails.PERCENTILES.items():
        n = tails.MIN_CALLS[name]
        q = Fraction(100 - percent, 100)
        assert exact_cdf(n, q, 1) <= 0.01 < exact_cdf(n - 1, q, 1)


def test_one_percent_ten_times_slower_has_a_fast_p99_and_a_slow_max():
    calls = np.full(10_000, 1e-3)
    calls[np.random.default_rng(0).choice(10_000, 100, replace=False)] = 1e-2
    tail = tails.tail(calls)
    assert tail["calls"] == 10_000 and tail["omitted"] == {}
    # the nearest rank: 99% of the calls do not exceed 1 ms, so the p99 is 1 ms
    assert (tail["p50"], tail["p90"], tail["p99"], tail["max"]) == (1e-3, 1e-3, 1e-3, 1e-2)
    # 100 slow calls in 10,000 cannot show that the true p99 is fast: its bound is slow
    assert tail["p99_bound"] == 1e-2 and tail["p90_bound"] == 1e-3


def test_two_percent_slow_calls_make_the_p99_slow():
    calls = np.r_[np.full(9_800, 1e-3), np.full(200, 1e-2)]
    tail = tails.tail(calls[::-1])
    assert (tail["p90"], tail["p99"]) == (1e-3, 1e-2)


def test_percentiles_of_exponential_draws_are_its_quantiles_and_the_bounds_cover_them():
    scale = 2e-4
    calls = np.random.default_rng(1).exponential(scale, 10_000)
    tail = tails.tail(calls)
    for name, percent in tails.PERCENTILES.items():
        true = -scale * math.log(1 - percent / 100)  # the exponential's quantile
        assert tail[name] == pytest.approx(true, rel=0.08), name
        assert tail[name] <= tail[f"{name}_bound"]
        assert true <= tail[f"{name}_bound"] <= true * 1.15, name
    assert tail["max"] == calls.max()


def test_fifty_calls_keep_the_p50_and_omit_the_p90_and_the_p99_with_the_reason():
    tail = tails.tail(np.arange(1, 51) * 1e-3)
    assert tail["p50"] == 25e-3 and tail["max"] == 50e-3 and tail["calls"] == 50
    assert tail["p90"] is None and tail["p99"] is None and tail["p99_bound"] is None
    assert set(tail["omitted"]) == {"p90", "p99"}
    assert tail["omitted"]["p99"] == ("50 calls; p99 needs at least 662 (MLPerf's "
                                      "early-stopping minimum at 99% confidence)")
    assert "p90 needs at least 64" in tail["omitted"]["p90"]


@pytest.mark.parametrize("name", ["p50", "p90", "p99"])
def test_at_the_minimum_the_bound_is_the_second_slowest_call_and_one_call_fewer_omits_it(name):
    n = tails.MIN_CALLS[name]
    kept = tails.tail(np.arange(1, n + 1) * 1e-6)
    assert name not in kept["omitted"] and kept[f"{name}_bound"] == pytest.approx((n - 1) * 1e-6)
    assert kept[name] <= kept[f"{name}_bound"] < kept["max"]
    short = tails.tail(np.arange(1, n) * 1e-6)
    assert short[name] is None and short[f"{name}_bound"] is None
    assert short["omitted"][name].startswith(f"{n - 1} calls; {name} needs at least {n} ")
    assert short["max"] == pytest.approx((n - 1) * 1e-6)


def test_no_calls_is_a_tail_of_nothing_that_says_why():
    tail = tails.tail([])
    assert tail["calls"] == 0 and tail["max"] is None and set(tail["omitted"]) == {"p50", "p90",
                                                                                   "p99"}


def test_the_record_holds_a_tail_as_computed():
    tail = tails.tail(np.arange(1, 101) * 1e-3)
    held = Tail.model_validate(tail).model_dump()
    assert held == tail
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Tail.model_validate({**tail, "p90": -1.0})


def test_inference_gives_each_kind_of_call_its_tail_over_the_calls_it_timed():
    # a trainer whose calls cost next to nothing: the call counts reach their minimums
    trainer = SimpleNamespace(sync=lambda: None, cuda_events=lambda: None,
                              prepare=lambda x: x, infer=lambda x: x)
    ds = SimpleNamespace(x_test=np.zeros((6, 2)))
    figures, _ = inference.measure(trainer, ds, SimpleNamespace(inference_batch_size=4))
    raw = figures.inference_samples_s
    for tail, calls, kept in ((figures.inference_batch1_tail_s, raw["batch1"], "p99"),
                              (figures.inference_batched_tail_s, raw["batched_call"], "p90")):
        assert tail.calls == len(calls) >= tails.MIN_CALLS[kept]
        assert tail.model_dump() == tails.tail(calls)
        assert getattr(tail, kept) is not None and tail.max == max(calls)


def _job(root: Path, framework: str, batch1_calls: int) -> None:
    calls = list(np.random.default_rng(batch1_calls).exponential(1e-5, batch1_calls))
    rec = {"status": "ok", "experiment_name": "demo", "framework": framework, "device": "cpu",
           "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
           "batch_size": None, "epochs": 3, "lr": 0.5, "init": "he_normal",
           "environment": {"hostname": "hostA", "time_utc": "2026-01-01T00:00:00Z"},
           "train_time_per_epoch_s": 1e-3, "test_accuracy": 0.9,
           "inference_latency_batch1_s": float(np.median(calls)),
           "inference_batch1_tail_s": tails.tail(calls),
           "inference_batched_tail_s": tails.tail(calls[:70])}
    job = root / framework
    (job / ".hydra").mkdir(parents=True)
    write_result(job, rec)


def test_the_report_tabulates_the_tails_with_their_calls_and_a_dash_with_the_reason(tmp_path):
    runs = tmp_path / "runs"
    _job(runs, "numpy", 1000)
    _job(runs, "torch", 300)
    assert report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"]) == 0
    summary = (tmp_path / "report" / "summary.md").read_text()
    lines = summary.split(f"### {report_tails.TITLE}")[1].split("\n\n")[1].splitlines()
    head = [cell.strip() for cell in lines[0].split("|")]
    rows = {(row["framework"], row["call"]): row for row in
            (dict(zip(head, (cell.strip() for cell in line.split("|")), strict=True))
             for line in lines[2:])}
    assert len(rows) == 4
    numpy_b1, torch_b1 = rows[("numpy", "batch 1")], rows[("torch", "batch 1")]
    assert (numpy_b1["calls"], torch_b1["calls"]) == ("1000", "300")
    assert re.fullmatch(r"[\d.]+ us \(≤ [\d.]+ us\)", numpy_b1["p99"])  # p99 and its bound
    assert torch_b1["p99"] == "— (300 calls; p99 needs at least 662)"
    batched = rows[("torch", "whole test set")]  # 70 calls: the p90 kept, the p99 not
    assert batched["calls"] == "70" and not batched["p90"].startswith("—")
    assert batched["p99"] == "— (70 calls; p99 needs at least 662)"
    page = (tmp_path / "report" / "report.html").read_text()
    assert "— (300 calls; p99 needs at least 662)" in page
