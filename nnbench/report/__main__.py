"""``python -m nnbench.report [RUN_DIRS...]``: tables, figures and a page from result records.

``--baseline DIR --candidate DIR`` compares two sets of runs instead; ``--baseline-env A
--candidate-env B`` two environments of one set (a sweep over ``bench.python``).
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
from collections import Counter
from pathlib import Path

from nnbench import stats
from nnbench.files import write_text
from nnbench.report.analyse import by_environment, compare, cost_model
from nnbench.report.commands import options
from nnbench.report.commands.aside import aside
from nnbench.report.render import answer, html, output
from nnbench.report.render.sections import sections, summary_markdown
from nnbench.report.render.tables import DEFAULT_PAIR
from nnbench.results import index
from nnbench.results.collect import Collection, collect

# Records from which a report draws its figures in a second process while it computes its
# tables (on a machine with a second CPU): below, the fork would cost more than it saves.
ASIDE_FROM = 200
FAR = ("comparison_summary.png", "loss_curves.png")  # the figures that take longest to draw


def report(run_dirs: list[Path], out: Path, progress: bool = True,
           small: bool = False, pair: tuple[str, str] | None = None, histories: bool = False,
           rebuild: bool = False, baseline_framework: str | None = None) -> list[Path]:
    """Write the report of the records under ``run_dirs`` to ``out``, as a whole: ``out`` ends
    holding this report's files and no others, or (on an error) stays as it was. Its verdicts
    in words: of ``pair`` alone where chosen (the tables' ratio; numpy and torch by default),
    else of each framework against ``baseline_framework``, else of every two. Records
    unchanged since the last report to ``out`` come from its index (``results.index``); when
    nothing changed (records, options, code, the files in ``out``), ``out`` is left as it is.
    ``rebuild``: every record read afresh and the report drawn anew."""
    target = output.check(out)  # before reading thousands of records
    with index.opened(target, rebuild) as kept:
        collection = collect(run_dirs, exclude=[out], progress=progress, index=kept)
        if not (collection.records or collection.unreadable or collection.invalid
                or collection.incomplete):  # an empty report would replace a real one
            raise output.OutError(f"nothing to report: no result.json and no job folder under "
                                  f"{', '.join(map(str, run_dirs))}")
        made = index.made(collection.digest, small=small, pair=pair, histories=histories,
                          baseline_framework=baseline_framework)
        current = not rebuild and kept.written(target) == made
        if current:
            names = [p.name for p in sorted(target.iterdir())]
        else:
            with output.whole(out) as stage:
                names = _write(collection, stage, small, pair, histories, baseline_framework)
            kept.wrote(target, made)
    if kept.warning:
        print(f"nnbench.report: warning: {kept.warning}", file=sys.stderr)
    print(f"{len(collection.records)} records, {len(collection.unreadable)} unreadable, "
          f"{len(collection.invalid)} invalid, {len(collection.incomplete)} incomplete -> {out}"
          + (" (unchanged since its last report: kept as it is)" if current else ""))
    summary = (out / "summary.md").read_text()
    for line in answer.console(summary):  # the verdicts in words, as summary.md says them
        print(line)
    flag = "#### Rounds that disagree: "  # summary.md's heading of each flagged configuration
    for line in summary.splitlines():
        if line.startswith(flag):
            print(f"rounds disagree: {line.removeprefix(flag)} (see summary.md)")
    for line in cost_model.terminal(collection):  # a and b per line, and where they cross
        print(line)
    several = by_environment.hint(collection)  # a sweep over bench.python: how to compare them
    if several:
        print(several)
    for item in collection.unreadable:
        print(f"unreadable: {item['path']}: {item['error']}", file=sys.stderr)
    for item in collection.invalid:
        print(f"invalid: {item['path']}: {item['error']}", file=sys.stderr)
    ran = {r.get("framework") for r in collection.records if r.get("status") == "ok"}
    option = f"--baseline-framework {baseline_framework}" if baseline_framework and not pair \
        else f"--pair {','.join(pair or DEFAULT_PAIR)}"
    absent = [name for name in ((baseline_framework,) if option.startswith("--baseline")
                                else pair or DEFAULT_PAIR) if name not in ran]
    if collection.records and absent:
        print(f"nnbench.report: warning: {option}: no ok record of "
              f"{' or '.join(absent)}, so no ratio; ran ok: {', '.join(sorted(ran)) or 'none'}",
              file=sys.stderr)
    return [out / name for name in names]


def _write(collection: Collection, out: Path, small: bool, chosen: tuple[str, str] | None,
           histories: bool = False, baseline: str | None = None) -> list[str]:
    pair = chosen or DEFAULT_PAIR  # the tables' ratio
    said = answer.of(collection, chosen, baseline)
    frame = collection.frame  # made before the figures' process starts, so made once
    many = len(collection.records) >= ASIDE_FROM
    with aside(functools.partial(output.figures, collection, out, pair, FAR), wanted=many) \
            as drawn:  # meanwhile, here: the exports, the tables and the other figures
        written = [write_text(out / "results.csv", frame.to_csv(index=False))]
        if not small:  # the records (their series on request) and the page that inlines PNGs
            written.append(output.write_records(out / "results.json", collection.records,
                                                histories))
        sections(collection, pair)  # made once for summary.md and the page
        near = tuple(name for name in output.FIGURES if name not in FAR)
        made = {**output.figures(collection, out, pair, near), **drawn()}
    figures = [path for name in output.FIGURES for path in made.get(name, [])]
    # out is a stage beside --out, as deep: links relative to it hold for --out too
    write_text(out / "summary.md", summary_markdown(collection, [f.name for f in figures], pair,
                                                     base=out, said=said))
    written += [*figures, out / "summary.md"]
    if not small:
        write_text(out / "report.html", html.render(collection, figures, pair, base=out,
                                                    said=said))
        written.append(out / "report.html")
    return [Path(p).name for p in written]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is: the report being written is dropped, --out stays as it
    was, and no temporary folder is left behind."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    """The command, with Ctrl-C and SIGTERM each said in one line (exit 130 and 143)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _main(argv)
    except KeyboardInterrupt as interrupt:
        how = "terminated" if isinstance(interrupt, _Terminated) else "interrupted"
        print(f"nnbench.report: {how}; no report written, an earlier one is left as it was",
              file=sys.stderr)
        return 143 if isinstance(interrupt, _Terminated) else 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _main(argv: list[str] | None = None) -> int:
    # the docstring's reStructuredText quotes (``x``) read as noise in a terminal
    parser = argparse.ArgumentParser(prog="python -m nnbench.report",
                                     description=(__doc__ or "").replace("``", ""))
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
    parser.add_argument("--pair", metavar="A,B",
                        help="the two frameworks whose ratio the tables show and the verdicts "
                             "say (default: the tables numpy,torch; the verdicts every two)")
    parser.add_argument("--baseline-framework", metavar="NAME",
                        help="the verdicts say each framework against this one")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (there is none unless stderr is a terminal)")
    parser.add_argument("--small", action="store_true",
                        help="only results.csv, summary.md and the figures (for committing)")
    parser.add_argument("--histories", action="store_true",
                        help="results.json with every record's per-epoch and per-sample series "
                             "(as large as the records themselves)")
    parser.add_argument("--rebuild", action="store_true",
                        help="read every record afresh and draw the report anew, whatever the "
                             "index of the last report says")
    options.add_arguments(parser)  # --fail-above, --equivalence, --format, --history, ...
    by_environment.add_arguments(parser)  # --baseline-env, --candidate-env
    args = parser.parse_args(argv)
    missing = [p for p in [*args.run_dirs, args.baseline, args.candidate, *(args.history or [])]
               if p is not None and not p.exists()]
    if missing:
        print(f"nnbench.report: error: no such folder: {missing[0]}", file=sys.stderr)
        return 2
    pair = tuple(name.strip() for name in (args.pair or ",".join(DEFAULT_PAIR)).split(","))
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
    comparing = args.baseline is not None or args.baseline_env is not None
    out = args.out or Path("runs/compare" if comparing else
                           "runs/history" if args.history else "runs/report")
    try:
        output.check(out)
        if comparing:
            return _compare(out, args)
        if args.history:
            from nnbench.report.analyse import history
            return history.run(args.history, out, pair, args.step_min_change, args.alpha,
                               not args.no_progress, args.format, args.history_order or "time")
        report(args.run_dirs, out, progress=not args.no_progress, small=args.small,
               pair=pair if args.pair else None, histories=args.histories,
               rebuild=args.rebuild, baseline_framework=args.baseline_framework)
        if args.equivalence is not None:  # the pair within the set: the same speed, or not?
            print(compare.pair_equivalence(collect(args.run_dirs, progress=False), pair,
                                           args.equivalence).to_markdown(index=False))
    except (output.OutError, by_environment.NoSuchEnvironment) as err:
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
    return options.arguments_out_of_range(args) or by_environment.problem(args)


def _compare(out: Path, args: argparse.Namespace) -> int:
    sides = by_environment.sides(args, lambda folders: collect(folders,
                                                               progress=not args.no_progress))
    empty = [f"{flag} {folder} has no ok record ({_found(c)})"
             for flag, (folder, c) in sides.items()
             if not any(r.get("status") == "ok" for r in c.records)]
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
    counts = Counter(r.get("status") for r in collection.records)
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    parts += [f"{len(collection.unreadable)} unreadable"] if collection.unreadable else []
    parts += [f"{len(collection.invalid)} invalid"] if collection.invalid else []
    return ", ".join(parts) or "no result.json"

if __name__ == "__main__":
    sys.exit(main())
