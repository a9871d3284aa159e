"""Writing files so that they are whole or absent, and cleaning up after writers that died.

Every file nnbench writes (result records, caches, unpacked datasets, reports) goes through
``atomic_write``: the bytes land in a temporary beside the target, are flushed to disk, and only
then renamed over the target, so a reader never sees half a file. The temporary is deleted on
any error, Ctrl-C included. A writer killed outright (SIGKILL, power loss) cannot delete it, so
temporaries are named ``.nnbench-tmp-<host>.<pid>.<random>.<target name>.tmp`` and
``remove_stale_temporaries`` deletes those whose process is gone, or that have not been touched
for ``STALE_AFTER_S`` (the owner may be on another host of a shared file system).

Files are created with mode ``0666`` less the umask (0644 under the usual umask 022), as
``open()`` would make them, so colleagues sharing a file system can read them.

Files nnbench reads back that anyone could have put there (result records) are read with
``read_json``: only a regular file (a FIFO would block the reader forever), of bounded size (a
stray multi-GB file is not loaded into memory) and bounded nesting (Python's parser recurses:
a file 200,000 brackets deep would end the reader in a RecursionError).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

TEMP_PREFIX = ".nnbench-tmp-"
# A temporary whose owner cannot be shown to be dead (another host, or a pid that was reused)
# is removed once nobody has written to it for this long.
STALE_AFTER_S = 30 * 60
_MAX_NAME = 120  # of the target name kept in a temporary's name (file names stop at 255 bytes)
_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string: brackets in it do not nest
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_ONE_KIND = bytes.maketrans(b"{}", b"[]")  # depth does not care which kind


class CacheWarning(UserWarning):
    """A cache was discarded (unreadable or invalid) or could not be written; the job goes on.

    The message is one line naming the file.
    """


def owner() -> str:
    """This host and pid namespace, as a name part: pids are only comparable within one."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
    try:
        return f"{host}-{os.stat('/proc/self/ns/pid').st_ino:x}"
    except OSError:
        return host


def temporary_name(target_name: str) -> str:
    """A fresh temporary's name for ``target_name``: prefix, owner, pid, random part, target."""
    # ".tmp" last, so that no glob for the target's suffix ("*.json") picks a temporary up
    return (f"{TEMP_PREFIX}{owner()}.{os.getpid()}.{secrets.token_hex(4)}."
            f"{target_name[:_MAX_NAME]}.tmp")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # PermissionError: it exists, another user's
    return True


def _is_stale(name: str, mtime: float, max_age_s: float) -> bool:
    if time.time() - mtime > max_age_s:
        return True
    if not name.startswith(TEMP_PREFIX):
        return False  # an older naming scheme with no pid: only age tells
    parts = name[len(TEMP_PREFIX):].split(".", 3)
    if len(parts) < 4 or not parts[1].isdigit() or parts[0] != owner():
        return False
    pid = int(parts[1])
    return pid != os.getpid() and not pid_alive(pid)


def remove_stale_temporaries(folder: str | os.PathLike, prefix: str = TEMP_PREFIX,
                             max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete temporaries in ``folder`` whose names start with ``prefix`` and whose writer is
    gone: its pid is dead on this host, or nothing touched the file for ``max_age_s``.

    Never raises: a folder that is missing or read-only is left as it is. Returns what was
    removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not _is_stale(entry.name, info.st_mtime, max_age_s):
                continue
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # gone meanwhile, or not ours to delete
    return removed


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; some file systems cannot open folders, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[Any]], object], *,
                 text: bool = False, encoding: str = "utf-8") -> Path:
    """Write ``path`` whole or not at all: ``write(f)`` fills a temporary in the same folder,
    which is fsynced and renamed over ``path``.

    ``f`` is a binary file, or a text file with ``text=True``. An exception from ``write`` (a
    check of the content, say) leaves ``path`` as it was and no temporary behind. The folder
    must exist; stale temporaries in it are removed first.
    """
    path = Path(path)
    folder = path.parent
    remove_stale_temporaries(folder)
    tmp = folder / temporary_name(path.name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    # mode 0666 and the kernel applies the umask (and any default ACL): no umask juggling
    fd = os.open(tmp, flags, 0o666)
    try:
        with open(fd, "w" if text else "wb", encoding=encoding if text else None) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)
    return path


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """``atomic_write`` of a string."""
    return atomic_write(path, lambda f: f.write(text), text=True, encoding=encoding)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """``atomic_write`` of bytes."""
    return atomic_write(path, lambda f: f.write(data))


