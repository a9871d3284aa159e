"""Statistics over rounds (one value per fresh process): ratio intervals, verdicts, agreement.

Pure functions, NumPy and SciPy only; see ``nnbench.stats`` for why rounds are the unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np

from nnbench.stats.samples import NOISY_REL_IQR, rel_iqr

# Round comparisons: see ``compare_rounds``.
ALPHA = 0.01
MIN_CHANGE = 0.10
MIN_ROUNDS = 3
SOUND_ROUNDS = 5  # per side: 5 vs 5 round medians can reach p < 0.01, and the interval settles
N_BOOT = 2000

Rounds = Sequence[float] | Sequence[Sequence[float]]


def _is_nested(values: Rounds) -> bool:
    return any(np.ndim(v) > 0 for v in values)


def round_medians(rounds: Rounds) -> np.ndarray:
    """One value per round: the median of a round given as its samples, or the value itself."""
    return np.array([float(np.median(r)) if np.ndim(r) > 0 else float(r) for r in rounds])


def _pooled(values: Rounds) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in values])


def _bootstrap_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``n_boot`` resamples of ``x`` with replacement, in chunks of bounded size."""
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // x.size)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        out[start:stop] = np.median(x[rng.integers(0, x.size, (stop - start, x.size))], axis=1)
    return out


def ratio_interval(a: Rounds, b: Rounds, rounds: bool | None = None, confidence: float = 0.95,
                   n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float, float, str]:
    """Ratio of medians a / b with a percentile-bootstrap ``confidence`` interval.

    Returns (ratio, lo, hi, method); ``method`` says what was resampled.

    ``a`` and ``b`` are each either flat samples or a list of rounds (one per fresh process),
    a round being its samples or its median. ``rounds=None`` decides from the shape: rounds when
    both are nested. ``rounds=True`` treats them as rounds (flat values are then round medians);
    ``rounds=False`` pools nested rounds into samples.

    Over rounds, the ratio is of the medians of the round medians and the bootstrap resamples
    round medians: the interval then covers process-to-process variation, which is what
    separates two runs of the same code. Over samples it resamples individual epochs as if
    independent, so the interval covers only the epoch-to-epoch noise of these processes and
    is too narrow for a claim about the code (``method`` says so). With fewer than two rounds
    on a side there is nothing to resample across: nested rounds fall back to their samples,
    bare round medians give a NaN interval. Simulated with lognormal round medians, the 95%
    round interval covers the true ratio about 96% of the time with 5 rounds per side but only
    about 90% with 3: prefer 5 or more. Deterministic for a given ``seed``.
    """
    use_rounds = (_is_nested(a) and _is_nested(b)) if rounds is None else rounds
    if use_rounds:
        xa, xb = round_medians(a), round_medians(b)
        method = f"bootstrap over rounds ({xa.size} vs {xb.size})"
        if min(xa.size, xb.size) < 2:
            if not (_is_nested(a) and _is_nested(b)):
                ratio = float(np.median(xa) / np.median(xb)) if xa.size and xb.size else np.nan
                return ratio, np.nan, np.nan, f"{xa.size} vs {xb.size} rounds: no interval"
            use_rounds = False
    if not use_rounds:
        xa = _pooled(a) if _is_nested(a) else np.asarray(a, dtype=np.float64)
        xb = _pooled(b) if _is_nested(b) else np.asarray(b, dtype=np.float64)
        method = (f"bootstrap over samples ({xa.size} vs {xb.size}; "
                  f"within-process noise only)")
    if xa.size == 0 or xb.size == 0:
        raise ValueError("ratio_interval needs at least one value on each side")
    if np.median(xb) <= 0:
        raise ValueError("the median of b must be positive")
    rng = np.random.default_rng(seed)
    boot = _bootstrap_medians(xa, n_boot, rng) / _bootstrap_medians(xb, n_boot, rng)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [tail, 1 - tail])
    return float(np.median(xa) / np.median(xb)), float(lo), float(hi), method


