"""The closing verdict of ``bench.rounds=auto`` pools earlier sweeps' rounds of exactly the same
identity on this host: a host's slow spell outlasts one sweep's rounds, and two sweeps each gave
a tight interval that excluded the other's (2.55x [2.53, 2.56], then 2.92x [2.87, 3.03])."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf
from test_contention import _busy
from test_identity import _sweep, _write

from nnbench import stats
from nnbench.hydra.callbacks import pool_earlier
from nnbench.results import earlier
from nnbench.results.sweep_summary import ratio_lines, sweep_verdicts
from nnbench.stats import robust

ON = "moons 2x32x16x1, float32, full batch, cpu"
# the two speed states of one host: NumPy +25%, torch +43% in the slow one
FAST, SLOW = (0.000208, 0.00053), (0.000260, 0.00076)


def _folder(runs: Path, minute: int) -> Path:
    return runs / "demo" / f"2026-12-07_08-{minute:02d}-00_4242-ab{minute:02d}"


def _run(runs: Path, minute: int, state: tuple[float, float], rounds: int = 5, **kw) -> Path:
    folder = _folder(runs, minute)
    records = _sweep(folder, rounds, *state, **kw)
    for rec in records:  # the figure a busy host's rounds are compared on
        rec["train_time_per_epoch_low_s"] = robust.low(rec["epoch_times_s"][0])
    _write(folder, records)
    return folder


def _interval(line: str) -> tuple[float, float]:
    lo, hi = re.search(r"faster than torch \[([\d.]+), ([\d.]+)\]", line).groups()
    return float(lo), float(hi)


def test_a_sweep_in_a_slow_spell_pools_the_earlier_sweeps_and_says_how_many(tmp_path):
    runs = tmp_path / "runs"
    first = _run(runs, 1, FAST)
    _run(runs, 2, FAST)
    slow = _run(runs, 3, SLOW)
    [alone] = ratio_lines(slow)
    [before] = ratio_lines(first)
    # each sweep alone: tight intervals that exclude each other
    assert _interval(alone)[0] > _interval(before)[1], (alone, before)
    [pooled] = ratio_lines(slow, pool_earlier=True)
    assert "95% CI over 15 vs 15 rounds of fresh processes (10 vs 10 from 2 earlier sweeps " \
           "here; bench.pool_earlier=false: this sweep's alone)" in pooled, pooled
    lo, hi = _interval(pooled)
    assert lo <= _interval(before)[1] and hi >= _interval(alone)[0], pooled  # both states
    # the first sweep has nothing before it; a later one does not reach forward
    assert ratio_lines(first, pool_earlier=True) == ratio_lines(first)


def test_an_earlier_sweep_of_two_thread_counts_pools_its_own_into_one_line(tmp_path):
    """An earlier sweep ran 1 and 2 threads: its rounds at 2 threads pooled into this sweep's
    line, not said as a line of their own ("threads 2")."""
    runs = tmp_path / "runs"
    folder = _folder(runs, 1)
    _write(folder, [*_sweep(folder, 5, *SLOW, threads=1), *_sweep(folder, 5, *SLOW, threads=2)])
    now = _run(runs, 2, FAST, threads=2)
    [verdict] = sweep_verdicts(now, pool_earlier=True)
    assert verdict.earlier == (5, 5) and verdict.condition == ON, verdict


def test_only_the_same_identity_pools(tmp_path):
    """Another thread count (the configuration), another commit (the code), another host or
    library version (the environment): never rounds of this sweep's configuration."""
    runs = tmp_path / "runs"
    _run(runs, 1, SLOW, threads=1)
    _run(runs, 2, SLOW, code="f" * 40)
    _run(runs, 3, SLOW, environment="e2")
    now = _run(runs, 4, FAST)
    [verdict] = sweep_verdicts(now, pool_earlier=True)
    assert (verdict.a_rounds, verdict.earlier) == (5, (0, 0))
    assert ratio_lines(now, pool_earlier=True) == ratio_lines(now)


def test_a_quiet_sweep_does_not_pool_busy_rounds_and_an_oversubscribed_one_pools_none(tmp_path):
    runs = tmp_path / "runs"
    _run(runs, 1, SLOW, contention=_busy("busy", 0.8))
    quiet = _run(runs, 2, FAST, contention=_busy("quiet", 0.1))
    [verdict] = sweep_verdicts(quiet, pool_earlier=True)
    assert verdict.earlier == (0, 0) and not verdict.notes  # still compared on the medians
    busy = _run(runs, 3, FAST, contention=_busy("busy", 0.6))
    [verdict] = sweep_verdicts(busy, pool_earlier=True)
    assert verdict.earlier == (10, 10) and verdict.earlier_sweeps == 2  # quiet and busy rounds both
    over = _run(runs, 4, FAST, contention=_busy("oversubscribed"))
    assert earlier.earlier_rounds(over, earlier_records(over)) == []


