"""``python -m nnbench.report [RUN_DIRS...]``: tables, figures and a page from result records.

``--baseline DIR --candidate DIR`` compares two sets of runs instead.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections import Counter
from pathlib import Path

from nnbench import stats
from nnbench.files import write_text
from nnbench.report import compare, confusion, html, output, plots
from nnbench.report.collect import Collection, collect
from nnbench.report.sections import summary_markdown
from nnbench.report.tables import DEFAULT_PAIR


def report(run_dirs: list[Path], out: Path, progress: bool = True,
           small: bool = False, pair: tuple[str, str] = DEFAULT_PAIR) -> list[Path]:
    """Write the report of the records under ``run_dirs`` to ``out``, as a whole: ``out`` ends
    holding this report's files and no others, or (on an error) stays as it was."""
    output.check(out)  # before reading thousands of records
    collection = collect(run_dirs, exclude=[out], progress=progress)
    if not (collection.records or collection.unreadable or collection.invalid
            or collection.incomplete):  # an empty report would replace a real one
        raise output.OutError(f"nothing to report: no result.json and no job folder under "
                              f"{', '.join(map(str, run_dirs))}")
    with output.whole(out) as stage:
        names = _write(collection, stage, small, pair)
    print(f"{len(collection.records)} records, {len(collection.unreadable)} unreadable, "
          f"{len(collection.invalid)} invalid, {len(collection.incomplete)} incomplete -> {out}")
    flag = "#### Rounds that disagree: "  # summary.md's heading of each flagged configuration
    for line in (out / "summary.md").read_text().splitlines():
        if line.startswith(flag):
            print(f"rounds disagree: {line.removeprefix(flag)} (see summary.md)")
    for item in collection.unreadable:
        print(f"unreadable: {item['path']}: {item['error']}", file=sys.stderr)
    for item in collection.invalid:
        print(f"invalid: {item['path']}: {item['error']}", file=sys.stderr)
    ran = {r.get("framework") for r in collection.records if r.get("status") == "ok"}
    absent = [name for name in pair if name not in ran]
    if collection.records and absent:
        print(f"nnbench.report: warning: --pair {','.join(pair)}: no ok record of "
              f"{' or '.join(absent)}, so no ratio; ran ok: {', '.join(sorted(ran)) or 'none'}",
              file=sys.stderr)
    return [out / name for name in names]


