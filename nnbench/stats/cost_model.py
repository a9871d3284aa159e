"""A cost model of training time, fitted over a sweep of sizes, and where two models cross.

Time per epoch = steps * a + FLOPs / b: ``a`` is what one training step costs whatever its
size (Python, the framework's dispatch, autograd's bookkeeping, the optimizer's loop), ``b``
the rate at which the matmul work of an epoch gets done. A framework with a small ``a`` wins
small networks, one with a large ``b`` large ones; where one has both, it wins everywhere.

A third term, ``elements * c`` (activation values written per epoch: n_train times the widths
past the input), is the elementwise work (bias adds, activations, their derivatives), which is
memory-bound and does not scale with FLOPs. It is kept only where the data ask for it: its
column is not a mix of the other two in this sweep (in a one-hidden-layer width sweep it is
exactly one, and ``b`` absorbs it), and an F-test on the relative residuals gives p < ALPHA.

The fit minimises relative residuals (rows weighted by 1 / time): times span decades, and an
unweighted fit would serve the largest network alone. Coefficients are held non-negative (no
step and no FLOP takes negative time). The interval over rounds resamples each size's round
medians (one fresh process each) with replacement and refits; with one round per size there
is none, and the fit says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nnbench.stats.verdicts import ALPHA, N_BOOT

TWO_TERMS = ("steps", "flops")
THREE_TERMS = ("steps", "flops", "elements")
MIN_SIZES = 3  # a two-term fit through two sizes has no residual to check it by


@dataclass(frozen=True)
class Size:
    """One configuration of a sweep, in what the model charges for."""

    steps: float  # training steps per epoch: ceil(n_train / batch_size), 1 for a full batch
    flops: float  # matmul FLOPs per epoch (the record's train_flops_per_epoch)
    # activation values per epoch; 0 where unknown, which leaves the third term out (a NaN
    # would make two equal sizes unequal as keys)
    elements: float = 0.0

    @classmethod
    def of(cls, n_train: int, batch_size: int | None, flops: float,
           layer_sizes: Sequence[int] | None = None) -> Size:
        steps = math.ceil(n_train / batch_size) if batch_size else 1
        widths = sum(layer_sizes[1:]) if layer_sizes else 0
        return cls(float(steps), float(flops), float(n_train * widths))


def _columns(sizes: Sequence[Size], terms: Sequence[str]) -> np.ndarray:
    return np.array([[getattr(s, t) for t in terms] for s in sizes], dtype=np.float64)


def separable(sizes: Sequence[Size], terms: Sequence[str]) -> bool:
    """Whether the sweep moves each term independently of the others (a full-rank design):
    where steps grow with FLOPs in lockstep, no fit can tell a per-step cost from a rate."""
    x = _columns(sizes, terms)
    if not np.isfinite(x).all() or len(sizes) < len(terms):
        return False
    norms = np.linalg.norm(x, axis=0)
    if (norms == 0).any():
        return False
    return np.linalg.matrix_rank(x / norms, tol=1e-9) == len(terms)


# A fit of log-time R² below this, or missing a size by more than this fraction, says nothing
# of a crossing: a busy host's times (R² 0.008 seen) follow no cost per step plus a rate.
HOLDS_R2, HOLDS_RESIDUAL = 0.9, 0.25


@dataclass
class Fit:
    """Seconds per unit of each term (s per step, s per FLOP, s per value) and how well the
    model meets the times it was fitted to."""

    terms: tuple[str, ...]
    coef: np.ndarray
    r2_log: float  # R^2 of log time: 1 - SS(log residuals) / SS(log time about its mean)
    residuals: np.ndarray  # measured / fitted - 1, per size
    p_third: float | None = None  # the F-test that kept or dropped the third term

    @property
    def a(self) -> float:
        """Seconds per training step."""
        return float(self.coef[0])

    @property
    def b(self) -> float:
        """FLOP/s: infinite where the fit found no cost in the work at all."""
        return 1 / self.coef[1] if self.coef[1] > 0 else math.inf

    @property
    def c(self) -> float | None:
        """Seconds per activation value, where the third term is in the model."""
        return float(self.coef[2]) if len(self.terms) > 2 else None

    def predict(self, sizes: Sequence[Size]) -> np.ndarray:
        return _columns(sizes, self.terms) @ self.coef

    def fails(self) -> str | None:
        """Why the model does not describe its times well enough to say where it crosses
        another (``HOLDS_R2``, ``HOLDS_RESIDUAL``), or None where it does."""
        worst = float(np.max(np.abs(self.residuals))) if len(self.residuals) else 0.0
        if not self.r2_log >= HOLDS_R2:  # NaN (every time alike) fails too
            return f"R² {self.r2_log:.2g} < {HOLDS_R2}"
        if worst > HOLDS_RESIDUAL:
            return f"a size {worst:.0%} off its fit (> {HOLDS_RESIDUAL:.0%})"
        return None


def _solve(x: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative least squares on relative residuals: coefficients and fitted times."""
    weighted = x / times[:, None]
    scale = np.linalg.norm(weighted, axis=0)  # columns of 1e0 and 1e12 in one solve
    scale[scale == 0] = 1
    from scipy import optimize  # here: SciPy's import costs a report that draws nothing ~0.7 s
    coef, _ = optimize.nnls(weighted / scale, np.ones(len(times)))
    coef = coef / scale
    return coef, x @ coef


