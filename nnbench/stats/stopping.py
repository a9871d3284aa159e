"""When to stop adding rounds: the NumPy/torch ratio known to a target precision.

``bench.rounds=auto`` runs interleaved rounds of every configuration until each ratio's 95%
interval over rounds has a relative half-width within ``bench.target_ci``, or ``bench.max_rounds``
is reached. Stopping when an interval first looks narrow enough is optional stopping: the rounds
that happen to agree end the run, and the interval of that moment covers the true ratio less
often than it claims. Two guards, checked by simulation (tests/test_stopping.py: lognormal round
medians, process-to-process spread 3-10%, 200 trials per case; the interval at the stop covered
the true ratio in 93.5-98% of them, against 95% nominal and a 90%-of-nominal floor):

- no decision before ``MIN_ROUNDS`` rounds a side (with 3 the bootstrap interval over rounds
  covers ~90% even without stopping; with 5, ~96%: ``nnbench.stats.verdicts``);
- the interval must be within ``STRICTER`` times the target, so the one that stops is a little
  narrower than asked for.

``bench.rounds=auto`` is the default, so the rule also keeps the command's time bounded
(``bench.budget_s``, 90 s by default): no round starts that would end past the budget once
``MIN_ROUNDS`` have run, and a sweep whose first round shows the minimum would not fit stops
after it, said as one run (``stop_reason``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from nnbench.stats.verdicts import SOUND_ROUNDS, ratio_interval

MIN_ROUNDS = SOUND_ROUNDS
STRICTER = 0.9


def half_width(ratio: float, lo: float, hi: float) -> float:
    """The interval's larger distance from the ratio, relative to it (NaN without one)."""
    if not all(math.isfinite(v) for v in (ratio, lo, hi)) or ratio <= 0:
        return math.nan
    return max(ratio - lo, hi - ratio) / ratio


def settled(widths: Sequence[float], rounds: int, target: float) -> bool:
    """Whether rounds can stop: enough of them, and every ratio's interval (``widths``, relative
    half-widths) within the stricter target. A ratio without an interval is not settled."""
    if rounds < MIN_ROUNDS or not widths:
        return False
    return all(math.isfinite(w) and w <= STRICTER * target for w in widths)


def widest(widths: Sequence[tuple[str, float]]) -> str:
    """The widest relative half-width, as a sweep prints it ("±3.1%", or "none yet")."""
    w = max((w for _, w in widths), default=math.nan)
    return f"±{w:.1%}" if math.isfinite(w) else "none yet"


def stop_reason(widths: Sequence[float], rounds: int, target: float, done: bool, spent: float,
                budget: float | None, round_s: Callable[[], float],
                busy: str | None = None) -> str | None:
    """Why an auto sweep stops after ``rounds`` rounds, or None to run another. ``widths``: each
    ratio's relative half-width; ``done``: the cap reached; ``spent``: the sweep's seconds so far;
    ``round_s``: what a further round will take (asked only after the first). The time budget
    ends the rounds only once ``MIN_ROUNDS`` ran, or after the first when they would not fit:
    then the sweep is one run, and its lines say so rather than a rough interval. ``busy``:
    why every ratio is "cannot tell" for good (an oversubscribed host), which ends the rounds
    at once: no further round can change it."""
    shown = widest([("", w) for w in widths])
    if not widths:  # nothing to settle: one framework, or none ran ok
        return f"no two frameworks ran a configuration ok: {rounds} round(s)"
    if busy:
        return (f"{busy}: every ratio is \"cannot tell\" after {rounds} round(s), and no "
                f"further round can change that")
    if rounds == 1 and budget is not None:
        need = spent + (MIN_ROUNDS - 1) * round_s()
        if need > budget:
            return (f"one round took {spent:.0f} s: the {MIN_ROUNDS} rounds an interval over "
                    f"fresh processes needs would take about {need:.0f} s, past "
                    f"bench.budget_s={budget:g}; bench.rounds={MIN_ROUNDS} runs them")
    if settled(widths, rounds, target):
        return f"every ratio's interval within {shown} after {rounds} rounds"
    if done:
        return f"cap of {rounds} rounds reached at {shown}"
    if budget is not None and rounds >= MIN_ROUNDS and spent + spent / rounds > budget:
        return (f"time budget of {budget:g} s (bench.budget_s) reached after {rounds} rounds "
                f"at {shown}")
    return None


def rounds_needed(draw_a, draw_b, target: float, max_rounds: int,
                  seed: int = 0) -> tuple[int, float, float, float]:
    """Run the rule on two samplers of round medians (``draw(rng) -> float``): one round of
    each side at a time, as a sweep interleaves them. Returns (rounds, ratio, lo, hi) at the
    stop. For simulation: what a sweep does, without processes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    a: list[float] = []
    b: list[float] = []
    while True:
        a.append(draw_a(rng))
        b.append(draw_b(rng))
        ratio, lo, hi, _ = ratio_interval(a, b, rounds=True, n_boot=1000, seed=len(a))
        if settled([half_width(ratio, lo, hi)], len(a), target) or len(a) >= max_rounds:
            return len(a), ratio, lo, hi
