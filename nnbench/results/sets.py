"""A history's result sets (one folder each) and their order in time.

A set's time is the earliest ``environment.time_utc`` of its ok records. The records' times
order the sets only where each set ended before the next began: a set with records that say no
time, or two sets whose records' times overlap (one ran while the other did, or a set was
resumed later), cannot be placed, and ``load`` refuses them, naming each, unless the user gives
the order (``order="given"``: as the folders were given). A history in a wrong order finds
steps that are not there and reverses those that are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from nnbench.results.collect import collect
from nnbench.results.read import ReadRecord

ORDERS = ("time", "given")  # --history-order: by the records' times, or as given


class OrderUnknown(ValueError):
    """The records' times cannot tell the sets' order; the message names the sets and how to
    give the order."""


@dataclass
class ResultSet:
    folder: Path
    records: list[ReadRecord]  # ok records only
    time: str  # the earliest environment.time_utc ("" when none says)
    span: tuple[datetime, datetime] | None = None  # first and last record's time, when all say
    untimed: int = 0  # records without a readable environment.time_utc


def _when(rec: ReadRecord) -> datetime | None:
    """A record's ``environment.time_utc`` as an aware datetime (naive ones read as UTC)."""
    try:
        when = datetime.fromisoformat(rec.started)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _unordered(sets: list[ResultSet]) -> str | None:
    """Why the records' times cannot order ``sets`` (sorted by start), in one line; None when
    each set ended before the next began."""
    untimed = [f"{s.folder} ({s.untimed} of {len(s.records)} records without a time)"
               for s in sets if s.span is None]
    if untimed:
        return f"records that say no time: {', '.join(untimed)}"
    overlaps, latest = [], None
    for result_set in sets:
        if latest is not None and result_set.span[0] <= latest.span[1]:
            overlaps.append(f"{latest.folder} ({_span(latest)}) and {result_set.folder} "
                            f"({_span(result_set)})")
        if latest is None or result_set.span[1] > latest.span[1]:
            latest = result_set
    return f"sets whose records' times overlap: {'; '.join(overlaps)}" if overlaps else None


def _span(result_set: ResultSet) -> str:
    first, last = (t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in result_set.span)
    return first if first == last else f"{first} to {last}"


def load(folders: list[Path], progress: bool = False,
         order: str = "time") -> tuple[list[ResultSet], list[str]]:
    """The sets in time order (``order="given"``: as given), and one line for each folder left
    out (no ok record). ``OrderUnknown`` when the records' times cannot tell the order."""
    sets, skipped = [], []
    for folder in folders:
        ok = [r for r in collect([folder], progress=progress).records if r.status == "ok"]
        if not ok:
            skipped.append(f"{folder}: no ok record, left out of the history")
            continue
        times = [r.started for r in ok]
        whens = [_when(r) for r in ok]
        known = [w for w in whens if w is not None]
        span = (min(known), max(known)) if len(known) == len(ok) else None
        sets.append(ResultSet(folder, ok, min((t for t in times if t), default=""), span,
                              len(ok) - len(known)))
    if order == "given":
        return sets, skipped
    ordered = sorted(sets, key=lambda s: (s.span is None, s.span[0] if s.span else 0))
    wrong = _unordered(ordered) if len(ordered) > 1 else None
    if wrong:
        raise OrderUnknown(f"--history cannot tell the order of the sets from their records' "
                           f"times ({wrong}); give the folders oldest first with "
                           f"--history-order given")
    return ordered, skipped
