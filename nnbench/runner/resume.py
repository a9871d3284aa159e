"""Resuming a sweep: which jobs already have an ``ok`` result of the same identity.

A job's key (``nnbench.identity.job_key``) is the digest of its four identity parts (the
measured configuration, the code its process imported, the data's source, the environment:
interpreter, library versions, NumPy's BLAS, host) and its round: an edited config, a new
commit, an edit of the package, other data or another library version runs again; an edit
elsewhere (docs, tests, a new YAML under conf/) does not. A sweep resumed with more rounds runs
only the rounds it lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

from nnbench import unsaved
from nnbench.record import RESULT_FILE, checked, read_result

MARKER = "resumed.json"


class Index:
    """The ok results under a folder, by job key; read once per sweep, updated as jobs end."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.ok: dict[str, str] = {}
        if self.root.is_dir():
            # with the records a full disk made the jobs keep elsewhere (nnbench.unsaved)
            kept = unsaved.kept_records(unsaved.job_folders(self.root)).values()
            for path in [*self.root.rglob(RESULT_FILE), *kept]:
                try:  # a FIFO, a huge or a 200,000-deep file is refused, never waited on
                    rec = read_result(path)
                except (OSError, ValueError):
                    continue  # an unreadable result is no proof of a finished job
                if not (isinstance(rec, dict) and rec.get("status") == "ok"
                        and rec.get("job_key")):
                    continue
                if checked(rec)[1] is None:  # nor is one with nonsense in it (NaN, -1 s)
                    self.ok.setdefault(rec["job_key"], str(path))

    def done(self, key: str) -> str | None:
        return self.ok.get(key)

    def add(self, key: str, path: str) -> None:
        self.ok.setdefault(key, path)


def mark_resumed(output_dir: str | Path, previous: str) -> None:
    """The job folder Hydra made for a skipped job says where its result already is."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps({"result": previous}) + "\n")


_indexes: dict[str, Index] = {}


def index(runs_dir: str | Path) -> Index:
    """The index of ok results under ``runs_dir``, read once per process (a sweep)."""
    root = str(Path(runs_dir).resolve())
    if root not in _indexes:
        _indexes[root] = Index(root)
    return _indexes[root]


def already_ok(runs_dir: str | Path, key: str) -> str | None:
    """The path of an ok result of the job with this key under ``runs_dir``, if any."""
    return index(runs_dir).done(key)


def remember(runs_dir: str | Path, key: str | None, result: str | Path) -> None:
    """A job that just ended ok, for a resumed sweep's later jobs (when an index is open)."""
    root = str(Path(runs_dir).resolve())
    if key and root in _indexes:
        _indexes[root].add(key, str(result))
