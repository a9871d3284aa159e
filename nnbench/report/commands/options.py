"""The comparison's, the gate's and the history's options of ``python -m nnbench.report``, and
what each cannot take: a gate without a comparison, say, which would pass whatever the report
holds."""

from __future__ import annotations

from pathlib import Path

from nnbench.report.analyse.compare import EXIT_NOT_OK, EXIT_SLOWER, EXIT_UNSURE


def add_arguments(parser) -> None:
    """The comparison's gate and equivalence options, and the history's
    (``report.analyse.history``)."""
    from nnbench.stats.steps import STEP_MIN_CHANGE

    parser.add_argument("--fail-above", type=float, metavar="FRACTION",
                        help=f"with --baseline: exit {EXIT_SLOWER} when a configuration is "
                             f"significantly slower by more than FRACTION (0.1 = 10%%); exit "
                             f"{EXIT_NOT_OK} when one ok in the baseline did not run ok in the "
                             f"candidate (failed, skipped, diverged, oom, no record)")
    parser.add_argument("--fail-on-unsure", action="store_true",
                        help=f"with --baseline: exit {EXIT_UNSURE} when the rounds of a "
                             f"configuration cannot tell (too few rounds); exit {EXIT_NOT_OK} "
                             f"as --fail-above does")
    parser.add_argument("--equivalence", type=float, metavar="MARGIN",
                        help="add equivalence verdicts (two one-sided tests: the 90%% interval "
                             "of the ratio within 1 +/- MARGIN, e.g. 0.05): candidate against "
                             "baseline, and the --pair within each set")
    parser.add_argument("--format", choices=["text", "markdown"], default="text",
                        help="markdown: the comparison (or history) as a pull-request comment")
    parser.add_argument("--history", nargs="+", type=Path, metavar="DIR",
                        help="result sets (one folder each) ordered in time, their figures "
                             "and steps (default --out: runs/history)")
    parser.add_argument("--history-order", choices=["time", "given"],
                        help="with --history: time (the default) orders the sets by their "
                             "records' times and refuses sets those cannot order (records "
                             "without a time, sets whose times overlap); given keeps the "
                             "order of the command line, oldest first")
    parser.add_argument("--step-min-change", type=float, default=STEP_MIN_CHANGE,
                        help="with --history: smallest step called a step, as a fraction "
                             "(default: %(default)s)")


def arguments_out_of_range(args) -> str | None:
    """What ``add_arguments``' options cannot take, in one line; a gate without a comparison
    too, which would otherwise be ignored and pass whatever the report holds."""
    comparing = any(getattr(args, name, None) is not None
                    for name in ("baseline", "candidate", "baseline_env", "candidate_env"))
    gate = [flag for flag, given in (("--fail-above", args.fail_above is not None),
                                     ("--fail-on-unsure", args.fail_on_unsure)) if given]
    if args.history_order is not None and not args.history:
        return "--history-order orders the sets of a --history; give it with --history DIR DIR ..."
    if gate and not comparing:
        return (f"{gate[0]} gates a comparison, and there is none to gate; give it with "
                f"--baseline DIR --candidate DIR (or --baseline-env A --candidate-env B)")
    if args.fail_above is not None and not 0 <= args.fail_above < 10:
        return (f"--fail-above {args.fail_above:g} is not a fraction of a slowdown; allowed: "
                f"0 up to below 10, e.g. 0.1 for 10%")
    if args.equivalence is not None and not 0 < args.equivalence < 1:
        return (f"--equivalence {args.equivalence:g} is not a margin; allowed: between 0 and 1, "
                f"e.g. 0.05 for ±5%")
    if not 0 < args.step_min_change < 1:
        return (f"--step-min-change {args.step_min_change:g} is not a fraction; allowed: "
                f"between 0 and 1, e.g. 0.05 for 5%")
    if args.history and args.baseline is not None:
        return "--history and --baseline go separately: one history or one comparison"
    return None
