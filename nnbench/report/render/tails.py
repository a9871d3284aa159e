"""The inference tails table: p50, p90, p99 and the slowest call of the batch-1 and the
whole-test-set calls, with the calls they rest on, from each record's tail
(``nnbench.stats.tails``); a percentile the record left out reads "—" with its reason."""

from __future__ import annotations

import pandas as pd

from nnbench.report.render.pages import _order, latest_ok
from nnbench.results.labels import LABELLED, key_text, value_of, varying
from nnbench.results.read import ReadRecord
from nnbench.stats.samples import format_seconds

TITLE = "Inference latency tails (newest run per configuration)"
CALLS = (("inference_batch1_tail_s", "batch 1"),
         ("inference_batched_tail_s", "whole test set"))
NOTE = ("Nearest-rank percentiles of the timed calls of one process (its newest run), each "
        "with its distribution-free 99% upper bound in brackets; a percentile is left out "
        "(—) below the calls MLPerf's early stopping asks at 99% confidence: 11 for p50, 64 "
        "for p90, 662 for p99. Max is the slowest call: one hiccup sets it. Tails vary from "
        "process to process more than medians do: compare them across rounds with care.")


def _cell(tail: dict, name: str) -> str:
    if tail.get(name) is None:
        why = (tail.get("omitted") or {}).get(name, "not recorded")
        return f"— ({why.split(' (')[0]})"
    bound = tail.get(f"{name}_bound")
    text = format_seconds(tail[name])
    return text if bound is None else f"{text} (≤ {format_seconds(bound)})"


def table(records: list[ReadRecord]) -> pd.DataFrame:
    """A row per configuration, framework, device and kind of call that recorded a tail."""
    recs = sorted((r for r in latest_ok(records) if any(getattr(r, f) for f, _ in CALLS)),
                  key=lambda r: (_order(r), str(r.framework), str(r.device)))
    extra = varying(recs, LABELLED)
    rows = []
    for rec in recs:
        # batch_size is training's; what tells configurations apart beyond it, a column each
        config = {k: key_text(k, value_of(rec, k)) for k in [*LABELLED, *extra]}
        for field, call in CALLS:
            tail = getattr(rec, field)  # a dict of figures, as read
            if not tail:
                continue
            rows.append({**config, "framework": rec.framework, "device": rec.device,
                         "call": call, "calls": tail.get("calls"),
                         **{name: _cell(tail, name) for name in ("p50", "p90", "p99")},
                         "max": format_seconds(tail["max"]) if tail.get("max") is not None
                         else ""})
    return pd.DataFrame(rows)
