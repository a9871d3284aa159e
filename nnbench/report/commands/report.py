"""``python -m nnbench.report [RUN_DIRS...]``: the report of the records under some folders,
written to ``--out`` as a whole, and what it prints: the verdicts in words, the rounds that
disagree, the cost models' lines, what could not be read."""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

from nnbench.files import write_text
from nnbench.report.analyse import by_environment, cost_model
from nnbench.report.commands.aside import aside
from nnbench.report.render import answer, html, output
from nnbench.report.render.sections import sections, summary_markdown
from nnbench.report.render.tables import DEFAULT_PAIR
from nnbench.results import index
from nnbench.results.collect import Collection, collect

# Records from which a report draws its slowest figures in processes of their own while it
# computes its tables (on a machine with a second CPU): below, a fork would cost more than it
# saves.
ASIDE_FROM = 200
# The figures drawn aside, a process for each group: at 2,000 records the loss curves take
# ~3.3 s and the phases ~0.6 s; the comparison summary ~3 s and the scaling and confusion
# figures ~0.7 s; here the reading, the exports, the tables and the cost model (whose fit the
# tables share) ~9 s: on two CPUs the three end at about the same time.
FAR = (("comparison_summary.png", "scaling.png", "confusion_matrices.png"),
       ("loss_curves.png", "phases.png"))


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
        last, fits = kept.written(target)
        current = not rebuild and last == made
        if current:
            names = [p.name for p in sorted(target.iterdir())]
        else:
            with output.whole(out) as stage:
                names = _write(collection, stage, small, pair, histories, baseline_framework)
        if not current or fits is None:  # fitted again only where the report was drawn again
            fits = cost_model.terminal(collection)  # a and b per line, and where they cross
            kept.wrote(target, made, fits)
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
    for line in fits:
        print(line)
    several = by_environment.hint(collection)  # a sweep over bench.python: how to compare them
    if several:
        print(several)
    for item in collection.unreadable:
        print(f"unreadable: {item['path']}: {item['error']}", file=sys.stderr)
    for item in collection.invalid:
        print(f"invalid: {item['path']}: {item['error']}", file=sys.stderr)
    ran = {r.framework for r in collection.records if r.status == "ok"}
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
    frame = collection.frame  # made before the figures' processes start, so made once
    output.drawing()  # imported once, before they start, too
    many = len(collection.records) >= ASIDE_FROM
    with contextlib.ExitStack() as stack:
        drawn = [stack.enter_context(aside(functools.partial(
            output.figures, collection, out, pair, names), wanted=many)) for names in FAR]
        # meanwhile, here: the exports, the tables and the other figures
        written = [write_text(out / "results.csv", frame.to_csv(index=False))]
        if not small:  # the records (their series on request) and the page that inlines PNGs
            written.append(output.write_records(out / "results.json", collection.records,
                                                histories))
        sections(collection, pair)  # made once for summary.md and the page
        near = tuple(name for name in output.FIGURES if not any(name in far for far in FAR))
        made = output.figures(collection, out, pair, near)
        for result in drawn:
            made.update(result())
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