def _weighted_medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row, the weighted median of that row of ``values`` (draws x items, or one row for
    every draw): the first value, in ascending order, whose cumulative weight reaches half."""
    values = np.broadcast_to(values, weights.shape)
    order = np.argsort(values, axis=1)
    cumulative = np.cumsum(np.take_along_axis(weights, order, axis=1), axis=1)
    first = np.argmax(cumulative >= cumulative[:, -1:] / 2, axis=1)
    return np.take_along_axis(np.take_along_axis(values, order, axis=1), first[:, None], 1)[:, 0]


def _resampled_medians(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Medians of ``n_boot`` resamples of ``x`` (with replacement, as many as ``x`` holds),
    drawn as multinomial counts: one vectorised draw however few values."""
    if x.size == 1:  # a sweep's one round: every resample is that round
        return np.full(n_boot, float(x[0]))
    counts = rng.multinomial(x.size, np.full(x.size, 1 / x.size), size=n_boot)
    return _weighted_medians(x[None, :], counts)


def clustered_ratio_interval(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]],
                             confidence: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
                             ) -> tuple[float, float, float, str]:
    """The ratio a / b of round medians that come in clusters: the sweeps that ran them,
    ``a[i]`` and ``b[i]`` the same sweep's rounds of each side (a sweep lacking either side is
    left out). Each sweep's ratio is its two sides' medians' ratio, the two sides timed
    through the same spells of the host; the figure is their median, weighted by each sweep's
    rounds; the interval a two-stage bootstrap: the rounds within each sweep resampled, then
    the sweeps (Kalibera and Jones 2013: resample at every level the variation comes from).

    A host's speed can shift for longer than a sweep lasts: rounds of one sweep then share a
    level, and rounds pooled as if independent give a tight interval around whichever sweep
    ran most rounds, which excludes the others'. With one sweep this is the round bootstrap
    of ``ratio_interval`` on the same rounds."""
    pairs = [(np.asarray(x, float), np.asarray(y, float)) for x, y in zip(a, b, strict=True)
             if len(x) and len(y)]
    if not pairs or any(np.median(y) <= 0 for _, y in pairs):
        raise ValueError("clustered_ratio_interval needs a sweep with rounds on each side")
    rng = np.random.default_rng(seed)
    ratios = np.stack([_resampled_medians(x, n_boot, rng) / _resampled_medians(y, n_boot, rng)
                       for x, y in pairs], axis=1)  # draws x sweeps
    rounds = np.array([min(x.size, y.size) for x, y in pairs], dtype=float)
    sweeps = rng.multinomial(len(pairs), np.full(len(pairs), 1 / len(pairs)), size=n_boot)
    boot = _weighted_medians(ratios, sweeps * rounds)
    point = _weighted_medians(np.array([[np.median(x) / np.median(y) for x, y in pairs]]),
                              rounds[None, :])[0]
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [tail, 1 - tail])
    return (float(point), float(lo), float(hi),
            f"bootstrap over {len(pairs)} sweeps and their rounds")


