"""A report's ``--out`` folder, written as a whole or not at all.

The report is written into a temporary folder beside ``--out`` and swapped in with renames once
every file is there, so a folder never mixes files of two reports (a ``--small`` report leaves
no ``report.html`` of an earlier full one behind) and a report that fails halfway leaves the
earlier one as it was. The temporary is named like every nnbench temporary, so one left by a
killed report is removed by the next.

An existing ``--out`` is replaced only when it holds nothing but report files: a folder of
anything else (runs, notes) given by mistake is refused, not deleted.

``results.json`` holds every record without its per-epoch and per-sample series (``HISTORIES``:
at 2,000 records they are 97% of the bytes); ``--histories`` adds them, read again from each
record's own file one at a time, so the export is at most about as large as the records.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from nnbench.bounds import finite
from nnbench.files import remove_stale_temporaries, temporary_name
from nnbench.paths import folder_problem
from nnbench.record import checked, read_result
from nnbench.results.index import HISTORIES
from nnbench.results.read import ReadRecord

REPORT_FILES = frozenset({"results.csv", "results.json", "summary.md", "report.html",
                          "compare.md"})


class OutError(Exception):
    """``--out`` cannot take a report; the message is one line naming the folder."""


def _is_report_file(entry: os.DirEntry) -> bool:
    return entry.is_file(follow_symlinks=False) and (
        entry.name in REPORT_FILES or entry.name.endswith(".png"))


def check(out: Path) -> Path:
    """The folder a report will replace or create at ``out`` (a link followed); ``OutError``
    when it cannot: a file, a folder of other things, a place nnbench cannot write."""
    target = out.resolve() if out.is_symlink() else out.absolute()
    if target.exists() and not target.is_dir():
        raise OutError(f"--out {out} is a file, not a folder")
    if target.is_dir():
        try:
            foreign = sorted(e.name for e in os.scandir(target) if not _is_report_file(e))
        except OSError as err:
            raise OutError(f"--out {out} cannot be read ({err.strerror or err})") from None
        if foreign:
            raise OutError(f"--out {out} holds files that are not a report's (e.g. "
                           f"{foreign[0]}); give a new or empty folder, or one a report wrote")
    wrong = folder_problem(target.parent)  # the swap writes beside it
    if wrong:
        raise OutError(f"--out {out} cannot be written: {target.parent} {wrong}")
    return target


@contextlib.contextmanager
def whole(out: Path) -> Iterator[Path]:
    """Yield an empty folder to write the report into; when the block ends, it becomes
    ``out`` (an earlier report there goes); when the block raises, ``out`` stays as it was."""
    target = check(out)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(parent)
    stage = parent / temporary_name(target.name)
    stage.mkdir()
    try:
        yield stage
        if target.is_dir():
            old = parent / temporary_name(target.name + ".old")
            os.rename(target, old)
            try:
                os.rename(stage, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # gone already unless something failed


FIGURES = ("comparison_summary.png", "scaling.png", "cost_model.png", "loss_curves.png",
           "confusion_matrices.png", "phases.png", "diagnosis_curves.png")


def drawing() -> tuple:
    """The modules that draw the figures, imported on first use: Matplotlib's import would cost
    a report kept as it was (nothing to draw) ~0.5 s. A report asks before it forks the
    processes that draw, so that each need not import them again."""
    from nnbench.report.render import (
        confusion,
        cost_plot,
        curves,
        diagnosis_plot,
        phases,
        plots,
        scaling,
    )
    return confusion, cost_plot, curves, diagnosis_plot, phases, plots, scaling


def figures(collection, out: Path, pair: tuple[str, str],
            names: tuple[str, ...] = FIGURES) -> dict[str, list[Path]]:
    """Draw the report's figures of ``names`` into ``out``: the files of each (a figure may
    take pages). One that cannot be drawn is a warning, not the report's end."""
    confusion, cost_plot, curves, diagnosis_plot, phases, plots, scaling = drawing()
    frame = collection.frame
    makers = [
        (functools.partial(plots.comparison_summary, pair=pair, records=collection.records),
         frame, "comparison_summary.png"),
        (scaling.scaling, frame, "scaling.png"),
        (functools.partial(cost_plot.draw, collection=collection, pair=pair), frame,
         "cost_model.png"),
        (functools.partial(curves.loss_curves, pair=pair), collection.records, "loss_curves.png"),
        (functools.partial(confusion.confusion_matrices, pair=pair), collection.records,
         "confusion_matrices.png"),
        (functools.partial(phases.figure, pair=pair), collection.records, "phases.png"),
        (diagnosis_plot.diagnosis_curves, collection.records, "diagnosis_curves.png"),
    ]
    drawn = {}
    for make, data, name in makers:
        if len(data) == 0 or name not in names:
            continue
        try:
            figure = make(data, out / name)
        except Exception as err:  # noqa: BLE001 - one odd figure must not cost the report
            print(f"nnbench.report: warning: {name} not drawn: {type(err).__name__}: {err}",
                  file=sys.stderr)
            continue
        if figure is not None:  # a path, or the pages of a figure in several
            drawn[name] = figure if isinstance(figure, list) else [figure]
    return drawn


def _exported(record: ReadRecord, histories: bool) -> dict:
    """The record as results.json gives it: its series only when asked for, as read again from
    its file (with what the report's compact copy leaves out: per-epoch counters, nulls)."""
    out = {k: v for k, v in record.stored().items() if k not in HISTORIES}
    if not histories:
        return out
    try:
        full, wrong = checked(read_result(record.result_file))
    except (OSError, ValueError) as err:
        full, wrong = None, f"{type(err).__name__}: {err}"
    if full is None:
        print(f"nnbench.report: warning: results.json: no histories of {record.result_file}"
              f" ({wrong})", file=sys.stderr)
        return out
    return {**out, **{k: full[k] for k in HISTORIES if k in full}}


def write_records(path: Path, records: list[ReadRecord], histories: bool = False) -> Path:
    """results.json: a JSON list of the records, written one record at a time, a record a
    line (null for what is not finite: a free-form field may hold one, and NaN is not JSON).
    A line each, not indented: json's C encoder serves only unindented output, and indenting
    2,000 records in Python took ~4 s of a first report's ~20."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[")
        for i, record in enumerate(records):
            f.write(",\n" if i else "\n")
            f.write(_line(_exported(record, histories)))
        f.write("\n]\n" if records else "]\n")
    return path


def _line(data: dict) -> str:
    """``data`` as JSON, null for what is not finite. Written as it is first: only where that
    wrote NaN or Infinity (or a string holds the word) is every value looked at for them."""
    text = json.dumps(data, default=str)
    if "NaN" in text or "Infinity" in text:
        text = json.dumps(finite(data), default=str, allow_nan=False)
    return text