def fit(sizes: Sequence[Size], times: Sequence[float],
        terms: Sequence[str] = TWO_TERMS) -> Fit:
    """The model of ``terms`` fitted to one time per size."""
    t = np.asarray(times, dtype=np.float64)
    if len(t) < len(terms) or (t <= 0).any() or not np.isfinite(t).all():
        raise ValueError(f"need {len(terms)} or more positive times, got {list(t)}")
    coef, fitted = _solve(_columns(sizes, terms), t)
    logs = np.log(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        ss_res = float(np.sum((logs - np.log(fitted)) ** 2))
        ss_tot = float(np.sum((logs - logs.mean()) ** 2))
        r2 = 1 - ss_res / ss_tot if ss_tot > 0 else math.nan
        residuals = t / fitted - 1
    return Fit(tuple(terms), coef, r2, residuals)


def choose(sizes: Sequence[Size], times: Sequence[float], alpha: float = ALPHA) -> Fit:
    """The two-term model, or the three-term one where the sweep can tell the elementwise term
    apart and the F-test on the relative residuals says it is needed (p < ``alpha``)."""
    two = fit(sizes, times)
    n = len(sizes)
    if n < len(THREE_TERMS) + 2 or not separable(sizes, THREE_TERMS):
        return two
    three = fit(sizes, times, THREE_TERMS)
    rss2, rss3 = float(np.sum(two.residuals ** 2)), float(np.sum(three.residuals ** 2))
    dof = n - len(THREE_TERMS)
    if rss3 <= 0:
        p = 0.0 if rss2 > 0 else 1.0
    else:
        from scipy.special import fdtrc  # scipy.stats.f.sf, without scipy.stats' 0.8 s import
        p = float(fdtrc(1, dof, (rss2 - rss3) / (rss3 / dof)))
    chosen = three if p < alpha and three.coef[2] > 0 else two
    chosen.p_third = p
    return chosen


@dataclass
class RoundsFit:
    """The fit to each size's median over rounds, and the refits of resampled rounds."""

    fit: Fit
    sizes: list[Size]
    rounds: int  # fewest rounds of any size
    replicates: np.ndarray | None = None  # (n_boot, terms) coefficients; None: no interval
    confidence: float = 0.95

    def interval(self, what: str) -> tuple[float, float] | None:
        """Percentile interval of ``a`` (s/step), ``b`` (FLOP/s) or ``c`` (s/value)."""
        if self.replicates is None:
            return None
        column = {"a": 0, "b": 1, "c": 2}[what]
        if column >= self.replicates.shape[1]:
            return None
        values = self.replicates[:, column]
        if what == "b":
            with np.errstate(divide="ignore"):
                values = np.where(values > 0, 1 / values, np.inf)
        tail = (1 - self.confidence) / 2 * 100
        # a refit that found no cost in the work gives b = inf: interpolating between two
        # infinities is NaN (and NumPy's RuntimeWarning), so take the nearest resample there
        method = "nearest" if np.isinf(values).any() else "linear"
        lo, hi = np.percentile(values, [tail, 100 - tail], method=method)
        return float(lo), float(hi)

    def replicate(self, i: int) -> Fit:
        return Fit(self.fit.terms, self.replicates[i], math.nan, np.array([]))


def fit_rounds(sizes: Sequence[Size], rounds: Sequence[Sequence[float]],
               n_boot: int = N_BOOT, seed: int = 0, confidence: float = 0.95) -> RoundsFit:
    """``rounds[i]``: the round medians of ``sizes[i]``. The model's form is chosen once, on
    the medians, and kept for every resample (a form that flipped from one resample to the
    next would make the interval of ``b`` mean two things)."""
    if len(sizes) < MIN_SIZES:
        raise ValueError(f"need {MIN_SIZES} or more sizes, got {len(sizes)}")
    values = [np.asarray(r, dtype=np.float64) for r in rounds]
    medians = np.array([np.median(v) for v in values])
    chosen = choose(sizes, medians)
    fewest = min(len(v) for v in values)
    out = RoundsFit(chosen, list(sizes), fewest, confidence=confidence)
    if fewest < 2:  # one process per size: nothing to resample that a fresh one would vary
        return out
    rng = np.random.default_rng(seed)
    x = _columns(sizes, chosen.terms)
    draws = [v[rng.integers(0, len(v), (n_boot, len(v)))] for v in values]
    resampled = np.stack([np.median(d, axis=1) for d in draws], axis=1)  # (n_boot, sizes)
    out.replicates = np.array([_solve(x, row)[0] for row in resampled])
    return out


@dataclass
class Crossover:
    """Where two fitted models give the same time, between two measured sizes."""

    flops: float  # FLOPs per epoch at the crossing
    steps: float  # steps per epoch there
    below: int  # which model (0 or 1) is faster at the smaller sizes
    between: tuple[int, int]  # indices, in the sizes given, of the sizes either side
    interval: tuple[float, float] | None = None  # of ``flops``, over resampled rounds
    share: float | None = None  # of the resamples that cross in the measured range


def _path(sizes: Sequence[Size]) -> list[int]:
    """The sizes in order of FLOPs, one index per distinct size."""
    order, seen = [], set()
    for i in sorted(range(len(sizes)), key=lambda i: (sizes[i].flops, sizes[i].steps)):
        if sizes[i] not in seen:
            seen.add(sizes[i])
            order.append(i)
    return order


def crossings(first: Fit, second: Fit, sizes: Sequence[Size]) -> list[Crossover]:
    """Every change of the faster model along the measured sizes in order of FLOPs. Between two
    neighbouring sizes the configuration is taken to move in a straight line (steps, FLOPs and
    values together), so the time difference is linear there and its zero exact: with a fixed
    step count, the analytic crossing steps (a2 - a1) / (1/b1 - 1/b2) of two-term models."""
    order = _path(sizes)
    diff = first.predict([sizes[i] for i in order]) - second.predict([sizes[i] for i in order])
    found = []
    for k in range(len(order) - 1):
        lo, hi = diff[k], diff[k + 1]
        if lo == 0:  # a tie at a measured size is counted from the size before it
            continue
        if hi == 0:  # tied exactly at the next size: a crossing only if the sign changes after
            later = [d for d in diff[k + 2:] if d != 0]
            if not later or np.sign(later[0]) == np.sign(lo):
                continue
            s = 1.0
        elif np.sign(lo) == np.sign(hi):
            continue
        else:
            s = lo / (lo - hi)
        a, b = sizes[order[k]], sizes[order[k + 1]]
        found.append(Crossover(flops=float(a.flops + s * (b.flops - a.flops)),
                               steps=float(a.steps + s * (b.steps - a.steps)),
                               below=0 if lo < 0 else 1, between=(order[k], order[k + 1])))
    return found


def crossover(first: RoundsFit, second: RoundsFit,
              sizes: Sequence[Size]) -> list[Crossover]:
    """``crossings`` of the two fits, each with its interval over resampled rounds where both
    have them: the crossing of the i-th refit of one with the i-th of the other, over the
    resamples that cross in range (``share`` of them)."""
    found = crossings(first.fit, second.fit, sizes)
    if not found or first.replicates is None or second.replicates is None:
        return found
    n = min(len(first.replicates), len(second.replicates))
    points = []
    for i in range(n):
        there = crossings(first.replicate(i), second.replicate(i), sizes)
        if there:
            points.append(there[0].flops)
    tail = (1 - first.confidence) / 2 * 100
    if points:
        lo, hi = np.percentile(points, [tail, 100 - tail])
        found[0].interval = (float(lo), float(hi))
    found[0].share = len(points) / n
    return found


def meeting(first: Fit, second: Fit, steps: float) -> float | None:
    """Where two two-term models at ``steps`` steps per epoch give the same time, in the
    measured range or out of it: FLOPs per epoch, or None where they never do (one has both the
    smaller fixed cost and the higher rate). Only for two-term models: a third term leaves no
    single line to follow out of range."""
    if len(first.terms) > 2 or len(second.terms) > 2:
        raise ValueError("meeting() follows two-term models only")
    d_fixed = steps * (second.coef[0] - first.coef[0])
    d_rate = first.coef[1] - second.coef[1]  # s per FLOP
    if d_rate == 0:
        return None
    where = d_fixed / d_rate
    return float(where) if where > 0 else None
