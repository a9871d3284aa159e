"""``python -m nnbench.report [RUN_DIRS...]``: tables, figures and a page from result records.

``compare BASELINE CANDIDATE``, or as before ``--baseline DIR --candidate DIR`` compares two sets
of runs instead; ``compare RUN_DIRS --baseline-env A --candidate-env B`` two environments of one
set (a sweep over ``bench.python``); ``history DIR DIR ...`` (``--history DIR DIR ...``) result
sets in time order. A command also takes the flags that chose it before.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from nnbench.report.analyse import by_environment, compare
from nnbench.report.commands import arguments
from nnbench.report.commands import compare as compare_command
from nnbench.report.commands.report import report
from nnbench.report.render import output
from nnbench.report.render.tables import DEFAULT_PAIR
from nnbench.results.collect import collect

__all__ = ["main", "report"]


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
        return _main(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt as interrupt:
        how = "terminated" if isinstance(interrupt, _Terminated) else "interrupted"
        print(f"nnbench.report: {how}; no report written, an earlier one is left as it was",
              file=sys.stderr)
        return 143 if isinstance(interrupt, _Terminated) else 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _error(message: str) -> int:
    print(f"nnbench.report: error: {message}", file=sys.stderr)
    return 2


def _main(argv: list[str]) -> int:
    command, words = arguments.command_of(argv)
    # the docstring's reStructuredText quotes (``x``) read as noise in a terminal
    args = arguments.parser(command, (__doc__ or "").replace("``", "")).parse_args(words)
    wrong = arguments.as_flags(command, args)
    if wrong:
        return _error(wrong)
    missing = [p for p in [*args.run_dirs, args.baseline, args.candidate, *(args.history or [])]
               if p is not None and not p.exists()]
    if missing:
        return _error(f"no such folder: {missing[0]}")
    pair = arguments.pair_of(args.pair, DEFAULT_PAIR)
    if len(pair) != 2 or not all(pair) or pair[0] == pair[1]:
        return _error(f"--pair={args.pair!r} must name two different frameworks, e.g. numpy,torch")
    wrong = arguments.out_of_range(args)
    if wrong:
        return _error(wrong)
    args.no_progress = args.no_progress or not sys.stderr.isatty()  # no bar in a log file
    if (args.baseline is None) != (args.candidate is None):
        return _error("--baseline and --candidate go together")
    comparing = args.baseline is not None or args.baseline_env is not None
    out = args.out or Path("runs/compare" if comparing else
                           "runs/history" if args.history else "runs/report")
    try:
        output.check(out)
        if comparing:
            return compare_command.run(out, args)
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
        return _error(str(err))
    except OSError as err:  # the disk filled up, a folder vanished, ... while writing
        return _error(f"--out {out} not written: {err.strerror or err}"
                      f"{f': {err.filename}' if err.filename else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
