"""``python -m nnbench.report compare``: baseline against candidate (two folders, or two
environments of one), the table on the terminal and every column in compare.md, and the gate's
exit status."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from nnbench.files import write_text
from nnbench.report.analyse import by_environment, compare
from nnbench.report.render import output
from nnbench.results.collect import Collection, collect


def run(out: Path, args: argparse.Namespace) -> int:
    sides = by_environment.sides(args, lambda folders: collect(folders,
                                                               progress=not args.no_progress))
    empty = [f"{flag} {folder} has no ok record ({_found(c)})"
             for flag, (folder, c) in sides.items()
             if not any(r.status == "ok" for r in c.records)]
    if empty:
        print(f"nnbench.report: error: nothing to compare: {'; '.join(empty)}",
              file=sys.stderr)
        return 2
    base, cand = (records for _, records in sides.values())  # two folders, or two environments
    table = compare.compare(base, cand, alpha=args.alpha, min_change=args.min_change,
                            margin=args.equivalence)
    if table.empty:
        print(f"nnbench.report: error: nothing to compare: no configuration ran ok on both sides "
              f"({compare.differences(base, cand)})", file=sys.stderr)
        return 2
    lost = compare.not_ok(base, cand)  # a crash in the candidate is no row of the table
    status, failed = compare.gate(table, args.fail_above, args.fail_on_unsure, lost)
    comment = compare.markdown(table, failed, args.fail_above, lost)
    text = compare.with_pairs(table, sides, args) + "".join(
        f"\n\n- {line}" if i == 0 else f"\n- {line}" for i, line in enumerate(lost))
    print(comment if args.format == "markdown" else _narrow(table))
    with output.whole(out) as stage:
        write_text(stage / "compare.md", text + "\n")
    print(f"-> {out / 'compare.md'} (every column)",
          file=sys.stderr if args.format == "markdown" else sys.stdout)
    for line in failed if args.format == "text" else []:
        print(f"nnbench.report: gate: {line}", file=sys.stderr)
    for line in [] if failed or args.format != "text" else lost:  # no gate: said, not failed
        print(f"nnbench.report: warning: {line}", file=sys.stderr)
    return status


def _narrow(table) -> str:
    """The comparison for a terminal: configuration keys with one value in every row said once
    above the table, and empty columns left out."""
    keys = [k for k in compare.KEY if k in table.columns]
    same = [k for k in keys if table[k].nunique() == 1 and len(table) > 1]
    empty = [c for c in table.columns if (table[c].astype(str) == "").all()]
    head = ", ".join(f"{k} {table[k].iloc[0]}" for k in same if str(table[k].iloc[0]))
    body = table.drop(columns=same + empty).to_markdown(index=False)
    return f"every row: {head}\n{body}" if head else body


def _found(collection: Collection) -> str:
    """What a side holds instead of ok records, in a few words."""
    counts = Counter(r.status for r in collection.records)
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    parts += [f"{len(collection.unreadable)} unreadable"] if collection.unreadable else []
    parts += [f"{len(collection.invalid)} invalid"] if collection.invalid else []
    return ", ".join(parts) or "no result.json"