@contextlib.contextmanager
def cache_warnings() -> Iterator[list[str]]:
    """Collect the CacheWarnings raised in the block, every one (not once per place), as
    one-line strings in the list it yields, filled when the block ends; other warnings are
    passed on as usual."""
    found: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CacheWarning)
            yield found
    finally:  # also when the block raised: no warning is lost
        for w in caught:
            if issubclass(w.category, CacheWarning):
                found.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                                       source=w.source)


@contextlib.contextmanager
def temporary_folder(parent: str | os.PathLike, label: str) -> Iterator[Path]:
    """A scratch folder in ``parent``, named like a temporary so a killed run's is cleaned up
    by the next one; removed with its contents when the block ends, however it ends."""
    parent = Path(parent)
    remove_stale_temporaries(parent)
    scratch = parent / temporary_name(label)
    scratch.mkdir()
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class UnreadableFile(ValueError):
    """A file ``read_json`` does not parse: not a regular file, too large or nested too deep.

    The message is one line saying which.
    """


def _nesting_problem(data: bytes, max_depth: int) -> str | None:
    """Why the JSON text ``data`` nests too deep for a parser that recurses, or None; found at
    C speed: string contents dropped, then innermost bracket pairs removed a level a pass."""
    brackets = _STRING.sub(b"", data).translate(_ONE_KIND, _NOT_BRACKETS)
    too_deep = f"nested deeper than {max_depth} levels"
    if b"[" * (max_depth + 1) in brackets:  # the usual deep file, found in one scan
        return too_deep
    for _ in range(max_depth):
        inner = brackets.replace(b"[]", b"")  # one scan, no rescan: one level a pass
        if len(inner) == len(brackets):
            break
        brackets = inner
    else:
        if b"[]" in brackets:
            return too_deep
    # what is left never closes, yet a parser descends into each one before it fails
    return f"{too_deep} or left open" if len(brackets) > max_depth else None


def read_json(path: str | os.PathLike, max_bytes: int, max_depth: int) -> Any:
    """The JSON value in ``path``, which must be a regular file of at most ``max_bytes`` nested
    at most ``max_depth`` deep; ``UnreadableFile`` (a ValueError) says which it is not. OSError
    when it cannot be opened; ValueError (JSONDecodeError, UnicodeDecodeError) when it is no
    JSON. NaN and Infinity are parsed as floats: the caller's schema says where they belong."""
    return json.loads(read_bytes(path, max_bytes, max_depth))


def read_bytes(path: str | os.PathLike, max_bytes: int, max_depth: int) -> bytes:
    """The bytes ``read_json`` parses, with its checks (a regular file, ``max_bytes``, JSON
    nested at most ``max_depth`` deep), for a caller that parses them itself."""
    # O_NONBLOCK: opening a FIFO no one writes to would otherwise wait forever; a regular
    # file's reads ignore it
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a file")
            raise UnreadableFile(f"not a regular file but {kind}")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)  # no more than that, even if it grew since fstat
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise UnreadableFile(f"{max(info.st_size, len(data)):,} bytes, more than the "
                             f"{max_bytes:,} a file of its kind is read up to")
    wrong = _nesting_problem(data, max_depth)
    if wrong:
        raise UnreadableFile(wrong)
    return data
