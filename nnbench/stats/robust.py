"""Which figure of a job's epochs a comparison may use, given what else the host was doing.

Timing noise on a shared machine is almost all *added* time: another process takes the core a
thread waits for. Chen and Revels ("Robust benchmarking in noisy environments", 2016, the
method behind Julia's BenchmarkTools) show that the minimum, or a low quantile, then estimates
the true cost better than the median or the mean. nnbench keeps the median as the headline of a
quiet run (``train_time_per_epoch_s``) and, beside it, the ``LOW_QUANTILE``th percentile of the
same timed epochs (``train_time_per_epoch_low_s``): a percentile rather than the minimum, so
that one lucky epoch does not carry a ratio. A comparison uses

- the median where every record's host was quiet (``measure.contention``);
- the low quantile, on both sides, where some record's host was busy but its threads fitted in
  the free cores: the waits were occasional, and the low quantile leaves them out;
- nothing where some record's threads did not fit (oversubscribed): every epoch may have
  waited, no estimator can take that out, and the answer is "cannot tell: host busy".

How far the low quantile sits below the median on a quiet host (its bias) is measured and
stated in docs/statistics.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from nnbench.record import Record

LOW_QUANTILE = 10
MEDIAN, LOW = "train_time_per_epoch_s", "train_time_per_epoch_low_s"


def low(samples: Sequence[float]) -> float | None:
    """The ``LOW_QUANTILE``th percentile of ``samples`` (None for none)."""
    return float(np.percentile(samples, LOW_QUANTILE)) if len(samples) else None


def choice(records: Iterable[Record | dict]) -> tuple[str | None, str]:
    """(the time-per-epoch field to compare ``records`` on, or None: cannot tell; and why, in
    words). Records without a contention reading (older ones, off Linux) count as quiet."""
    readings = [_contention(r) for r in records]
    worst = [c for c in readings if c.get("level") == "oversubscribed"]
    if worst:
        return None, (f"cannot tell: host busy ({worst[0]['text']}); rerun with fewer "
                      f"threads (bench.threads=auto or 1), fewer parallel jobs, or other work "
                      f"closed")
    if any(c.get("level") == "busy" for c in readings):
        return LOW, f"{LOW_QUANTILE}th percentile of epochs: the host was busy"
    return MEDIAN, ""


def _contention(record: Record | dict) -> dict:
    """A record's contention reading ({} where none was taken): a typed record's field, or a
    script's dict's key (this module sits below the readers of result files)."""
    reading = record.get("contention") if isinstance(record, dict) else record.contention
    return reading or {}


def metric_for(records: Iterable[Record | dict], metric: str) -> tuple[str | None, str]:
    """The figure a comparison of ``metric`` over ``records`` may use, and why (``choice``'s
    words): the time per epoch as the host's contention allows; any other figure as asked
    (its samples carry no contention reading of their own)."""
    return choice(records) if metric == MEDIAN else (metric, "")

