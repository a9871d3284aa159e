"""The answer in words: per configuration, which framework trains faster, by how much, with the
interval and the conditions it holds under ("numpy is 2.9x faster than torch [2.7, 3.1] on
moons 2x32x16x1, float32, full batch, cpu").

The rule, one for every place a verdict is said (a sweep's closing lines, the top of summary.md
and report.html, the report's console): a framework is called faster only when the whole 95%
interval of the ratio of times lies on one side of 1 and the ratio is more than ``MIN_EFFECT``
(2%) from 1; otherwise "no clear difference"; a ratio without an interval, or rounds that
cannot pool, is "cannot tell".

Which pairs: every two frameworks a configuration ran (numpy and torch first), or each against
a chosen baseline framework, or one chosen pair. Records pool as the report pools them
(``pooling``); light at import (no pandas): a sweep's end imports it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from nnbench.results.labels import CONFIG_KEYS, key_text, key_values, order_value, varying
from nnbench.results.read import ReadRecord, as_records
from nnbench.stats import format_seconds, robust

METRIC = "train_time_per_epoch_s"
HEADLINE_PAIR = ("numpy", "torch")  # the question nnbench exists to answer: said first
FASTER, SAME, UNSURE = "faster", "no clear difference", "cannot tell"
# Below this a difference is not called one, whatever its interval: one process's epochs give
# an interval a percent wide, and two runs of the same code differ by more (asv asks 10% of a
# change; a speed-up of 1.01x is no answer to which is faster).
MIN_EFFECT = 0.02


def number(value: float) -> str:
    """A factor with three significant digits, trailing zeros kept (2.90, 12.3, 0.350)."""
    return f"{value:#.3g}".rstrip(".") if abs(value) < 1000 else f"{value:.0f}"


@dataclass(frozen=True)
class Verdict:
    """One pair of frameworks on one configuration: ``a``'s time per epoch over ``b``'s."""

    a: str
    b: str
    condition: str  # the configuration in words: "moons 2x32x16x1, float32, full batch, cpu"
    experiment: str = ""
    ratio: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    mark: str = ""  # pooling's: † over rounds, ‡ over one process's samples, "" none
    a_median: float = math.nan
    b_median: float = math.nan
    a_rounds: int = 0
    b_rounds: int = 0
    unsure: str = ""  # why there is no ratio (rounds of several code versions)
    # rounds a side pooled from earlier sweeps of the same identity (``results.earlier``)
    earlier: tuple[int, int] = (0, 0)
    earlier_sweeps: int = 0
    notes: list[str] = field(default_factory=list)  # rounds that disagree; a mixture of code

    @property
    def kind(self) -> str:
        if self.unsure or not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return UNSURE
        apart = abs(math.log(self.ratio)) > math.log(1 + MIN_EFFECT)
        return FASTER if (self.hi < 1 or self.lo > 1) and apart else SAME

    @property
    def faster(self) -> str | None:
        """The faster framework, or None where the rule names none."""
        if self.kind != FASTER:
            return None
        return self.a if self.hi < 1 else self.b

    def factor(self) -> tuple[float, float, float]:
        """How many times faster the faster one is, with the interval of that factor."""
        if self.faster == self.a:
            return 1 / self.ratio, 1 / self.hi, 1 / self.lo
        return self.ratio, self.lo, self.hi

    @property
    def one_run(self) -> bool:
        """Whether the ratio rests on one process a side: its interval covers that process's
        epochs, which the next run's need not repeat, so it is said as this run's, unbounded."""
        return self.mark == "‡"

    def sentence(self) -> str:
        """The verdict in one sentence, with its interval and condition."""
        if self.unsure:
            return f"cannot tell {self.a} from {self.b} on {self.condition}: {self.unsure}"
        ratio = f"{self.a}/{self.b} time {number(self.ratio)}x"
        if self.kind == UNSURE:
            return f"cannot tell {self.a} from {self.b} on {self.condition}: {ratio}, no interval"
        if self.one_run:
            if self.kind == SAME:
                return (f"in one run, no clear difference between {self.a} and {self.b} on "
                        f"{self.condition}: {ratio}")
            x, _, _ = self.factor()
            slower = self.b if self.faster == self.a else self.a
            return (f"in one run, {self.faster} was {number(x)}x faster than {slower} on "
                    f"{self.condition}")
        interval = f"[{number(self.lo)}, {number(self.hi)}]"
        if self.kind == SAME:
            why = "their ratio's interval holds 1" if self.lo <= 1 <= self.hi else \
                f"within {MIN_EFFECT:.0%} of each other"
            return (f"no clear difference between {self.a} and {self.b} on {self.condition}: "
                    f"{why}, {ratio} {interval}")
        x, lo, hi = self.factor()
        slower = self.b if self.faster == self.a else self.a
        return (f"{self.faster} is {number(x)}x faster than {slower} [{number(lo)}, "
                f"{number(hi)}] on {self.condition}")

    def line(self) -> str:
        """The sentence with both medians, what the interval rests on, and its notes."""
        text = self.sentence()
        if not self.unsure:
            text += (f" ({self.a} {format_seconds(self.a_median)}, {self.b} "
                     f"{format_seconds(self.b_median)} per epoch; {self.method()})")
        return "; ".join([text, *self.notes])

    def method(self) -> str:
        from nnbench.results import pooling
        from nnbench.stats.verdicts import SOUND_ROUNDS

        if self.mark == pooling.ROUNDS_MARK:
            rough = f", a rough one: {SOUND_ROUNDS}+ a side for a sound interval" \
                if min(self.a_rounds, self.b_rounds) < SOUND_ROUNDS else ""
            pooled = (f" ({self.earlier[0]} vs {self.earlier[1]} from {self.earlier_sweeps} "
                      f"earlier sweep{'s' * (self.earlier_sweeps > 1)} here; "
                      f"bench.pool_earlier=false: this sweep's alone)") if any(self.earlier) \
                else ""
            return (f"95% CI over {self.a_rounds} vs {self.b_rounds} rounds of fresh "
                    f"processes{pooled}{rough}")
        if self.mark == pooling.SAMPLES_MARK:
            # one process a side: its interval covers that process's epochs, not the next run's
            return ("one process per side, not yet an answer: the next run need not repeat it; "
                    "bench.rounds=5 repeats it in fresh processes")
        return "one value a side; bench.rounds=5 gives an interval over rounds"

    def as_dict(self) -> dict[str, Any]:
        """For scripts: every field, the verdict's kind and faster framework, and the line."""
        return {**asdict(self), "kind": self.kind, "faster": self.faster,
                "line": self.line()}


