"""nnbench.stats: robust summaries, noise flags, ratio intervals and round comparisons."""

from __future__ import annotations

import re

import numpy as np
import pytest

from nnbench import stats

MS = 1e-3


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


def test_format_seconds():
    assert [stats.format_seconds(s) for s in (1.5, 0.046, 0.00046, 4.6e-5, 5e-9)] == [
        "1.5 s", "46 ms", "0.46 ms", "46 us", "5 ns"]