def rounds_disagree(rounds: Rounds, floor: float = NOISY_REL_IQR) -> dict:
    """Whether the rounds of one configuration disagree beyond their own noise.

    ``rounds``: one entry per fresh process, its samples or its median. Between rounds: the
    range of the round medians over their median (``between``), and the largest distance of a
    round median from the median of all of them (``worst``). Within a run: the median over
    rounds of each round's IQR/median (None when the rounds are bare medians). The rounds
    disagree when there are at least two and some round's median lies further from the others'
    centre than both the within-run spread and ``floor`` (10%, the smallest change a comparison
    calls real). With hundreds of samples a round's median is known to a small fraction of its
    IQR, so a round a whole IQR and 10% off sits at another level: the mark of a process (or a
    moment of the host) that ran slow, not of epoch-to-epoch noise. Processes that differ by a
    few percent, as fresh processes do, are not flagged: with round medians spread lognormally
    by 3% (5%), 0.7% (23%) of 5-round sets are.

    Returns dict(n, median, min, max, between, worst, between_rel_iqr, within, disagree).
    """
    # a round's samples as one array, not converted again by each statistic asked of them
    rounds = [np.asarray(r) if np.ndim(r) > 0 else r for r in rounds]
    medians = round_medians(rounds)
    out: dict = {"n": int(medians.size), "median": None, "min": None, "max": None,
                 "between": None, "worst": None, "between_rel_iqr": None, "within": None,
                 "disagree": False}
    if medians.size == 0:
        return out
    centre = float(np.median(medians))
    out.update(median=centre, min=float(medians.min()), max=float(medians.max()))
    within = [rel_iqr(r) for r in rounds if np.ndim(r) > 0 and np.size(r) > 1]
    within = [w for w in within if w is not None]
    out["within"] = float(np.median(within)) if within else None
    if medians.size >= 2 and centre > 0:
        out["between"] = float((medians.max() - medians.min()) / centre)
        out["worst"] = float(np.max(np.abs(medians / centre - 1)))
        out["between_rel_iqr"] = rel_iqr(medians)
        out["disagree"] = bool(out["worst"] > max(floor, out["within"] or 0.0))
    return out


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided exact Mann-Whitney p-value with n1 and n2 values: 2 / C(n1+n2, n1)
    (complete separation). 0.0079 for 5 vs 5, 0.029 for 4 vs 4, 0.1 for 3 vs 3."""
    return min(1.0, 2 / comb(n1 + n2, n1)) if n1 and n2 else 1.0


def compare_rounds(baseline_rounds: Rounds, candidate_rounds: Rounds,
                   min_rounds: int = MIN_ROUNDS, alpha: float = ALPHA,
                   min_change: float = MIN_CHANGE, confidence: float = 0.95,
                   n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Verdict on candidate against baseline from per-round medians (one round per process).

    Each side is a list of rounds (a round: its samples or its median). The verdict is
    "slower" or "faster" only when all of these hold:

    * a two-sided Mann-Whitney test on the round medians gives p < ``alpha`` (exact p; where
      round medians tie, as only a coarse clock makes them, the tie-corrected normal
      approximation, whose p at a few rounds is larger than the exact one);
    * the bootstrap-over-rounds ``confidence`` interval of candidate/baseline excludes 1;
    * the ratio of medians is at least 1 + ``min_change`` or at most 1 / (1 + ``min_change``).

    Otherwise "no significant change"; and "cannot tell: ..." with fewer than ``min_rounds``
    rounds on a side, or where even complete separation of the rounds could not reach
    p < ``alpha``. The default alpha is 0.01: with 5 rounds per side the smallest attainable p
    is 2/252 = 0.0079, so asv's 0.002 would need 7 rounds per side; at 0.01, 5 vs 5 calls a
    change only when every candidate round is beyond every baseline round. Under no change
    that happens with probability 0.79%, before the 10% effect size is even asked for.

    Returns dict(verdict, ratio (candidate/baseline), lo, hi, p, n (baseline, candidate
    rounds), baseline, candidate (medians of round medians)).
    """
    mb, mc = round_medians(baseline_rounds), round_medians(candidate_rounds)
    n = (int(mb.size), int(mc.size))
    out: dict = {"verdict": "", "ratio": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan,
                 "n": n, "baseline": np.nan, "candidate": np.nan}
    if min(n) == 0:
        out["verdict"] = f"cannot tell: {n[0]} vs {n[1]} rounds"
        return out
    out["baseline"], out["candidate"] = float(np.median(mb)), float(np.median(mc))
    out["ratio"], out["lo"], out["hi"], _ = ratio_interval(
        mc, mb, rounds=True, confidence=confidence, n_boot=n_boot, seed=seed)
    tied = np.unique(np.concatenate([mb, mc])).size < sum(n)
    from scipy.stats import mannwhitneyu  # here: SciPy's import costs a job ~0.7 s

    out["p"] = float(mannwhitneyu(mc, mb, alternative="two-sided",
                                  method="asymptotic" if tied else "exact").pvalue)
    if min(n) < min_rounds:
        out["verdict"] = (f"cannot tell: {n[0]} vs {n[1]} rounds "
                          f"(need at least {min_rounds} per side)")
    elif min_p_value(*n) >= alpha:
        need = next(k for k in range(2, 100) if min_p_value(k, k) < alpha)
        out["verdict"] = (f"cannot tell: {n[0]} vs {n[1]} rounds cannot reach p < {alpha:g} "
                          f"(smallest p {min_p_value(*n):.2g}; {need} per side can)")
    else:
        ratio, lo, hi = out["ratio"], out["lo"], out["hi"]
        large = ratio >= 1 + min_change or ratio <= 1 / (1 + min_change)
        if out["p"] < alpha and (lo > 1 or hi < 1) and large:
            out["verdict"] = "slower" if ratio > 1 else "faster"
        else:
            out["verdict"] = "no significant change"
    return out
