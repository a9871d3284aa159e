"""The command line of ``python -m nnbench.report``: a command per mode, and the flags that
chose the mode before there were commands, which keep working as they did.

    python -m nnbench.report [RUN_DIRS...]                     the report
    python -m nnbench.report compare --baseline A --candidate B  (or: compare A B)
    python -m nnbench.report compare RUN_DIRS --baseline-env X --candidate-env Y
    python -m nnbench.report history DIR DIR ...

Each command is read into the namespace its flags give (``compare A B`` is ``--baseline A
--candidate B``, ``history A B`` is ``--history A B``), so that both spellings run the same
code and print the same thing, and one set of checks says what a namespace cannot take.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nnbench import stats
from nnbench.report.analyse import by_environment
from nnbench.report.commands import options

REPORT, COMPARE, HISTORY = "report", "compare", "history"
COMMANDS = (COMPARE, HISTORY)  # the words that name one; the report needs none
DEFAULT_RUNS = Path("runs")


def parser(command: str, description: str) -> argparse.ArgumentParser:
    """Every flag of the command line; a command's parser takes them all, so that a flag that
    chose a mode still parses beside the command that names it."""
    prog = "python -m nnbench.report" + (f" {command}" if command != REPORT else "")
    folders = {HISTORY: "result sets, one folder each, oldest first where --history-order "
                        "given (the sets of --history)",
               COMPARE: "with --baseline-env: the folders whose records are split by "
                        "environment (default: runs); without: BASELINE CANDIDATE"}
    made = argparse.ArgumentParser(prog=prog, description=description)
    made.add_argument("run_dirs", nargs="*", type=Path, default=None,
                      help=folders.get(command, "folders to search for result.json "
                                                "(default: runs)"))
    made.add_argument("--out", type=Path,
                      help="folder the report is written to, replacing an earlier report "
                           "there (default: runs/report; with --baseline: runs/compare)")
    made.add_argument("--baseline", type=Path, help="runs to compare against")
    made.add_argument("--candidate", type=Path, help="runs compared with the baseline")
    made.add_argument("--alpha", type=float, default=stats.ALPHA,
                      help="p-value a change must beat, over rounds, between 0 and 1 "
                           "(default: %(default)s)")
    made.add_argument("--min-change", type=float, default=stats.MIN_CHANGE,
                      help="smallest change called a change, as a fraction: 0.1 = 10%% "
                           "(default: %(default)s)")
    made.add_argument("--pair", metavar="A,B",
                      help="the two frameworks whose ratio the tables show and the verdicts "
                           "say (default: the tables numpy,torch; the verdicts every two)")
    made.add_argument("--baseline-framework", metavar="NAME",
                      help="the verdicts say each framework against this one")
    made.add_argument("--no-progress", action="store_true",
                      help="no progress bar (there is none unless stderr is a terminal)")
    made.add_argument("--small", action="store_true",
                      help="only results.csv, summary.md and the figures (for committing)")
    made.add_argument("--histories", action="store_true",
                      help="results.json with every record's per-epoch and per-sample series "
                           "(as large as the records themselves)")
    made.add_argument("--rebuild", action="store_true",
                      help="read every record afresh and draw the report anew, whatever the "
                           "index of the last report says")
    options.add_arguments(made)  # --fail-above, --equivalence, --format, --history, ...
    by_environment.add_arguments(made)  # --baseline-env, --candidate-env
    return made


def command_of(argv: list[str]) -> tuple[str, list[str]]:
    """The command ``argv`` names and the words after it; the report where it names none. A
    folder called compare or history in the current folder is ./compare."""
    if argv and argv[0] in COMMANDS:
        return argv[0], argv[1:]
    return REPORT, argv


def as_flags(command: str, args: argparse.Namespace) -> str | None:
    """Give a command's folders the flags that meant the same before it (in place), so that the
    rest runs as for those flags; or what the command cannot take, in one line."""
    given = args.run_dirs or []
    if command == HISTORY:
        if args.history:
            return "history takes its sets as folders (history A B ...), not --history"
        if args.baseline is not None or args.baseline_env is not None:
            return "history and a comparison go separately: one history or one comparison"
        if not given:
            return "history needs its result sets: python -m nnbench.report history DIR DIR ..."
        args.history, args.run_dirs = given, None
    elif command == COMPARE:
        if args.history:
            return "compare and --history go separately: one history or one comparison"
        if args.baseline is None and args.candidate is None and args.baseline_env is None:
            if len(given) != 2:
                return ("compare needs two sides: compare BASELINE CANDIDATE, --baseline DIR "
                        "--candidate DIR, or --baseline-env A --candidate-env B")
            args.baseline, args.candidate = given
            args.run_dirs = None
    args.run_dirs = args.run_dirs or [DEFAULT_RUNS]
    return None


def pair_of(text: str | None, default: tuple[str, str]) -> tuple[str, ...]:
    return tuple(name.strip() for name in (text or ",".join(default)).split(","))


def out_of_range(args: argparse.Namespace) -> str | None:
    """The statistical settings a comparison cannot use, in one line."""
    if not 0 < args.alpha < 1:
        return f"--alpha {args.alpha:g} is not a p-value level; allowed: between 0 and 1, e.g. 0.01"
    if not 0 <= args.min_change < 1:
        return (f"--min-change {args.min_change:g} is not a fraction of a change; allowed: 0 "
                f"(any change) up to below 1, e.g. 0.1 for 10%")
    return options.arguments_out_of_range(args) or by_environment.problem(args)
