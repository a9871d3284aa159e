"""Every result record under some folders, as typed records (``read.ReadRecord``) and one
DataFrame, with what could not be read."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from nnbench import figures, unsaved
from nnbench.files import UnreadableFile
from nnbench.record import RESULT_FILE, fields_of, read_checked
from nnbench.results.index import Index, compact, stat_key
from nnbench.results.labels import CONFIG_KEYS, assign_variants, label_variants
from nnbench.results.read import ReadRecord, as_records

# Fields kept out of the flat table, as the record's schema declares them: its nested
# sections and its series (they feed the figures; results.json has them, the per-epoch and
# per-sample series only with --histories).
NESTED = frozenset(fields_of(figures.NESTED) + fields_of(figures.SERIES))


@dataclass
class Collection:
    records: list[ReadRecord] = field(default_factory=list)
    unreadable: list[dict] = field(default_factory=list)  # {"path", "error"}
    invalid: list[dict] = field(default_factory=list)  # read, but not a valid record
    incomplete: list[str] = field(default_factory=list)  # job folders with no result
    digest: str = ""  # of what it was read from: every file's path, size and times
    _frame: tuple | None = field(default=None, repr=False, compare=False)
    _made: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # records given as dicts (a script's, a test's) are read as ``collect`` reads a file's
        self.records = as_records(self.records)

    @property
    def frame(self) -> pd.DataFrame:
        """The records as a table, made once (every table and figure asks for it)."""
        key = (id(self.records), len(self.records))
        if self._frame is None or self._frame[0] != key:
            self._frame = (key, to_frame(self.records))
        return self._frame[1]

    def once(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """``make()``, made once per ``key`` for these records: what summary.md and the page
        both show (their tables) is computed once."""
        key = (key, id(self.records), len(self.records))
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]


def _flat(record: ReadRecord) -> dict:
    row = {}
    for key, value in record.stored().items():  # the fields the file had: older ones lack some
        if key in NESTED:
            continue
        if isinstance(value, dict):  # statistics blocks: keep them as prefixed columns
            for sub, inner in value.items():
                if isinstance(inner, dict):
                    row.update({f"{key}.{sub}.{k}": v for k, v in inner.items()
                                if not isinstance(v, (dict, list))})
                elif not isinstance(inner, list):
                    row[f"{key}.{sub}"] = inner
        elif not isinstance(value, list):
            row[key] = value
    row["host"] = record.env("hostname")
    row["node"] = record.node  # a scheduler's name for it
    row["cpu_model"] = record.env("cpu_model")
    row["gpu"] = record.gpu.get("name")
    row["git_commit"] = record.env("git_commit")
    # the libraries a figure depends on: rounds pool only within one (results.pooling.separate)
    row["numpy_version"], row["torch_version"] = record.env("numpy"), record.env("torch")
    # an older record has no identity: its names stand alone
    row["setting"] = record.setting
    row["data_id"] = record.digest("data")
    row["environment_id"] = record.digest("environment")
    row["warnings"] = "; ".join(record.warnings or []) or None
    return row


def to_frame(records: list[ReadRecord] | list[dict]) -> pd.DataFrame:
    """One row per record: its scalar fields, its statistics blocks as dotted columns, and what
    the tables group by from its nested sections."""
    frame = pd.DataFrame([_flat(r) for r in as_records(records)])
    if frame.empty:
        return frame
    first = ["status", "reason", *CONFIG_KEYS, "framework", "device"]
    for column in first:  # every table groups by them; a valid failed record may have none
        if column not in frame.columns:
            frame[column] = None
    return frame[first + [c for c in frame.columns if c not in first]]


def _read(path: Path, keep_lists: bool) -> tuple[str, str | None, dict | None, bool]:
    """(kind: record, invalid or unreadable; the error; the checked record; whether the
    outcome lasts as long as the file's content does, so the index may keep it)."""
    try:  # a FIFO, a huge or a 200,000-deep file is refused, not waited on or recursed into
        record, wrong = read_checked(path)  # against the record schema, before any use
    except (OSError, ValueError) as err:
        why = str(err) if isinstance(err, UnreadableFile) else f"{type(err).__name__}: {err}"
        # no permission, not a file: that may change without the file's content changing
        return "unreadable", why, None, not isinstance(err, OSError) and \
            not why.startswith("not a regular file")
    if wrong is not None:
        return "invalid", wrong, None, True
    return "record", None, record if keep_lists else compact(record), True


def cpus() -> int:
    """CPUs this process may run on (the report's figures process asks too)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    return cpus() >= 2 and "fork" in multiprocessing.get_all_start_methods()


# Files to read before a second process helps: a fork costs ~50 ms, a record ~3 ms to read.
PARALLEL_FROM = 64


def _quiet_worker() -> None:
    """A reading worker ends quietly when the pool is done with it (SIGTERM): it must not run
    the handler its command installed (which ends a sweep or report with a message, and in
    a worker printed a traceback), nor take a Ctrl-C meant for the command."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _read_all(paths: list[Path], keep_lists: bool) -> Iterator[tuple]:
    """``_read`` of each path, in order; on as many processes as this one may use when there
    are many (parsing and checking are CPU-bound; records come back compact, so cheaply)."""
    if len(paths) < PARALLEL_FROM or not can_fork():
        yield from (_read(path, keep_lists) for path in paths)
        return
    # fork: the workers start with the schema and reader already imported, in milliseconds
    with multiprocessing.get_context("fork").Pool(min(cpus(), 8), _quiet_worker) as pool:
        yield from pool.imap(functools.partial(_read, keep_lists=keep_lists), paths,
                             chunksize=8)


def collect(roots: list[str | Path], exclude: list[Path] | None = None,
            progress: bool = True, index: Index | None = None,
            keep_lists: bool = False) -> Collection:
    """Every result record under ``roots``, checked. The records keep their series compact
    (``index.compact``) unless ``keep_lists``; with an ``index``, a file unchanged since it was
    last read is taken from the index, and the index is brought up to date."""
    out = Collection()
    exclude = [Path(e).resolve() for e in (exclude or [])]
    files: list[Path] = []
    for root in map(Path, roots):
        if root.is_file():
            files.append(root)
            continue
        files.extend(sorted(root.rglob(RESULT_FILE)))
        jobs = unsaved.job_folders(root)
        kept = unsaved.kept_records(jobs)  # a full disk's records, where the job kept them
        files.extend(kept.values())
        for job in jobs:
            finished = (job / RESULT_FILE).exists() or (job / "resumed.json").exists() \
                or job in kept
            if not finished and not any(e in job.resolve().parents for e in exclude):
                out.incomplete.append(str(job))
    files = [f for f in files if not any(e in f.resolve().parents for e in exclude)]
    files = list(dict.fromkeys(files))  # a folder given twice (or inside another) counts once
    keys = {}  # taken before reading: a file that changes meanwhile is read again next time
    for path in files:
        with contextlib.suppress(OSError):  # reading it says why
            keys[str(path)] = stat_key(os.stat(path))
    known = index.keys() if index is not None and not keep_lists else {}
    kept = {path: rest for path, *rest in index.entries(
        {p for p, k in keys.items() if known.get(p) == k})} if known else {}
    digest, stored = hashlib.sha256(), set()
    reads = _read_all([p for p in files if str(p) not in kept], keep_lists)
    for path in tqdm(files, desc="reading results", unit="file", disable=not progress,
                     leave=False):
        name = str(path)
        if name in kept:
            kind, error, record = kept[name]
        else:
            kind, error, record, lasting = next(reads)
            if lasting and name in keys and index is not None and not keep_lists:
                index.put(name, keys[name], kind, error, record)
                stored.add(name)
        digest.update(f"{name}\0{keys.get(name)}\0{kind}\0{error}\0".encode())
        if kind != "record":
            getattr(out, kind).append({"path": name, "error": error})
            continue
        # typed without a second validation: ``_read`` checked it, the index keeps only checked
        read = ReadRecord.of(record)
        read.result_file = name
        out.records.append(label_variants(read))
    assign_variants(out.records)
    if index is not None and not keep_lists:
        index.drop(set(known) - set(kept) - stored)  # removed, or no longer read the same way
        index.commit()
    for job in out.incomplete:
        digest.update(f"{job}\0".encode())
    out.digest = digest.hexdigest()
    return out
