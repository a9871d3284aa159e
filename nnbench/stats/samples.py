"""Robust statistics of one set of timing samples: summaries, noise flags, two speeds.

Pure functions over plain sequences of durations (seconds), NumPy only.

Why IQR/median and not the CV, and why rounds: see ``nnbench.stats``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# IQR/median above which a sample is flagged as noisy.
NOISY_REL_IQR = 0.10
# Bimodality (see ``two_clusters``): each cluster holds at least BIMODAL_MIN_FRACTION of the
# samples and BIMODAL_MIN_GROUP of them, the cluster medians are BIMODAL_SEPARATION
# within-cluster sigmas and BIMODAL_MIN_GAP (relative) apart. No test below BIMODAL_MIN_SAMPLES.
BIMODAL_MIN_FRACTION = 0.10
BIMODAL_MIN_GROUP = 8
BIMODAL_SEPARATION = 5.0
BIMODAL_MIN_GAP = 0.10
BIMODAL_MIN_SAMPLES = 20

_IQR_PER_SIGMA = 1.3490  # IQR of a normal distribution in units of its standard deviation


def summarize(samples: Sequence[float]) -> dict[str, float | int | None]:
    """Size, location and spread of ``samples``.

    Keys: n, median, q1, q3, iqr (q3 - q1), min, max, mean, cv (sample std / mean, kept for
    reference; a single outlier inflates it), rel_iqr (iqr / median, the robust relative spread
    that noise flags use) and mad (median absolute deviation from the median, unscaled; times
    1.4826 it estimates a normal sigma). Values are None where undefined (no samples; cv with
    fewer than two; relative spreads with a non-positive centre).
    """
    arr = np.asarray(samples, dtype=np.float64).ravel()
    if arr.size == 0:
        keys = ("median", "q1", "q3", "iqr", "min", "max", "mean", "cv", "rel_iqr", "mad")
        return {"n": 0, **dict.fromkeys(keys)}
    q1, median, q3 = (float(v) for v in np.percentile(arr, [25, 50, 75]))
    mean = float(arr.mean())
    return {
        "n": int(arr.size),
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "min": float(arr.min()),
        "max": float(arr.max()),
        "mean": mean,
        "cv": float(arr.std(ddof=1) / mean) if arr.size > 1 and mean > 0 else None,
        "rel_iqr": (q3 - q1) / median if median > 0 else None,
        "mad": float(np.median(np.abs(arr - median))),
    }


def rel_iqr(samples: Sequence[float]) -> float | None:
    """``summarize(samples)["rel_iqr"]`` alone, without the rest of the summary: what a noise
    flag asks of thousands of rounds."""
    arr = np.asarray(samples, dtype=np.float64).ravel()
    if arr.size == 0:
        return None
    q1, median, q3 = (float(v) for v in np.percentile(arr, [25, 50, 75]))
    return (q3 - q1) / median if median > 0 else None


def two_clusters(samples: Sequence[float]) -> dict[str, float | bool] | None:
    """The natural split of ``samples`` into a fast and a slow cluster, and whether it is bimodal.

    The split is the 1-D two-means (Jenks/Otsu) break of the log times: the cut of the sorted
    values that minimises the within-cluster sum of squares, each side holding at least
    BIMODAL_MIN_GROUP (8) samples. Bimodal then needs all of:

    * each cluster holds at least BIMODAL_MIN_FRACTION (10%) of the samples: a few outliers
      split off on their own are outliers, not a mode;
    * a robust Ashman's D, the distance between the cluster medians (log scale) over the larger
      within-cluster sigma (IQR / 1.349), of at least BIMODAL_SEPARATION (5). Any unimodal
      sample splits too, but into truncated, touching halves: D is about 2.2 for a large normal
      sample, 2.7 for a uniform one, and rarely above 5 even with 20 samples; outliers that stay
      in the slow cluster widen it and lower D;
    * the slow cluster's median at least BIMODAL_MIN_GAP (10%) above the fast one's.

    Simulated (300 seeds each): no alarm on normal, lognormal or uniform samples from 50
    samples up, under 4% at 20; a 50/50 or 70/30 mix of 46 and 90 ms epochs (5% noise) is
    found every time from 50 samples up (50/50 in 88% of 20-sample draws).

    Returns None below BIMODAL_MIN_SAMPLES positive samples, else a dict with fast, slow (cluster
    medians), slow_fraction, separation (D) and bimodal.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    x = x[x > 0]
    n = x.size
    if n < max(BIMODAL_MIN_SAMPLES, 2 * BIMODAL_MIN_GROUP):
        return None
    y = np.log(x)
    y = y - y.mean()  # centred: the sums of squares below then lose no precision
    cs, cs2 = np.cumsum(y), np.cumsum(y * y)
    k = np.arange(BIMODAL_MIN_GROUP, n - BIMODAL_MIN_GROUP + 1)  # size of the fast cluster
    s_lo, s2_lo = cs[k - 1], cs2[k - 1]
    sse = (s2_lo - s_lo**2 / k) + ((cs2[-1] - s2_lo) - (cs[-1] - s_lo) ** 2 / (n - k))
    cut = int(k[np.argmin(sse)])
    fast, slow = y[:cut], y[cut:]
    q_fast, q_slow = np.percentile(fast, [25, 50, 75]), np.percentile(slow, [25, 50, 75])
    sigma = max(q_fast[2] - q_fast[0], q_slow[2] - q_slow[0]) / _IQR_PER_SIGMA
    gap = float(q_slow[1] - q_fast[1])
    separation = gap / sigma if sigma > 0 else (np.inf if gap > 0 else 0.0)
    return {
        "fast": float(np.median(x[:cut])),
        "slow": float(np.median(x[cut:])),
        "slow_fraction": (n - cut) / n,
        "separation": float(separation),
        "bimodal": bool(min(cut, n - cut) >= BIMODAL_MIN_FRACTION * n
                        and separation >= BIMODAL_SEPARATION and np.expm1(gap) >= BIMODAL_MIN_GAP),
    }