SHOWN = ("experiment_name", "dataset", "arch", "precision", "batch_size", "variant")


def condition(rec: ReadRecord, environment: str = "", extra: list[str] | None = None) -> str:
    """The configuration in a few words: dataset and architecture, precision, batch, the
    ``extra`` keys that tell it from the others said (lr 0.5), its variant (the measured keys
    that tell it from its namesakes), device, and ``environment`` where a sweep ran several
    (``bench.python``)."""
    batch = rec.batch_size
    parts = [f"{rec.dataset} {rec.arch}", rec.precision,
             f"batch {key_text('batch_size', batch)}" if batch else "full batch",
             key_values(rec, extra or []), rec.variant, rec.device]
    return ", ".join(str(p) for p in parts if p) + (f" in {environment}" if environment else "")


def pairs_of(present: set[str], pair: tuple[str, str] | None = None,
             baseline: str | None = None) -> list[tuple[str, str]]:
    """The pairs said of a configuration that ran the frameworks ``present``: ``pair`` alone
    where chosen, else each framework against ``baseline`` where chosen, else every two."""
    if pair:
        return [pair] if set(pair) <= present else []
    order = sorted(present, key=lambda f: (HEADLINE_PAIR.index(f) if f in HEADLINE_PAIR
                                           else len(HEADLINE_PAIR), f))
    if baseline:
        return [(f, baseline) for f in order if f != baseline] if baseline in present else []
    return list(itertools.combinations(order, 2))


def group_key(rec: ReadRecord) -> tuple:
    """What records must share to be rounds of one configuration, or two frameworks compared
    on it: the names a table splits rows by, and the identity's setting, data and environment
    (the code is checked per pair, so that a mixture is said, not dropped); the environment
    last."""
    names = tuple(str(getattr(rec, k)) for k in [*CONFIG_KEYS, "device"])  # the tables' split
    if rec.setting is None:
        return (*names, str(rec.environment_name))
    return (*names, rec.setting, rec.digest("data"),
            rec.digest("environment") or rec.environment_name)


def _package_code(version: object) -> str:
    """The package's code in a ``code_version`` (a trainer outside the checkout adds its own
    after a +, by design different for each framework)."""
    return str(version).split("+", 1)[0]


