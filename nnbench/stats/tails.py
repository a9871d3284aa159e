"""Tail latency of a set of calls: p50, p90, p99 and the slowest call, each percentile only
where the number of calls can support it.

Pure functions over plain sequences of durations (seconds), NumPy and ``math`` only (a job
computes these, and a job imports neither SciPy nor pandas).

**What a percentile is here.** The nearest rank: p90 is the call at rank ceil(0.90 n) in
order, the fastest call that at least 90% of the calls do not exceed. Every figure is a call
that happened, and a sample whose slowest 1% are ten times slower than the rest has a p99 of
the fast calls and a max of the slow ones, as the definition says (2% slow: the p99 is slow).
The p50 is the lower of the two middle calls where n is even, where the statistics block's
median (``samples.summarize``) averages them.

**How many calls a percentile needs.** MLPerf LoadGen's early-stopping rule
(``loadgen/early_stopping.cc``, ``results.cc``: SingleStream), at its confidence of 99%:
among n calls, the k-th slowest is an upper bound of the true p-quantile q_p with confidence
c when the chance that it lies below q_p is at most 1 - c. That chance is the chance that
fewer than k calls came out slower than q_p, each being so with probability 1 - p:

    P(X_(n-t) < q_p) = P(Binomial(n, 1 - p) <= t) <= 1 - c,   t = the calls above the bound.

With t = 0 the bound would be the slowest call itself (p^n <= 0.01: 44 calls for p90, 459
for p99), a figure one hiccup decides. The rule asks for one call beyond the bound, t >= 1:

    p^n + n (1 - p) p^(n-1) <= 0.01

which holds from ``MIN_CALLS`` on: 11 calls for p50, 64 for p90, 662 for p99, LoadGen's own
minimum ("Processed at least 64 queries"; 662 for its 99th-percentile estimate). Below it the
percentile is left out, with the reason; the slowest call is always given, for what it is.

Where a percentile is kept, ``pNN_bound`` is the bound itself: the (n - t)-th call in order,
t the most calls the 99% confidence allows above it (LoadGen's estimate is one call higher:
it counts the bound among the calls above it). The percentile says where the calls fell; the
bound, how slow the tail may really be given so few calls: 10,000 calls of which exactly 1%
are slow have a fast p99 and a slow p99 bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.99
PERCENTILES = {"p50": 50, "p90": 90, "p99": 99}  # in percent: integer ranks, no float ceil


def binomial_cdf(n: int, q: float) -> np.ndarray:
    """P(Binomial(n, q) <= t) for t = 0, 1, ..., n (0 < q < 1): each term summed from its
    logarithm, so that (1 - q)^n underflowing for large n costs nothing of the sums that
    matter."""
    k = np.arange(1, n + 1, dtype=np.float64)
    steps = np.log(n - k + 1) - np.log(k) + math.log(q) - math.log1p(-q)
    log_pmf = n * math.log1p(-q) + np.concatenate(([0.0], np.cumsum(steps)))
    return np.minimum(np.cumsum(np.exp(log_pmf)), 1.0)


def calls_above_bound(n: int, percent: int, confidence: float = CONFIDENCE) -> int | None:
    """t, the most calls above the order statistic that is an upper ``confidence`` bound of
    the ``percent``-th percentile of n calls; None when not even the slowest call is one."""
    if n < 1:
        return None
    cdf = binomial_cdf(n, 1 - percent / 100)
    t = int(np.searchsorted(cdf, 1 - confidence, side="right")) - 1  # cdf[t] <= 1 - c
    return t if t >= 0 else None


def min_calls(percent: int, confidence: float = CONFIDENCE) -> int:
    """The fewest calls whose second-slowest is an upper ``confidence`` bound of the
    ``percent``-th percentile: p^n + n (1 - p) p^(n - 1) <= 1 - confidence."""
    p = percent / 100
    n = 2
    while p**n + n * (1 - p) * p ** (n - 1) > 1 - confidence:
        n += 1
    return n


MIN_CALLS = {name: min_calls(percent) for name, percent in PERCENTILES.items()}


def tail(samples: Sequence[float]) -> dict:
    """calls, p50, p90, p99 (nearest rank), max, each percentile's 99% upper bound
    (``p50_bound``, ...), and ``omitted``: {percentile: why} for each one too few calls cannot
    support (value and bound then None)."""
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = int(x.size)
    out: dict = {"calls": n}
    omitted: dict[str, str] = {}
    for name, percent in PERCENTILES.items():
        above = calls_above_bound(n, percent)
        if not above:  # None or 0: fewer than MIN_CALLS[name] calls
            out[name] = out[f"{name}_bound"] = None
            omitted[name] = (f"{n} calls; {name} needs at least {MIN_CALLS[name]} (MLPerf's "
                             f"early-stopping minimum at {CONFIDENCE:.0%} confidence)")
            continue
        rank = (percent * n + 99) // 100  # ceil(p n), 1-based
        out[name] = float(x[rank - 1])
        out[f"{name}_bound"] = float(x[n - 1 - above])
    out["max"] = float(x[-1]) if n else None
    out["omitted"] = omitted
    return out
