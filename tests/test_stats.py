"""nnbench.stats: robust summaries, noise flags, ratio intervals and round comparisons."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from nnbench import stats

MS = 1e-3


def rounds_from_process_model(rng: np.random.Generator, n_rounds: int, scale: float = 1.0,
                              epochs: int = 200, level_sd: float = 0.05
                              ) -> list[np.ndarray]:
    """Epoch times of ``n_rounds`` fresh processes: each process settles at its own level
    (lognormal, ``level_sd``: 5%), and its epochs wander around that level with strong
    correlation (AR(1) on the log scale, 3% stationary spread) plus a rare slow hiccup."""
    out = []
    for _ in range(n_rounds):
        level = 46 * MS * scale * np.exp(rng.normal(0, level_sd))
        phi, sd = 0.9, 0.03
        ar = np.empty(epochs)
        ar[0] = rng.normal(0, sd)
        for i in range(1, epochs):
            ar[i] = phi * ar[i - 1] + rng.normal(0, sd * np.sqrt(1 - phi**2))
        times = level * np.exp(ar)
        times[rng.random(epochs) < 0.005] *= 20
        out.append(times)
    return out


def test_summarize_known_values():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (s["n"], s["median"], s["q1"], s["q3"], s["iqr"]) == (5, 3.0, 2.0, 4.0, 2.0)
    assert (s["min"], s["max"], s["mean"]) == (1.0, 100.0, 22.0)
    assert s["rel_iqr"] == pytest.approx(2 / 3)
    assert s["mad"] == 1.0
    assert s["cv"] == pytest.approx(np.std([1, 2, 3, 4, 100], ddof=1) / 22)
    empty = stats.summarize([])
    assert empty["n"] == 0 and all(v is None for k, v in empty.items() if k != "n")


def test_one_slow_epoch_among_2000_raises_no_warning():
    rng = np.random.default_rng(1)
    samples = 0.46 * MS * np.exp(rng.normal(0, 0.03, 2000))
    samples[700] = 36 * MS
    s = stats.summarize(samples)
    assert s["cv"] > 1  # what the CV flag used to see
    assert s["rel_iqr"] < 0.10
    assert stats.noise_warnings(samples, "training epochs") == []


def test_a_few_outliers_are_not_a_mode():
    rng = np.random.default_rng(2)
    for n in (50, 200, 2000):
        samples = 46 * MS * np.exp(rng.normal(0, 0.03, n))
        samples[rng.random(n) < 0.03] *= 2
        assert stats.noise_warnings(samples) == [], n


@pytest.mark.parametrize("slow_fraction", [0.5, 0.3])
@pytest.mark.parametrize("n", [50, 500])
def test_bimodal_mix_of_46_and_90_ms_is_flagged(slow_fraction, n):
    rng = np.random.default_rng(3)
    slow = rng.random(n) < slow_fraction
    samples = np.where(slow, 90 * MS, 46 * MS) * np.exp(rng.normal(0, 0.03, n))
    warnings = stats.noise_warnings(samples, "training epochs")
    bimodal = [w for w in warnings if "bimodal: two clusters at" in w]
    assert len(bimodal) == 1, warnings
    fast_ms, slow_ms = (float(v) for v in re.findall(r"([\d.]+) ms", bimodal[0])[:2])
    assert fast_ms == pytest.approx(46, rel=0.03) and slow_ms == pytest.approx(90, rel=0.03)
    assert bimodal[0].startswith("training epochs: ")
    clusters = stats.two_clusters(samples)
    assert clusters["slow_fraction"] == pytest.approx(slow.mean())


def test_unimodal_samples_get_no_warning_and_broad_ones_only_the_noise_flag():
    rng = np.random.default_rng(4)
    for n in (20, 100, 2000):
        assert stats.noise_warnings(46 * MS * np.exp(rng.normal(0, 0.03, n))) == []
    broad = stats.noise_warnings(46 * MS * np.exp(rng.normal(0, 0.3, 2000)), "epochs")
    assert len(broad) == 1 and broad[0].startswith("epochs: noisy: IQR/median")


def test_too_few_samples_for_a_bimodality_test():
    assert stats.two_clusters([46 * MS] * 5 + [90 * MS] * 5) is None
    assert stats.noise_warnings([]) == []


def test_round_interval_covers_the_true_ratio():
    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        base = 46 * MS * np.exp(rng.normal(0, 0.05, 5))
        cand = 2 * 46 * MS * np.exp(rng.normal(0, 0.05, 5))
        ratio, lo, hi, method = stats.ratio_interval(cand, base, rounds=True, seed=seed)
        assert method == "bootstrap over rounds (5 vs 5)"
        assert lo <= ratio <= hi
        covered += lo <= 2.0 <= hi
    assert covered >= 90


def test_sample_interval_covers_the_true_ratio():
    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        a = 1.5 * 0.46 * MS * np.exp(rng.normal(0, 0.1, 200))
        b = 0.46 * MS * np.exp(rng.normal(0, 0.1, 300))
        ratio, lo, hi, method = stats.ratio_interval(a, b, seed=seed)
        assert method.startswith("bootstrap over samples (200 vs 300")
        covered += lo <= 1.5 <= hi
    assert covered >= 90


def test_ratio_interval_reads_the_shape_and_is_deterministic():
    rng = np.random.default_rng(5)
    a, b = rounds_from_process_model(rng, 5, scale=2), rounds_from_process_model(rng, 5)
    first = stats.ratio_interval(a, b, seed=7)
    assert first == stats.ratio_interval(a, b, seed=7)
    assert first[3] == "bootstrap over rounds (5 vs 5)"
    assert first[0] == pytest.approx(
        np.median([np.median(r) for r in a]) / np.median([np.median(r) for r in b]))
    pooled = stats.ratio_interval(a, b, rounds=False, seed=7)
    assert pooled[3].startswith("bootstrap over samples (1000 vs 1000")
    # epochs resampled as if independent: a narrower interval than across processes
    assert pooled[2] - pooled[1] < first[2] - first[1]
    one = stats.ratio_interval(a[:1], b[:1])
    assert one[3].startswith("bootstrap over samples (200 vs 200")
    bare = stats.ratio_interval([2.0], [1.0], rounds=True)
    assert bare[0] == 2.0 and np.isnan(bare[1]) and np.isnan(bare[2])


def test_a_a_comparisons_never_call_a_change():
    fooled = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        base = rounds_from_process_model(rng, 5)
        cand = rounds_from_process_model(rng, 5)
        result = stats.compare_rounds(base, cand)
        assert result["verdict"] == "no significant change", result
        assert result["n"] == (5, 5)
        # the old test, per-epoch samples of one process per side, on the same data
        fooled += mannwhitneyu(cand[0], base[0]).pvalue < 0.002
    assert fooled >= 5  # the model has the process-to-process variation that fools it


def test_a_real_2x_change_with_5_rounds_is_found_both_ways():
    rng = np.random.default_rng(6)
    base = rounds_from_process_model(rng, 5)
    cand = rounds_from_process_model(rng, 5, scale=2)
    slower = stats.compare_rounds(base, cand)
    assert slower["verdict"] == "slower"
    assert slower["p"] == pytest.approx(2 / 252)
    assert 1 < slower["lo"] <= slower["ratio"] <= slower["hi"]
    assert slower["ratio"] == pytest.approx(2, rel=0.15)
    faster = stats.compare_rounds(cand, base)
    assert faster["verdict"] == "faster" and faster["hi"] < 1


def test_a_small_real_change_is_below_the_minimum():
    rng = np.random.default_rng(7)
    base = 46 * MS * np.exp(rng.normal(0, 0.01, 12))
    cand = 1.05 * 46 * MS * np.exp(rng.normal(0, 0.01, 12))
    result = stats.compare_rounds(base, cand)
    assert result["p"] < 0.001  # real, but under the 10% that counts
    assert result["verdict"] == "no significant change"
    assert stats.compare_rounds(base, cand, min_change=0.02)["verdict"] == "slower"


def test_too_few_rounds_cannot_tell():
    rng = np.random.default_rng(8)
    base = rounds_from_process_model(rng, 5)
    cand = rounds_from_process_model(rng, 5, scale=2)
    two = stats.compare_rounds(base[:2], cand)
    assert two["verdict"].startswith("cannot tell: 2 vs 5 rounds")
    assert two["ratio"] > 1.5  # the estimate is still there to read
    four = stats.compare_rounds(base[:4], cand[:4])
    assert four["verdict"].startswith("cannot tell: 4 vs 4 rounds cannot reach p < 0.01")
    assert stats.compare_rounds([], cand)["verdict"] == "cannot tell: 0 vs 5 rounds"


def test_min_p_value():
    assert stats.min_p_value(5, 5) == pytest.approx(0.0079, abs=1e-4)
    assert stats.min_p_value(3, 3) == pytest.approx(0.1)
    assert stats.min_p_value(0, 5) == 1.0


def test_format_seconds():
    assert [stats.format_seconds(s) for s in (1.5, 0.046, 0.00046, 4.6e-5, 5e-9)] == [
        "1.5 s", "46 ms", "0.46 ms", "46 us", "5 ns"]


def test_tied_round_medians_still_get_a_p_value():
    base, cand = [1.0, 1.0, 1.1, 1.2, 1.3], [2.0, 2.0, 2.1, 2.2, 2.3]
    result = stats.compare_rounds(base, cand)
    assert 2 / 252 < result["p"] < 0.05
    assert result["verdict"] == "no significant change"
    assert stats.compare_rounds(base + [1.05, 1.15], cand + [2.05, 2.15])["verdict"] == "slower"


def test_rounds_disagree_only_beyond_their_own_noise():
    rng = np.random.default_rng(5)
    flagged = [stats.rounds_disagree(rounds_from_process_model(rng, 5, level_sd=0.03))
               for _ in range(20)]
    assert sum(v["disagree"] for v in flagged) <= 1  # processes a few percent apart are fine
    steady = rounds_from_process_model(rng, 5, level_sd=0.03)
    verdict = stats.rounds_disagree(steady)
    assert verdict["n"] == 5 and not verdict["disagree"] and verdict["within"] is not None
    slow = [*steady[:4], steady[4] * 3]  # one process three times slower
    verdict = stats.rounds_disagree(slow)
    assert verdict["worst"] > 1.5
    assert verdict["disagree"] and verdict["max"] == pytest.approx(3 * np.median(steady[4]))
    noisy = [46 * MS * np.exp(rng.normal(0, 0.5, 200)) for _ in range(3)]  # 70% IQR each
    shifted = [r * f for r, f in zip(noisy, (1, 1.2, 1.3), strict=True)]
    assert not stats.rounds_disagree(shifted)["disagree"]
    assert stats.rounds_disagree([1.0, 1.5])["disagree"]  # bare medians: the 10% floor
    assert not stats.rounds_disagree([1.0])["disagree"]
