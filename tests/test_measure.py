"""Each probe measures what it claims (generous bounds: these machines are shared and noisy)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from nnbench import runner, stats
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.measure import flops, memory, peak, threads, timing


def test_a_known_sleep_is_timed_as_at_least_its_length_and_not_twice_it():
    # a sleep lasts at least what was asked; how much longer depends on a shared host's load
    # (20 ms read 23.8 ms with the suite running beside it), so the upper bound is generous
    for seconds in (0.02, 0.1):
        _, measured = timing.timed(lambda s=seconds: time.sleep(s), lambda: None)
        assert seconds <= measured < seconds * 2


def test_timed_waits_for_the_sync_before_reading_the_clock():
    # an "asynchronous" launch that returns at once; the sync is where the work is waited for
    _, measured = timing.timed(lambda: None, lambda: time.sleep(0.03))
    assert measured >= 0.03


def test_summary_statistics_of_known_samples():
    stats = timing.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats["median"] == 3.0 and stats["min"] == 1.0 and stats["max"] == 100.0
    assert stats["q1"] == 2.0 and stats["q3"] == 4.0 and stats["iqr"] == 2.0
    assert stats["cv"] == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1) / 22.0)


MB200 = 200 * 1024 * 1024


def test_numpy_allocation_is_seen_by_tracemalloc_and_rss():
    with memory.RssSampler() as rss, memory.TracemallocPeak() as traced:
        block = np.ones(MB200 // 8)  # touched, so resident
        time.sleep(0.05)
        del block
    assert 190 < traced.peak_mb < 260
    assert rss.delta_mb > 180


def test_torch_allocation_is_seen_by_rss_but_not_by_tracemalloc():
    with memory.RssSampler() as rss, memory.TracemallocPeak() as traced:
        block = torch.ones(MB200 // 4, dtype=torch.float32)
        time.sleep(0.05)
        del block
    assert traced.peak_mb < 10
    assert rss.delta_mb > 180


def test_flops_of_a_small_architecture_equal_a_hand_count():
    # 2 -> 3 -> 4. Forward: 2*(2*3) + 2*(3*4) = 36 per sample.
    assert flops.inference_flops_per_sample([2, 3, 4]) == 36
    # Training: layer 1 forward + weight grad = 2 * 12 = 24; layer 2 forward + weight grad +
    # input grad = 3 * 24 = 72; 96 per sample.
    assert flops.train_flops_per_sample([2, 3, 4]) == 96
    assert flops.train_flops_per_epoch([2, 3, 4], 10) == 960


def test_thread_limit_holds_blas_and_torch_and_is_restored():
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    with threads.limited(1) as count:
        assert count == 1 and torch.get_num_threads() == 1
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert torch.get_num_threads() == before


def test_matmul_peak_is_measured_once_then_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("NNBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(peak, "SIZES", {"cpu": 256, "cuda": 256})
    first = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
    assert first["gflops"] > 0.1 and first["n"] == 256 and first["threads"] == 1
    assert peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1) == first  # from the cache
    again = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1, recalibrate=True)
    assert again["measured_at"] >= first["measured_at"]
    assert len(peak._load()) == 1


def _sweep(make_cfg, tmp_path, order):
    records = {}
    for i, framework in enumerate(order):
        cfg = make_cfg(f"framework={framework}", "train.epochs=20", "bench.mfu=false")
        records[framework] = runner.run(cfg, tmp_path / f"{i}-{framework}")
    return records


@pytest.mark.slow
def test_memory_figures_do_not_depend_on_job_order(make_cfg, tmp_path):
    forward = _sweep(make_cfg, tmp_path / "a", ["numpy", "torch", "numpy"])
    backward = _sweep(make_cfg, tmp_path / "b", ["torch", "numpy", "torch"])
    for framework in ("numpy", "torch"):
        a, b = forward[framework], backward[framework]
        assert a["status"] == b["status"] == "ok"
        for key in ("peak_rss_mb", "peak_tracemalloc_mb"):
            # within 10%, or 50 kB for torch's Python heap, which holds a few dozen objects
            # (~0.07 MB) whose count moves with the RSS sampler thread's own allocations; an
            # import leaking from an earlier job would add megabytes
            bound = max(0.10 * max(a[key], b[key]), 0.05)
            assert abs(a[key] - b[key]) <= bound, (framework, key)
    # and each probe saw its own kind: torch's training arrays are not on the Python heap
    assert forward["numpy"]["peak_tracemalloc_mb"] > forward["torch"]["peak_tracemalloc_mb"]
    assert forward["torch"]["peak_rss_mb"] > forward["numpy"]["peak_rss_mb"]  # torch's runtime


@pytest.mark.slow
def test_record_carries_timing_inference_flops_and_environment(make_cfg, tmp_path):
    cfg = make_cfg("framework=torch", "train.epochs=30", "bench.threads=1", "bench.repeats=2",
                   "bench.target_accuracy=0.8")
    rec = runner.run(cfg, tmp_path)
    assert rec["status"] == "ok"
    assert rec["threads"] == 1 and rec["environment"]["torch_threads"] == 1
    assert all(b["num_threads"] == 1 for b in rec["environment"]["blas"])
    assert len(rec["epoch_times_s"]) == 2 and all(len(t) == 30 for t in rec["epoch_times_s"])
    assert rec["train_time_per_epoch_stats_s"]["n"] == 2 * 29  # warm-up epochs left out
    assert rec["train_time_per_epoch_s"] == pytest.approx(
        np.median([t for times in rec["epoch_times_s"] for t in times[1:]]))
    assert rec["train_flops_per_epoch"] == flops.train_flops_per_sample([2, 32, 16, 1]) * 1600
    assert 0 < rec["mfu"] < 1 and rec["matmul_peak"]["threads"] == 1
    assert rec["inference_latency_batch1_stats_s"]["n"] >= 100
    assert rec["inference_latency_per_sample_s"] < rec["inference_latency_batch1_s"]
    assert rec["batch_throughput_samples_per_s"] > 0 and rec["inference_batch_size"] == 256
    assert rec["cuda_peak_mb"] is None
    assert 1 <= rec["epochs_to_target"] <= 30 and rec["time_to_target_s"] > 0
    assert sum(map(sum, rec["confusion_matrix"])) == rec["n_test"] == 400


@pytest.mark.parametrize("spread, shown", [
    (0.1004, ("10.04%", "10.00%")), (0.18, ("18%", "10%")), (0.1049, ("10.5%", "10.0%")),
    (0.100000001, ("10.000000%", "10.000000%")),
])
def test_a_spread_over_the_limit_is_shown_with_decimals_that_differ(spread, shown):
    assert stats.percent_above(spread, 0.10) == shown


def test_the_noise_warning_never_reads_10_percent_over_10_percent():
    samples = [1.0] * 51 + [1.1004] * 49  # median 1, quartiles 1 and 1.1004: 10.04%
    [warning] = [w for w in stats.noise_warnings(samples, "epochs") if "noisy" in w]
    assert "IQR/median 10.04% (> 10.00%)" in warning