def earlier_records(folder: Path) -> list:
    from nnbench.results.collect import collect

    return collect([folder], progress=False).records


def test_only_the_most_recent_sweeps_named_as_nnbench_names_them_are_read(tmp_path):
    runs = tmp_path / "runs"
    folders = [_folder(runs, m) for m in range(14)]
    for folder in folders:
        folder.mkdir(parents=True)
    (runs / "demo" / "notes").mkdir()
    assert earlier.earlier_sweeps(folders[13]) == folders[3:13]
    assert earlier.earlier_sweeps(folders[0]) == []
    # a sweep given a folder of its own (hydra.sweep.dir=/tmp/x) has no earlier siblings
    assert earlier.earlier_sweeps(runs / "demo" / "notes") == []


def test_the_closing_lines_pool_only_with_rounds_auto_and_pool_earlier():
    def config(rounds, pool=True):
        return OmegaConf.create({"bench": {"rounds": rounds, "pool_earlier": pool}})

    assert pool_earlier(config("auto"))
    assert not pool_earlier(config("auto", pool=False))
    assert not pool_earlier(config(5))  # a set number of rounds is the user's own experiment


def _levels(level: tuple[float, float], n: int, seed: int) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    return tuple(list(x * np.exp(0.01 * rng.standard_normal(n))) for x in level)


def test_rounds_of_several_sweeps_are_resampled_by_sweep():
    """5 rounds in the fast state, then 20 in the slow one: as independent rounds the interval
    sits on the slow sweep's ratio and excludes the fast sweep's; by sweep it spans both."""
    fast, slow = _levels(FAST, 5, 1), _levels(SLOW, 20, 2)
    a, b = [fast[0], slow[0]], [fast[1], slow[1]]
    in_fast, in_slow = (np.median(x) / np.median(y) for x, y in zip(a, b, strict=True))
    _, lo, hi, _ = stats.ratio_interval(fast[0] + slow[0], fast[1] + slow[1], rounds=True)
    assert not lo <= in_fast <= hi  # pooled as independent: the fast sweep left out
    r, lo, hi, method = stats.clustered_ratio_interval(a, b)
    assert lo <= in_slow < in_fast <= hi and lo <= r <= hi, (lo, r, hi, in_fast, in_slow)
    assert method == "bootstrap over 2 sweeps and their rounds"
    # one sweep: the round bootstrap of ratio_interval, the same figure
    one = stats.clustered_ratio_interval([fast[0]], [fast[1]])
    plain = stats.ratio_interval(fast[0], fast[1], rounds=True)
    assert one[0] == pytest.approx(plain[0])
    assert one[1:3] == pytest.approx(plain[1:3], rel=0.01)


def _coverage(sweeps: int, between: float, trials: int = 200) -> float:
    """How often the interval holds the host's long-run ratio (0.5), when each sweep's level
    shifts by a lognormal ``between`` on each side and its 5-7 rounds spread 3% around it."""
    rng, hits = np.random.default_rng(7), 0
    for t in range(trials):
        a, b = [], []
        for _ in range(sweeps):
            n, shift = rng.integers(5, 8), np.exp(between * rng.standard_normal(2))
            a.append(list(shift[0] * np.exp(0.03 * rng.standard_normal(n))))
            b.append(list(2 * shift[1] * np.exp(0.03 * rng.standard_normal(n))))
        _, lo, hi, _ = stats.clustered_ratio_interval(a, b, n_boot=1000, seed=t)
        hits += lo <= 0.5 <= hi
    return hits / trials


def test_by_sweep_the_interval_holds_the_hosts_ratio_once_enough_sweeps_pooled():
    """Levels shifting 10% between sweeps: one sweep's interval holds the long-run ratio a
    quarter of the time; five sweeps' about 95%."""
    assert _coverage(1, 0.10) < 0.5
    assert _coverage(5, 0.10) >= 0.9
    assert _coverage(1, 0.0) >= 0.9  # no shift: one sweep is enough, as before


def test_a_baseline_and_a_candidate_of_other_sweeps_are_not_paired_by_sweep():
    from nnbench.results.pooling import Side, ratio

    base = Side([1.0, 1.1, 1.0, 0.9], [None] * 4, ["/a", "/a", "/b", "/b"])
    cand = Side([2.0, 2.1, 2.0, 1.9], [None] * 4, ["/c", "/c", "/d", "/d"])
    r, lo, hi, mark = ratio(base, cand)
    assert mark == "†" and lo < r < hi and r == 0.5