def _mixture(by_framework: dict[str, list[ReadRecord]], pair: tuple[str, str]) -> tuple[str, str]:
    """(why no ratio, what the ratio's records do not share), each "" where nothing: one
    framework's rounds ran several code versions (they cannot pool), or the two ran
    different code (said after the line)."""
    codes = {f: sorted({str(r.code_version) for r in by_framework[f]}) for f in pair}
    for framework, versions in codes.items():
        if len(versions) > 1:
            return (f"{framework}'s rounds ran {len(versions)} code versions "
                    f"({', '.join(key_text('code_version', v) for v in versions)})"), ""
    a, b = (_package_code(codes[f][0]) for f in pair)
    if a != b:
        return "", (f"mixture: {pair[0]} ran code {key_text('code_version', a)}, {pair[1]} "
                    f"{key_text('code_version', b)}")
    return "", ""


def environment_names(groups: dict[tuple, Any]) -> dict[Any, str]:
    """Where records come from several environments: each one's name (its venv's folder),
    with its digest where two share a name (two venvs both called .venv)."""
    recs = {key[-1]: next(iter(group.values()))[0] for key, group in groups.items()}
    if len(recs) <= 1:
        return {}
    named = {env: str(rec.environment_name or "an unnamed environment")
             for env, rec in recs.items()}
    clash = {n for n in named.values() if list(named.values()).count(n) > 1}
    return {env: f"{name} ({str(env)[:8]})" if name in clash else name
            for env, name in named.items()}


def order(rec: ReadRecord) -> tuple:
    """Configurations in a reader's order: 2x64 before 2x256 before 2x1024, batch 16 before
    128 (``labels.order_value``)."""
    return tuple(order_value(getattr(rec, k)) for k in [*CONFIG_KEYS, "device"])


def verdicts(records: list[ReadRecord], pair: tuple[str, str] | None = None,
             baseline: str | None = None, earlier: list[ReadRecord] = ()) -> list[Verdict]:
    """A verdict per configuration (and experiment, and environment) and pair of frameworks
    that ran it ok, in a reader's order; ``earlier`` rounds (of earlier sweeps, the same
    identities) pool with ``records``' where a configuration has both, and are counted."""
    from nnbench.results import pooling

    earlier = as_records(earlier)
    past = {id(r): pooling.sweep_of(r) for r in earlier}
    groups: dict[tuple, dict[str, list[ReadRecord]]] = {}
    for rec in [*as_records(records), *earlier]:
        if rec.status == "ok" and getattr(rec, METRIC) is not None:
            key = (str(rec.experiment_name), *group_key(rec))
            groups.setdefault(key, {}).setdefault(rec.framework, []).append(rec)
    names = environment_names(groups)
    extra = [k for k in varying([next(iter(g.values()))[0] for g in groups.values()], SHOWN)
             if k not in ("environment_name", "environment_id")]  # said as "in <name>"
    out = []
    for key, by_framework in sorted(groups.items(), key=lambda item: (
            item[0][0], order(next(iter(item[1].values()))[0]), item[0][-1] or "")):
        for a, b in pairs_of(set(by_framework), pair, baseline):
            first = by_framework[a][0]
            said = {"a": a, "b": b,
                    "condition": condition(first, names.get(key[-1], ""), extra),
                    "experiment": key[0]}
            unsure, mixture = _mixture(by_framework, (a, b))
            # the host's contention picks the figure both sides are compared on, or none
            metric, estimator = robust.choice(r for f in (a, b) for r in by_framework[f])
            if metric is None:
                unsure = estimator.removeprefix("cannot tell: ")
            if unsure:
                out.append(Verdict(**said, unsure=unsure))
                continue
            sa, sb = (pooling.Side.of(by_framework[f], metric) for f in (a, b))
            result = pooling.ratio(sa, sb)
            if result is None:
                continue
            slow = [f for f, side in ((a, sa), (b, sb)) if side.spread()["disagree"]]
            notes = [f"{' and '.join(slow)}: rounds disagree, see the report"] if slow else []
            pooled = [[past[id(r)] for r in by_framework[f] if id(r) in past] for f in (a, b)]
            out.append(Verdict(**said, ratio=result[0], lo=result[1], hi=result[2],
                               mark=result[3], a_median=sa.median, b_median=sb.median,
                               a_rounds=sa.rounds, b_rounds=sb.rounds,
                               earlier=(len(pooled[0]), len(pooled[1])),
                               earlier_sweeps=len({*pooled[0], *pooled[1]}),
                               notes=[n for n in (estimator, *notes, mixture) if n]))
    return out
