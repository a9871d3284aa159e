"""A configuration's rounds, pooled: one record is one fresh process, hence one round.

A sweep run with ``bench.rounds=N`` leaves N records per configuration; records of the same
configuration from separate sweeps pool the same way, as long as they share the code that ran
and the libraries it ran on (``separate``). The figure of a configuration is the
median of its round medians; a ratio between two frameworks gets a bootstrap interval over the
rounds where each side has at least two (by sweep, then round, where the same sweeps ran both
sides' rounds: ``stats.clustered_ratio_interval``), else over the samples of the one process
per side (which covers only that process's own noise, and says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nnbench import stats
from nnbench.record import Record
from nnbench.results.labels import IDENTITY

DIGESTS = ("data_id", "environment_id")

# Where a figure's raw samples are in a record, in the figure's own unit.
SAMPLED = ("train_time_per_epoch_s", "inference_latency_per_sample_s",
           "inference_latency_batch1_s")
ROUNDS_MARK, SAMPLES_MARK = "†", "‡"
NOTES = {
    ROUNDS_MARK: "95% CI, bootstrap over rounds: the round medians (one fresh process each) "
                 "resampled; it covers process-to-process variation (5+ rounds per side for a "
                 "sound interval). Where a configuration's rounds come from several sweeps, "
                 "the ratio is the median of the sweeps' ratios and the sweeps are resampled "
                 "too (a host's speed can shift between sweeps).",
    SAMPLES_MARK: "95% CI, bootstrap over the samples of one process per side: it covers only "
                  "the noise within those processes, not what a fresh process would give "
                  "(run with bench.rounds=5 for an interval over rounds).",
    "": "No interval: one value per side (peak RSS is one number per process); bench.rounds=5 "
        "gives one.",
}


def separate(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The frame with its ``IDENTITY`` columns made fit to group by, and ``keys`` plus those
    that now vary: where one framework and device of a configuration (``keys``) has records of
    several code versions or library versions, each record keeps its own and the configuration
    becomes a row per version (they are never pooled as rounds of one); elsewhere the
    configuration's versions are joined into one value, so that frameworks whose versions
    differ by design (a trainer outside the package has its own) still share a row."""
    present = [k for k in IDENTITY if k in frame.columns]
    if frame.empty or not present:
        return frame, keys
    identity = row_ids(frame, present)
    if identity.nunique() <= 1:  # one code and one set of libraries: nothing to keep apart
        return frame, keys
    config = row_ids(frame, keys)
    cell = row_ids(frame, [*keys, "framework", "device"])
    mixed_cells = identity.groupby(cell).transform("nunique") > 1
    mixed = mixed_cells.groupby(config).transform("any")
    out = frame.copy()
    for key in present:
        seen = pd.DataFrame({"config": config, "value": frame[key]}).dropna().drop_duplicates()
        joined = seen.assign(value=seen["value"].astype(str)).sort_values("value") \
            .groupby("config")["value"].agg(" / ".join)
        out[key] = frame[key].where(mixed, config.map(joined))
    # a digest is a column only where it keeps records of one configuration apart (one of
    # data follows from the configuration's own keys wherever those differ)
    digests = {k for k in present if k in DIGESTS and
               not (frame[k].astype(str).groupby(cell).transform("nunique") > 1).any()}
    return out, [*keys, *(k for k in present
                          if k not in digests and out[k].nunique(dropna=False) > 1)]


