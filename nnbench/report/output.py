"""A report's ``--out`` folder, written as a whole or not at all.

The report is written into a temporary folder beside ``--out`` and swapped in with renames once
every file is there, so a folder never mixes files of two reports (a ``--small`` report leaves
no ``report.html`` of an earlier full one behind) and a report that fails halfway leaves the
earlier one as it was. The temporary is named like every nnbench temporary, so one left by a
killed report is removed by the next.

An existing ``--out`` is replaced only when it holds nothing but report files: a folder of
anything else (runs, notes) given by mistake is refused, not deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from nnbench.files import remove_stale_temporaries, temporary_name
from nnbench.paths import folder_problem

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