def _write(collection: Collection, out: Path, small: bool, pair: tuple[str, str]) -> list[str]:
    frame = collection.frame
    written = []
    write_text(out / "results.csv", frame.to_csv(index=False))
    written.append(out / "results.csv")
    if not small:  # the full records (histories, raw samples) and the page that inlines PNGs
        write_text(out / "results.json", json.dumps(collection.records, indent=1, default=str))
        written.append(out / "results.json")
    makers = [
        (functools.partial(plots.comparison_summary, pair=pair, records=collection.records),
         frame, "comparison_summary.png"),
        (plots.scaling, frame, "scaling.png"),
        (functools.partial(plots.loss_curves, pair=pair), collection.records, "loss_curves.png"),
        (functools.partial(confusion.confusion_matrices, pair=pair), collection.records,
         "confusion_matrices.png"),
    ]
    figures = []
    for make, data, name in makers:
        if len(data) == 0:
            continue
        try:
            figure = make(data, out / name)
        except Exception as err:  # noqa: BLE001 - one odd figure must not cost the report
            print(f"nnbench.report: warning: {name} not drawn: {type(err).__name__}: {err}",
                  file=sys.stderr)
            continue
        if figure is not None:
            figures.append(figure)
    write_text(out / "summary.md", summary_markdown(collection, [f.name for f in figures], pair))
    written += [*figures, out / "summary.md"]
    if not small:
        write_text(out / "report.html", html.render(collection, figures, pair))
        written.append(out / "report.html")
    return [Path(p).name for p in written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nnbench.report", description=__doc__)
    parser.add_argument("run_dirs", nargs="*", type=Path, default=[Path("runs")],
                        help="folders to search for result.json (default: runs)")
    parser.add_argument("--out", type=Path,
                        help="folder the report is written to, replacing an earlier report "
                             "there (default: runs/report; with --baseline: runs/compare)")
    parser.add_argument("--baseline", type=Path, help="runs to compare against")
    parser.add_argument("--candidate", type=Path, help="runs compared with the baseline")
    parser.add_argument("--alpha", type=float, default=stats.ALPHA,
                        help="p-value a change must beat, over rounds, between 0 and 1 "
                             "(default: %(default)s)")
    parser.add_argument("--min-change", type=float, default=stats.MIN_CHANGE,
                        help="smallest change called a change, as a fraction: 0.1 = 10%% "
                             "(default: %(default)s)")
    parser.add_argument("--pair", default=",".join(DEFAULT_PAIR), metavar="A,B",
                        help="the two frameworks whose ratio the tables show "
                             "(default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (there is none unless stderr is a terminal)")
    parser.add_argument("--small", action="store_true",
                        help="only results.csv, summary.md and the figures (for committing)")
    args = parser.parse_args(argv)
    missing = [p for p in [*args.run_dirs, args.baseline, args.candidate]
               if p is not None and not p.exists()]
    if missing:
        print(f"nnbench.report: error: no such folder: {missing[0]}", file=sys.stderr)
        return 2
    pair = tuple(name.strip() for name in args.pair.split(","))
    if len(pair) != 2 or not all(pair) or pair[0] == pair[1]:
        print(f"nnbench.report: error: --pair={args.pair!r} must name two different frameworks, "
              f"e.g. numpy,torch", file=sys.stderr)
        return 2
    wrong = _out_of_range(args)
    if wrong:
        print(f"nnbench.report: error: {wrong}", file=sys.stderr)
        return 2
    args.no_progress = args.no_progress or not sys.stderr.isatty()  # no bar in a log file
    if (args.baseline is None) != (args.candidate is None):
        print("nnbench.report: error: --baseline and --candidate go together", file=sys.stderr)
        return 2
    out = args.out or Path("runs/compare" if args.baseline is not None else "runs/report")
    try:
        output.check(out)
        if args.baseline is not None:
            return _compare(args.baseline, args.candidate, out, args)
        report(args.run_dirs, out, progress=not args.no_progress, small=args.small,
               pair=pair)
    except output.OutError as err:
        print(f"nnbench.report: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the disk filled up, a folder vanished, ... while writing
        print(f"nnbench.report: error: --out {out} not written: {err.strerror or err}"
              f"{f': {err.filename}' if err.filename else ''}", file=sys.stderr)
        return 2
    return 0


def _out_of_range(args: argparse.Namespace) -> str | None:
    """The statistical settings a comparison cannot use, in one line."""
    if not 0 < args.alpha < 1:
        return f"--alpha {args.alpha:g} is not a p-value level; allowed: between 0 and 1, e.g. 0.01"
    if not 0 <= args.min_change < 1:
        return (f"--min-change {args.min_change:g} is not a fraction of a change; allowed: 0 "
                f"(any change) up to below 1, e.g. 0.1 for 10%")
    return None


def _compare(baseline: Path, candidate: Path, out: Path, args: argparse.Namespace) -> int:
    sides = {"--baseline": (baseline, collect([baseline], progress=not args.no_progress)),
             "--candidate": (candidate, collect([candidate], progress=not args.no_progress))}
    empty = [f"{flag} {folder} has no ok record ({_found(c)})"
             for flag, (folder, c) in sides.items()
             if not any(r.get("status") == "ok" for r in c.records)]
    if empty:
        print(f"nnbench.report: error: nothing to compare: {'; '.join(empty)}",
              file=sys.stderr)
        return 2
    table = compare.compare(sides["--baseline"][1], sides["--candidate"][1], alpha=args.alpha,
                            min_change=args.min_change)
    if table.empty:
        print(f"nnbench.report: error: nothing to compare: no configuration ran ok on both sides "
              f"({compare.differences(sides['--baseline'][1], sides['--candidate'][1])})",
              file=sys.stderr)
        return 2
    text = table.to_markdown(index=False)
    print(_narrow(table))
    with output.whole(out) as stage:
        write_text(stage / "compare.md", text + "\n")
    print(f"-> {out / 'compare.md'} (every column)")
    return 0


def _narrow(table) -> str:
    """The comparison for a terminal: configuration keys with one value in every row said once
    above the table, and empty columns left out."""
    keys = [k for k in compare.KEY if k in table.columns]
    same = [k for k in keys if table[k].nunique() == 1 and len(table) > 1]
    empty = [c for c in table.columns if (table[c].astype(str) == "").all()]
    head = ", ".join(f"{k} {table[k].iloc[0]}" for k in same)
    body = table.drop(columns=same + empty).to_markdown(index=False)
    return f"every row: {head}\n{body}" if head else body


def _found(collection: Collection) -> str:
    """What a side holds instead of ok records, in a few words."""
    counts = Counter(r.get("status") for r in collection.records)
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    parts += [f"{len(collection.unreadable)} unreadable"] if collection.unreadable else []
    parts += [f"{len(collection.invalid)} invalid"] if collection.invalid else []
    return ", ".join(parts) or "no result.json"

if __name__ == "__main__":
    sys.exit(main())
