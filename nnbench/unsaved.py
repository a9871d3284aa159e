"""Where a record is kept when its job folder cannot take it, and how it is found again.

``nnbench.runner.salvage`` writes a record its folder cannot take into a fallback folder that
ends with the job folder's last three names (experiment, run or sweep, job), the first of these
that takes it: ``$NNBENCH_UNSAVED_DIR``, where set; ``$XDG_STATE_HOME/nnbench/unsaved``
(``~/.local/state/nnbench/unsaved``); ``<system temporary folder>/nnbench-unsaved-<uid>``.
Here is only where those are, so that what reads records (the report, ``nnbench.load``, a
resume) finds a job's record from its folder without importing how jobs run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nnbench.record import RESULT_FILE

ENV = "NNBENCH_UNSAVED_DIR"


def roots() -> list[Path]:
    """Where records that could not be written into their job folder go, in order."""
    found = [Path(os.environ[ENV])] if os.environ.get(ENV) else []
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                             ".local", "state")
    found.append(Path(state) / "nnbench" / "unsaved")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    found.append(Path(tempfile.gettempdir()) / f"nnbench-unsaved-{uid}")
    return found


def kept_folder(output_dir: str | os.PathLike, root: Path) -> Path:
    """The fallback folder of a job folder under ``root``: the job folder's last three names."""
    parts = Path(os.path.abspath(output_dir)).parts[1:]
    return root.joinpath(*parts[-3:])


def find(output_dir: str | os.PathLike) -> Path | None:
    """The record of a job folder that lacks one, where ``salvage.write`` kept it; None if
    nowhere."""
    for root in roots():
        path = kept_folder(output_dir, root) / RESULT_FILE
        if path.is_file():
            return path
    return None


def job_folders(root: str | os.PathLike) -> list[Path]:
    """Folders Hydra made for a job under ``root`` (they hold .hydra/), with a result or not."""
    return [p.parent for p in Path(root).rglob(".hydra") if p.is_dir()]


def kept_records(jobs: list[Path]) -> dict[Path, Path]:
    """{job folder: its record kept elsewhere} for those of ``jobs`` without a record of
    their own."""
    found = {}
    for job in jobs:
        if not (job / RESULT_FILE).exists():
            kept = find(job)
            if kept is not None:
                found[job] = kept
    return found