def format_seconds(seconds: float) -> str:
    """A duration with three significant digits in a readable unit: 1.2 s, 46 ms, 0.46 ms, 46 us."""
    for floor, scale, unit in ((1.0, 1.0, "s"), (1e-4, 1e-3, "ms"), (1e-7, 1e-6, "us")):
        if abs(seconds) >= floor:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def percent_above(value: float, limit: float) -> tuple[str, str]:
    """``value`` and the ``limit`` it exceeds as percentages, with the fewest decimals that
    tell them apart (a spread of 0.1004 against 0.10 reads "10.04%" and "10.00%", never "10%")."""
    for digits in range(7):
        shown, bound = f"{value:.{digits}%}", f"{limit:.{digits}%}"
        if shown != bound:
            break
    return shown, bound


def noise_warnings(samples: Sequence[float], label: str = "") -> list[str]:
    """Warnings about the spread of timing ``samples`` (seconds); empty when they are steady.

    Flags a robust relative spread IQR/median above NOISY_REL_IQR (10%); a few slow outliers
    move neither quartile, so they raise nothing. Flags a bimodal distribution (see
    ``two_clusters``), where the median depends on how the samples happen to split between two
    speeds. ``label`` (e.g. "training epochs") prefixes each message.
    """
    prefix = f"{label}: " if label else ""
    stats = summarize(samples)
    out = []
    if stats["rel_iqr"] is not None and stats["rel_iqr"] > NOISY_REL_IQR:
        shown, bound = percent_above(stats["rel_iqr"], NOISY_REL_IQR)
        out.append(f"{prefix}noisy: IQR/median {shown} (> {bound}); compare medians with care")
    clusters = two_clusters(samples)
    if clusters is not None and clusters["bimodal"]:
        out.append(f"{prefix}bimodal: two clusters at {format_seconds(clusters['fast'])} and "
                   f"{format_seconds(clusters['slow'])} ({clusters['slow_fraction']:.0%} of "
                   f"{stats['n']} samples in the slower); the median depends on the mix")
    return out


