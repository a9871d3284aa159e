"""The time-to-target table: per configuration and contender, the epochs and training time
until the test accuracy first reached ``bench.target_accuracy`` (MLPerf's figure), as a median
over the repeats with its spread (minimum to maximum) — with ``bench.vary_seed`` the repeats
trained from starts of their own, so the spread is the seeds', not the clock's."""

from __future__ import annotations

import pandas as pd

from nnbench.report.render.pages import _order, latest_ok
from nnbench.results.labels import LABELLED, key_text, value_of, varying
from nnbench.results.read import ReadRecord
from nnbench.stats.samples import format_seconds

TITLE = "Time to target accuracy (newest run per configuration)"
NOTE = ("Epochs and training seconds until the test accuracy after an epoch first reached "
        "the target, per repeat: the test accuracy comes from an untimed replay of each "
        "training, the seconds from its timed epochs. Median over the repeats that reached "
        "it, [minimum, maximum] beside it.")


def table(records: list[ReadRecord]) -> pd.DataFrame:
    """A row per configuration, framework and device whose record has a target."""
    recs = sorted((r for r in latest_ok(records) if r.target_accuracy is not None),
                  key=lambda r: (_order(r), str(r.framework), str(r.device)))
    extra = varying(recs, LABELLED)
    rows = []
    for rec in recs:
        times = [t for t in rec.time_to_target_per_repeat_s or [] if t is not None]
        spread = (f" [{format_seconds(min(times))}, {format_seconds(max(times))}]"
                  if len(times) > 1 else "")
        median = rec.time_to_target_s
        rows.append({**{k: key_text(k, value_of(rec, k)) for k in [*LABELLED, *extra]},
                     "framework": rec.framework, "device": rec.device,
                     "target": rec.target_accuracy,
                     "reached": rec.target_reached_in_repeats or "",
                     "epochs": rec.epochs_to_target,
                     "time to target": "" if median is None else
                     format_seconds(median) + spread})
    return pd.DataFrame(rows)
