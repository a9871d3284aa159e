"""The report's index: every record it read, kept in a SQLite file, so that a report over
thousands of unchanged records reads none of them again.

A record is kept under its path with the size, modification time, inode and change time its
file had when it was read; a file that still has all four is taken from the index, any other is
read and checked again, and one no longer found is dropped. What the index holds is what the
report holds in memory (``compact``): the checked record, its series (loss and accuracy per
epoch, raw epoch and inference times) as ``array('d')`` (8 bytes a number, where a list of
Python floats takes 32) and without the per-epoch counters, which no table or figure shows.

One index per ``--out`` folder, in nnbench's cache folder (``$NNBENCH_CACHE_DIR``, else
``~/.cache/nnbench``): not beside the records, which may be read-only (a colleague's, an
archive), nor in ``--out``, which a ``--small`` report leaves to be committed. It also remembers
the report it last wrote there (``Index.written``): what it was made from and the files it left,
so that a report of unchanged records, options and code is not drawn again, and the lines the
command printed after it (the cost models' fits), so that they are not fitted again either.

The index changes nothing a report says. One that cannot be read (damaged, cut short, another
format) or was written by other code of the record's schema is made anew; where none can be
written, every record is read, as without one (a warning says so). ``--rebuild`` starts afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
import sys
import time
from array import array
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from nnbench import figures
from nnbench.figures import EPOCHS, SERIES
from nnbench.record import fields_of

FORMAT = 1
# The per-epoch and per-sample series, as the record's schema declares them: out of
# results.json unless asked for (--histories), kept here as arrays by their shape.
HISTORIES = fields_of(SERIES)
EPOCH_SERIES = fields_of(SERIES, EPOCHS)  # one series
PER_REPEAT = fields_of(SERIES, figures.PER_REPEAT)  # a series a repeat
BY_NAME = fields_of(SERIES, figures.BY_NAME)  # a series per call or phase, by name
COUNTERS = fields_of(SERIES, figures.COUNTERS)  # per-epoch counters: no figure reads them
LIBRARIES = ("numpy", "pandas", "matplotlib", "scipy", "tabulate")  # what draws a report
STALE_DAYS = 60  # an index no report has used for this long is removed
SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE entries (path TEXT PRIMARY KEY, stat TEXT, kind TEXT, error TEXT, record TEXT,
                      series BLOB);
"""
Key = str  # a file's size, mtime, inode and ctime, as text


def _array(values: Iterable) -> array:
    try:
        return array("d", values)
    except TypeError:  # a diverged run's loss is null from its first non-finite epoch
        return array("d", (math.nan if v is None else v for v in values))


def compact(record: dict) -> dict:
    """``record`` (checked, not yet typed) as the report keeps it: series as arrays, per-epoch
    counters dropped."""
    for name, value in record.items():  # replacing values only: the keys stay as they are
        if name in EPOCH_SERIES and isinstance(value, list):
            record[name] = _array(value)
        elif name in PER_REPEAT and isinstance(value, list):
            record[name] = [_array(series) for series in value]
        elif name in BY_NAME and isinstance(value, dict):
            record[name] = {k: _array(v) for k, v in value.items()}
    for name in COUNTERS:
        record.pop(name, None)
    return record


def _pack(record: dict) -> tuple[str, bytes]:
    """A compact record as JSON (its series' places and lengths in it) and the series' bytes."""
    light, layout, chunks = {}, [], []
    for name, value in record.items():
        if isinstance(value, array):
            layout.append([name, None, len(value)])
            chunks.append(value.tobytes())
        elif name in (*PER_REPEAT, *BY_NAME) and value:
            light[name] = type(value)()
            for part, series in (enumerate(value) if isinstance(value, list) else value.items()):
                layout.append([name, part, len(series)])
                chunks.append(series.tobytes())
        else:
            light[name] = value
    return json.dumps({"record": light, "layout": layout}), b"".join(chunks)


def _unpack(text: str, blob: bytes) -> dict:
    data = json.loads(text)
    record, start, view = data["record"], 0, memoryview(blob)
    for name, part, n in data["layout"]:
        series = array("d")
        series.frombytes(view[start:start + 8 * n])
        start += 8 * n
        if part is None:
            record[name] = series
        elif isinstance(record[name], list):
            record[name].append(series)
        else:
            record[name][part] = series
    return record


def stat_key(info: os.stat_result) -> Key:
    return f"{info.st_size} {info.st_mtime_ns} {info.st_ino} {info.st_ctime_ns}"


def _source_digest(modules: Iterable[str], extra: Iterable[str] = ()) -> str:
    """sha256 of the named modules' source files (those loaded) and ``extra`` strings."""
    h = hashlib.sha256()
    for name in sorted(set(modules)):
        file = getattr(sys.modules.get(name), "__file__", None)
        h.update(name.encode() + b"\0")
        with contextlib.suppress(OSError, TypeError):
            h.update(Path(file).read_bytes())
    for text in extra:
        h.update(text.encode() + b"\0")
    return h.hexdigest()[:16]


def reader_digest() -> str:
    """What decides how a file reads: the record's schema and bounds, the safe reader, this
    module, and the byte order of the series."""
    from nnbench.record import Record, read_result

    modules = {c.__module__ for c in Record.__mro__ if c.__module__.startswith("nnbench")}
    modules |= {read_result.__module__, "nnbench.files", __name__}
    return _source_digest(modules, [str(FORMAT), sys.byteorder])