def row_ids(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One string per row of ``columns``; a missing value (a full batch) reads the same in
    every row."""
    return pd.Series(["|".join(map(str, row)) for row in frame[columns].itertuples(index=False)],
                     index=frame.index, dtype=object)


def versions(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame | None:
    """Records per code version and library versions, where some configuration (``keys``) has
    records of several for one framework and device; None where none has."""
    separated, grouped = separate(frame, keys)
    shown = [k for k in IDENTITY if k in grouped]
    if not shown:
        return None
    counts = separated.groupby(shown, dropna=False).size().reset_index(name="records")
    return counts


def samples(record: Record, metric: str) -> list[float] | None:
    """The raw samples behind ``metric`` in one record, or None where it keeps none."""
    if metric == "train_time_per_epoch_s":
        warmup = record.warmup_epochs or 0
        out = [t for times in record.epoch_times_s or [] for t in times[warmup:]]
    elif metric == "inference_latency_per_sample_s":
        n = record.n_test
        calls = (record.inference_samples_s or {}).get("batched_call") or []
        out = [t / n for t in calls] if n else []
    elif metric == "inference_latency_batch1_s":
        out = list((record.inference_samples_s or {}).get("batch1") or [])
    else:
        return None
    return out or None


@dataclass
class Side:
    """One framework's rounds of one configuration: a value per round, samples where kept."""

    values: list[float]
    samples: list[list[float] | None]
    sweeps: list[str] | None = None  # the sweep folder of each round, where known
    _key: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, records: list[Record], metric: str) -> Side:
        kept = [r for r in records if getattr(r, metric) is not None]
        return cls([float(getattr(r, metric)) for r in kept], [samples(r, metric) for r in kept],
                   [sweep_of(r) for r in kept])

    @property
    def rounds(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float | None:
        return float(np.median(self.values)) if self.values else None

    def key(self) -> tuple:
        """What this side's statistics depend on, hashable and cheap: the round values, and
        each round's sample count and sum, and the sweep of each (made once: a side is asked
        for it again and again)."""
        if self._key is None:
            self._key = (tuple(self.values),
                         tuple((len(s), float(np.sum(s))) if s else None for s in self.samples),
                         tuple(self.sweeps or ()))
        return self._key

    def by_sweep(self, names: list[str]) -> list[list[float]]:
        """The round values of each of the sweeps ``names``, in that order."""
        sweeps = self.sweeps or [""] * self.rounds
        return [[v for v, s in zip(self.values, sweeps, strict=True) if s == name]
                for name in names]

    def spread(self) -> dict:
        """``stats.rounds_disagree`` over the rounds (with their samples where kept)."""
        rounds = [s if s else v for v, s in zip(self.values, self.samples, strict=True)]
        return dict(_once(("spread", self.key()), lambda: stats.rounds_disagree(rounds)))


# The tables and the verdicts pool the same sides of a report: each statistic is computed once
# (a bootstrap of 10,000 resamples, a spread over thousands of epochs), kept by what it is of.
_MADE: dict[tuple, object] = {}


def _once(key: tuple, make) -> object:
    if key not in _MADE:
        if len(_MADE) >= 50_000:  # a long-lived process reporting again and again
            _MADE.clear()
        _MADE[key] = make()
    return _MADE[key]


def ratio(a: Side, b: Side) -> tuple[float, float, float, str] | None:
    """(a/b, lo, hi, mark): over rounds where both sides have two or more (mark †), else over
    the samples of one process per side (‡), else the bare ratio (no mark, NaN interval)."""
    if not a.values or not b.values or not b.median:
        return None
    return _once(("ratio", a.key(), b.key()), lambda: _ratio(a, b))


def host_ratio(a_recs: list, b_recs: list, metric: str,
               sides: tuple[Side, Side] | None = None
               ) -> tuple[tuple[float, float, float, str] | None, str | None]:
    """The two sides' ratio of ``metric`` as the host's contention allows (``stats.robust``):
    on ``sides`` (or the records' ``metric``) where every host was quiet, on both sides' 10th
    percentiles where one was busy; (None, None) where one was oversubscribed. Returns the
    ratio and the field it used."""
    from nnbench.stats import robust

    used, _ = robust.metric_for([*a_recs, *b_recs], metric)
    if used is None:
        return None, None
    if used != metric or sides is None:
        sides = (Side.of(a_recs, used), Side.of(b_recs, used))
    return ratio(*sides), used


def sweep_of(record: Record) -> str:
    """The sweep a record's round ran in: the folder above its job folder ("" unknown)."""
    path = getattr(record, "result_file", "")
    return str(Path(path).parent.parent) if path else ""


def _ratio(a: Side, b: Side) -> tuple[float, float, float, str]:
    if a.rounds >= 2 and b.rounds >= 2:
        sweeps = sorted(set(a.sweeps or [""]))
        # rounds of several sweeps that ran both sides (a sweep's rounds, not a baseline's and
        # a candidate's): a level each, resampled as such
        if len(sweeps) > 1 and sweeps == sorted(set(b.sweeps or [""])):
            r, lo, hi, _ = stats.clustered_ratio_interval(a.by_sweep(sweeps), b.by_sweep(sweeps))
        else:
            r, lo, hi, _ = stats.ratio_interval(a.values, b.values, rounds=True)
        return r, lo, hi, ROUNDS_MARK
    sa = [t for s in a.samples if s for t in s]
    sb = [t for s in b.samples if s for t in s]
    if len(sa) >= 2 and len(sb) >= 2 and a.rounds == 1 and b.rounds == 1:
        _, lo, hi, _ = stats.ratio_interval(sa, sb, rounds=False)
        # the ratio shown is of the figures in the table; the interval is the samples'
        return a.median / b.median, lo, hi, SAMPLES_MARK
    return a.median / b.median, float("nan"), float("nan"), ""


def ratio_number(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def ratio_text(result: tuple[float, float, float, str] | None) -> str:
    """``0.40x [0.39, 0.42]†``; the bare ratio where there is no interval."""
    if result is None:
        return ""
    r, lo, hi, mark = result
    if not np.isfinite(lo) or not np.isfinite(hi):
        return f"{ratio_number(r)}x"
    return f"{ratio_number(r)}x [{ratio_number(lo)}, {ratio_number(hi)}]{mark}"


def notes(marks: set[str]) -> str | None:
    """The footnote for the interval marks a table uses."""
    used = [f"{m} {NOTES[m]}" if m else NOTES[m] for m in (ROUNDS_MARK, SAMPLES_MARK, "")
            if m in marks]
    return " ".join(used) or None
