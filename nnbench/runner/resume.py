"""Resuming a sweep: which jobs already have an ``ok`` result for the same config and code.

A job is identified by a hash of its resolved configuration (less the keys that only say where
outputs go, whether to resume, or how many rounds the sweep has) and the code version
(``nnbench.measure.environment.code_version``: the commit, plus a hash of the changed files of
the package, its configs and the job's trainer module). An edited config, a new commit or an
edit of the code that runs the job runs again; an edit elsewhere (docs, tests) does not. A
job's round (``bench.round``) is part of its identity: a sweep resumed with more rounds runs
only the rounds it lacks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nnbench import unsaved
from nnbench.record import RESULT_FILE, checked, read_result

IGNORED = {("runs_dir",), ("bench", "resume"), ("bench", "rounds"), ("bench", "target_ci"),
           ("bench", "max_rounds")}
MARKER = "resumed.json"


def _strip(tree: object, path: tuple = ()) -> object:
    if isinstance(tree, dict):
        return {k: _strip(v, (*path, k)) for k, v in sorted(tree.items())
                if (*path, k) not in IGNORED}
    return tree


def job_key(config: dict, code_version: str | None) -> str:
    """16 hex of sha256 over the config (less ``IGNORED``) and the code version: what a resumed
    sweep matches, so that a result of other code is never kept for this job."""
    text = json.dumps({"config": _strip(config), "code": code_version}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