def code_digest() -> str:
    """What decides how a report looks: every source file of nnbench (whether this process
    imported it yet or not) and the libraries computing and drawing it."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for file in sorted(package.rglob("*.py")):
        h.update(str(file.relative_to(package)).encode() + b"\0" + file.read_bytes())
    return _source_digest([], [h.hexdigest(), sys.version, *map(_version, LIBRARIES)])


def _version(name: str) -> str:
    try:  # whether this process has imported it yet or not
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return f"{name} absent"


def made(records: str, **options: object) -> str:
    """What a report is made from: its records (``Collection.digest``), its options, and the
    code and libraries that draw it; a report made from the same is the same report."""
    return _source_digest([], [records, json.dumps(options, sort_keys=True), code_digest()])


def cache_root() -> Path:
    return Path(os.environ.get("NNBENCH_CACHE_DIR") or Path.home() / ".cache" / "nnbench")


def location(out: Path) -> Path:
    """The index file of the report written to ``out``."""
    name = hashlib.sha256(str(out.absolute()).encode()).hexdigest()[:20]
    return cache_root() / "report-index" / f"{name}.sqlite"


def listing(folder: Path) -> list[list]:
    """Name, size and mtime of each file in ``folder``: whether a report is still as written."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
        return [[e.name, e.stat().st_size, e.stat().st_mtime_ns] for e in entries]
    except OSError:
        return []


class Index:
    """The index of one report's records (``path``), or one in memory only (None)."""

    def __init__(self, path: Path | None, rebuild: bool = False) -> None:
        self.path, self.warning, self.failed = path, None, False
        try:
            self.db = self._open(path, rebuild)
        except (OSError, sqlite3.Error) as err:  # no room, no permission: read every record
            self.warning = (f"no index of the records at {path} ({err}): every record is read "
                            f"each time")
            self.path, self.db = None, self._open(None, rebuild)

    def _open(self, path: Path | None, rebuild: bool) -> sqlite3.Connection:
        if path is None:
            return self._create(sqlite3.connect(":memory:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path.parent)
        if not rebuild and path.exists():
            db = sqlite3.connect(path, timeout=60)
            try:
                if dict(db.execute("SELECT name, value FROM meta")).get("reader") == \
                        reader_digest():
                    db.execute("PRAGMA synchronous=OFF")
                    os.utime(path)  # in use: not stale
                    return db
            except sqlite3.Error:  # not a database, cut short, another format
                pass
            db.close()
        for stale in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)  # damaged, or another reader's: made anew
        return self._create(sqlite3.connect(path, timeout=60))

    @staticmethod
    def _create(db: sqlite3.Connection) -> sqlite3.Connection:
        db.execute("PRAGMA synchronous=OFF")  # a cache: one lost in a crash is made anew
        db.executescript(SCHEMA)
        db.execute("INSERT INTO meta VALUES ('reader', ?)", (reader_digest(),))
        db.commit()
        return db

    def keys(self) -> dict[str, Key]:
        return dict(self.db.execute("SELECT path, stat FROM entries"))

    def entries(self, paths: set[str]) -> Iterator[tuple[str, str, str | None, dict | None]]:
        """(path, kind, error, record) of the indexed ``paths``; kind: record, invalid or
        unreadable."""
        for path, kind, error, text, blob in self.db.execute(
                "SELECT path, kind, error, record, series FROM entries"):
            if path in paths:
                yield path, kind, error, (_unpack(text, blob) if kind == "record" else None)

    def put(self, path: str, key: Key, kind: str, error: str | None = None,
            record: dict | None = None) -> None:
        text, blob = _pack(record) if record is not None else (None, None)
        self._change("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                     [(path, key, kind, error, text, blob)])

    def drop(self, paths: Iterable[str]) -> None:
        self._change("DELETE FROM entries WHERE path = ?", [(p,) for p in paths])

    def _change(self, sql: str, rows: list[tuple]) -> None:
        if self.path is None or self.failed:  # none kept, or its disk filled up: no index
            return
        try:
            self.db.executemany(sql, rows)
        except sqlite3.Error as err:
            self.failed, self.warning = True, f"the index at {self.path} not updated ({err})"

    def written(self, out: Path) -> tuple[str | None, list[str] | None]:
        """What the report now in ``out`` was made from, if ``out`` is still as it left it, and
        the lines its command printed after it (``wrote``'s ``said``, None where not kept)."""
        row = self.db.execute("SELECT value FROM meta WHERE name = 'report'").fetchone()
        report = json.loads(row[0]) if row is not None else {"files": None}
        return (report["made"], report.get("said")) if report["files"] == listing(out) \
            else (None, None)

    def wrote(self, out: Path, made: str, said: list[str] | None = None) -> None:
        self._change("INSERT OR REPLACE INTO meta VALUES ('report', ?)", [(json.dumps(
            {"made": made, "out": str(out), "files": listing(out), "said": said}),)])
        self.commit()

    def commit(self) -> None:
        if self.path is None or self.failed:
            return
        try:
            self.db.commit()
        except sqlite3.Error as err:  # the cache's disk filled up: the report goes on
            self.failed, self.warning = True, f"the index at {self.path} not updated ({err})"

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()


def _remove_stale(folder: Path) -> None:
    """Indexes of reports not made for ``STALE_DAYS`` (a test's, a deleted folder's)."""
    cutoff = time.time() - STALE_DAYS * 86400
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(".sqlite") and entry.stat().st_mtime < cutoff:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


@contextlib.contextmanager
def opened(out: Path | None, rebuild: bool = False) -> Iterator[Index]:
    """The index of the report written to ``out`` (None: one in memory), closed afterwards."""
    index = Index(location(out) if out is not None else None, rebuild)
    try:
        yield index
    finally:
        index.close()
