"""Steps in a history: where a series of result sets, ordered in time, changes level.

Each point of the series is one result set, given as its rounds (one value per fresh process)
or as one value. The method is binary segmentation with a test per split, chosen over asv's
penalized fit (``asv.step_detect``: an L1 piecewise-constant fit whose penalty is tuned to
the series' noise, then steps below 5% merged away) because a history here has few points (6
to a few dozen sets) each carrying its own rounds, and a test per split can use them:

1. The best split of a segment is the one that minimises the L1 cost (sum of absolute
   deviations of the log values from each side's median), as asv's fit does: robust to a slow
   round, and in logs so a step is a ratio whatever the figure's scale.
2. It is kept only when both hold: the two sides' medians differ by ``min_change`` or more
   (asv's 5% default threshold; below it a step is not worth a reader's time) and Mann-Whitney
   on the two sides' pooled rounds gives p < ``alpha`` (0.01). Rounds of different sets are
   pooled, so the test sees process-to-process noise, not set-to-set drift: the threshold is
   what keeps host drift of a few percent from being called a step.
3. Each side of a kept split is searched again, down to segments of ``min_size`` (a fraction
   of the series, at least one set): several steps are found in turn.

Each step comes with its size (after/before, the ratio of the sides' medians) and a 95%
bootstrap interval over the pooled rounds (``ratio_interval``). A series of single values
(one per set) gives no step with fewer than 4 sets a side: p < 0.01 is then out of reach,
and no step is better than a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nnbench.stats.verdicts import ALPHA, ratio_interval

STEP_MIN_CHANGE = 0.05  # asv's default threshold
STEP_MIN_SIZE = 0.05  # the smallest segment, as a fraction of the series (at least one set)

Series = Sequence[float | Sequence[float]]


def _values(series: Series) -> list[np.ndarray]:
    out = []
    for point in series:
        x = np.atleast_1d(np.asarray(point, dtype=np.float64))
        out.append(x[np.isfinite(x) & (x > 0)])
    return out


def _cost(logs: np.ndarray) -> float:
    return float(np.abs(logs - np.median(logs)).sum()) if logs.size else 0.0


def _pool(points: list[np.ndarray], start: int, stop: int) -> np.ndarray:
    parts = [p for p in points[start:stop] if p.size]
    return np.concatenate(parts) if parts else np.empty(0)


def _test(before: np.ndarray, after: np.ndarray, min_change: float, alpha: float) -> dict | None:
    """The split's figures, or None where a side is empty."""
    if before.size == 0 or after.size == 0:
        return None
    from scipy.stats import mannwhitneyu

    ratio, lo, hi, _ = ratio_interval(after, before, rounds=True)
    if min(before.size, after.size) >= 2 and np.ptp(np.concatenate([before, after])) > 0:
        p = float(mannwhitneyu(after, before, alternative="two-sided").pvalue)
    else:
        p = 1.0
    large = ratio >= 1 + min_change or ratio <= 1 / (1 + min_change)
    return {"ratio": ratio, "lo": lo, "hi": hi, "p": p, "before": float(np.median(before)),
            "after": float(np.median(after)), "kept": bool(large and p < alpha)}


def find_steps(series: Series, min_change: float = STEP_MIN_CHANGE, alpha: float = ALPHA,
               min_size: float = STEP_MIN_SIZE) -> list[dict]:
    """Steps of ``series`` (one entry per result set, in time order: its rounds or one value).

    Returns one dict per step, in order: index (0-based, the first set of the new level),
    before and after (the medians of the rounds of the segments on either side, within the
    level between the neighbouring steps), ratio (after/before), lo and hi (its 95% interval), p.
    """
    points = _values(series)
    logs = [np.log(p) for p in points]
    least = max(1, math.ceil(min_size * len(points)))
    found: list[dict] = []

    def search(start: int, stop: int) -> None:
        if stop - start < 2 * least:
            return
        costs = {k: _cost(np.concatenate(logs[start:k] or [np.empty(0)]))
                 + _cost(np.concatenate(logs[k:stop] or [np.empty(0)]))
                 for k in range(start + least, stop - least + 1)}
        best = min(costs, key=lambda k: (costs[k], k))
        result = _test(_pool(points, start, best), _pool(points, best, stop), min_change, alpha)
        if result is None or not result["kept"]:
            return
        found.append({"index": best})
        search(start, best)
        search(best, stop)

    search(0, len(points))
    # each step's figures from the sets between its neighbours, not the segment it was found in
    cuts = [0, *sorted(s["index"] for s in found), len(points)]
    return [{"index": cuts[i], **{k: v for k, v in _test(
                _pool(points, cuts[i - 1], cuts[i]), _pool(points, cuts[i], cuts[i + 1]),
                min_change, alpha).items() if k != "kept"}}
            for i in range(1, len(cuts) - 1)]
