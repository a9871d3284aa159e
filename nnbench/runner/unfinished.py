"""The folder an interrupted job left, settled when a resumed sweep runs that job again.

An interrupted job leaves its folder without a record: the report lists it as incomplete, and
``bench.resume=true`` runs the job again, in a folder of the new sweep. So that the report does
not go on listing the old folder, every job folder holds a ``started.json`` naming its job key
while its job runs (removed once the record is written); a folder interrupted before it wrote
one (its config still resolving) is known by the config Hydra saved in it. When a resumed
sweep's job ends with a record, or is skipped for an ok result already there, the folders under
runs_dir of that key that hold no record get the ``resumed.json`` a skipped job's folder gets,
pointing at the record that stands for them: the report counts them as finished elsewhere.
Markers are small and written best-effort: a folder that cannot take one stays
listed as incomplete, which is all that is lost.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from nnbench.files import write_text
from nnbench.record import RESULT_FILE
from nnbench.runner.resume import MARKER

STARTED = "started.json"

_started: dict[str, dict[str, list[Path]]] = {}  # runs_dir -> job key -> folders, read once


def mark(output_dir: str | Path, key: str | None) -> None:
    """Say in the job's folder which job started there."""
    with contextlib.suppress(OSError):
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / STARTED, json.dumps({"job_key": key}) + "\n")


def unmark(output_dir: str | Path) -> None:
    """The job's record is written: its folder needs no marker."""
    with contextlib.suppress(OSError):
        (Path(output_dir) / STARTED).unlink()


def _key_of(folder: Path) -> str | None:
    """The job key of a folder Hydra made for a job interrupted before it wrote its
    ``started.json`` (while its config resolved, say): the config Hydra saved there, resolved
    as the job's own was. None where it does not resolve here."""
    from omegaconf import OmegaConf

    from nnbench.job import resolve
    from nnbench.runner.local import head_fields

    try:
        job = resolve(OmegaConf.load(folder / ".hydra" / "config.yaml"), on_this_host=False)
        return head_fields(job)["job_key"]
    except Exception:  # noqa: BLE001 - a folder that cannot tell its job stays incomplete
        return None


def _scan(runs_dir: str | Path) -> dict[str, list[Path]]:
    root = str(Path(runs_dir).resolve())
    if root not in _started:
        found: dict[str, list[Path]] = {}
        for hydra in Path(root).rglob(".hydra"):
            folder = hydra.parent
            if (folder / RESULT_FILE).exists() or (folder / MARKER).exists():
                continue
            try:
                key = json.loads((folder / STARTED).read_text()).get("job_key")
            except FileNotFoundError:  # interrupted before it said which job it was
                key = _key_of(folder)
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(key, str):
                found.setdefault(key, []).append(folder)
        _started[root] = found
    return _started[root]


def settle(runs_dir: str | Path, key: str | None, result: str | Path,
           output_dir: str | Path) -> list[Path]:
    """Point the earlier folders of job ``key`` that hold no record at ``result``; returns
    them. The scan of runs_dir is made once per process (a sweep), on first use."""
    if not key:
        return []
    settled = []
    here = Path(output_dir).resolve()
    for folder in _scan(runs_dir).get(key, []):
        if folder.resolve() == here or (folder / RESULT_FILE).exists() \
                or (folder / MARKER).exists():
            continue
        with contextlib.suppress(OSError):
            write_text(folder / MARKER, json.dumps({"result": str(result),
                                                    "interrupted": True}) + "\n")
            (folder / STARTED).unlink(missing_ok=True)  # none where it was found by its config
            settled.append(folder)
    return settled
