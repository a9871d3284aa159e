"""Equivalence, not only difference: two one-sided tests (TOST) on the ratio of two sets of
rounds against a margin, so a report can say "the candidate is within 5% of the baseline" or
"NumPy is within 5% of torch here" — or that the rounds cannot show it.

A module of its own beside ``verdicts`` (which answers "did it change?"), because the question
is the reverse one and its error is the other way round: "no significant change" with 3 noisy
rounds a side says nothing about sameness; equivalence is claimed only when the data exclude
every ratio outside ``[1 - margin, 1 + margin]``.

The unit is the round (one value per fresh process, as in ``verdicts``). The test is
Schuirmann's TOST as bioequivalence studies run it: Welch's t on the logs of the round medians,
so the ratio is of geometric means and the two one-sided tests at level ``alpha`` are the same
as asking whether the ``1 - 2 alpha`` (90% for alpha 0.05) interval of the ratio lies inside the
margin. Not the percentile bootstrap ``verdicts`` uses for its intervals: with 5 rounds a side
the bootstrap interval is too narrow (it cannot see beyond the spread of 5 values), which
errs in the direction that matters here, towards claiming sameness; the t interval widens with
few rounds as it should. A round that ran slow widens the interval and the verdict becomes "not
shown equivalent", the honest answer.
"""

from __future__ import annotations

import math

import numpy as np

from nnbench.stats.verdicts import MIN_ROUNDS, Rounds, round_medians

EQUIVALENCE_ALPHA = 0.05  # each one-sided test; the interval is then 90%


def _pct(margin: float) -> str:
    return f"±{100 * margin:.3g}%"


def equivalence(baseline_rounds: Rounds, candidate_rounds: Rounds, margin: float = 0.05,
                alpha: float = EQUIVALENCE_ALPHA, min_rounds: int = MIN_ROUNDS) -> dict:
    """TOST of candidate/baseline against ``[1 - margin, 1 + margin]`` over round medians.

    Returns dict(verdict, equivalent (bool), ratio (of geometric means), lo, hi (the
    ``1 - 2 alpha`` interval), p (the larger of the two one-sided p-values), n, margin).
    Verdicts: "equivalent within ±5%", "not shown equivalent (interval [a, b] is not within
    ±5%)", or "cannot tell: ..." with fewer than ``min_rounds`` positive rounds a side.
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin {margin} must lie between 0 and 1")
    mb, mc = round_medians(baseline_rounds), round_medians(candidate_rounds)
    mb, mc = mb[np.isfinite(mb) & (mb > 0)], mc[np.isfinite(mc) & (mc > 0)]
    n = (int(mb.size), int(mc.size))
    out: dict = {"verdict": "", "equivalent": False, "ratio": np.nan, "lo": np.nan,
                 "hi": np.nan, "p": np.nan, "n": n, "margin": margin}
    if min(n) < max(min_rounds, 2):
        out["verdict"] = (f"cannot tell: {n[0]} vs {n[1]} rounds "
                          f"(need at least {max(min_rounds, 2)} per side)")
        return out
    from scipy.stats import t as student  # here: SciPy's import is slow for a job

    la, lb = np.log(mb), np.log(mc)
    diff = float(lb.mean() - la.mean())
    va, vb = la.var(ddof=1) / la.size, lb.var(ddof=1) / lb.size
    se = math.sqrt(va + vb)
    low, high = math.log(1 - margin), math.log(1 + margin)
    if se == 0:  # identical rounds: the interval is the point
        lo = hi = diff
        p = 0.0 if low < diff < high else 1.0
    else:
        df = (va + vb) ** 2 / (va ** 2 / (la.size - 1) + vb ** 2 / (lb.size - 1))
        spread = float(student.ppf(1 - alpha, df)) * se
        lo, hi = diff - spread, diff + spread
        p = max(float(student.sf((diff - low) / se, df)), float(student.cdf((diff - high) / se,
                                                                           df)))
    out.update(ratio=math.exp(diff), lo=math.exp(lo), hi=math.exp(hi), p=p)
    out["equivalent"] = bool(low <= lo and hi <= high)
    interval = f"[{out['lo']:.3f}, {out['hi']:.3f}]"
    out["verdict"] = (f"equivalent within {_pct(margin)}" if out["equivalent"] else
                      f"not shown equivalent (interval {interval} is not within {_pct(margin)})")
    return out


def paired_rounds(a: dict[int, float], b: dict[int, float]) -> tuple[list[float], list[float]]:
    """The values of the rounds both ``a`` and ``b`` ran (round number -> value), in order:
    two frameworks of one interleaved sweep, taken round by round."""
    common = sorted(set(a) & set(b))
    return [a[r] for r in common], [b[r] for r in common]
