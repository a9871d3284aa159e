"""Where nnbench writes: a fresh folder per run or sweep, and the folders a config names,
checked before anything is written.

Hydra names a run's folder once, in the process that starts the run or the sweep (launchers'
workers reuse that value: Hydra copies the resolver cache into every job's config). ``${now:...}``
alone names two runs started in the same second alike, and they would share one folder, each
overwriting the other's files. ``conf/config.yaml`` therefore names folders with the
``nnbench.run_folder`` resolver: ``<runs_dir>/<experiment_name>/<date>_<time>_<pid>-<random>``.
The date and time come first, so folders sort by start; the pid of the starting process tells
apart any two runs alive together on one host, and the random part runs on other hosts of a
shared file system (or in other pid namespaces). A name that already exists is never reused,
and a folder the user names instead (``hydra.run.dir``, ``hydra.sweep.dir``) is refused when it
holds anything (``check_unused``): a second run would write over the first one's record.

The resolver also checks ``runs_dir`` and ``experiment_name`` before Hydra creates the folder:
a runs_dir that is a file, read-only or on a file system that holds no files (``/proc``), or an
experiment name that is not a plain name (``../../x`` would write outside runs_dir), is refused
with one line naming the key. So is a runs_dir whose job folders' files would have paths longer
than the system allows (PATH_MAX), or whose file system lacks the room a job's record needs.
``check_config`` makes the same checks, and ``dataset.data_dir``'s, for a job resolved elsewhere.

Names are ASCII: a name is a folder others share, a report's label and a scheduler's job
name, and Unicode admits look-alikes (``é`` as one code point or as ``e`` and an accent).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nnbench.errors import ConfigError

RESOLVER = "nnbench.run_folder"
JOB_RESOLVER = "nnbench.job_folder"
STAMP = "%Y-%m-%d_%H-%M-%S"
# a plain name: one path component, not hidden, not "." or ".."
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,=+-]*")
PLAIN_NAME_RULE = ("letters, digits and _ . , = + - (ASCII only; not first: . , = + -), "
                   "no path separators")
MAX_NAME = 100
MAX_FOLDER_NAME = 200  # bytes of a sweep job's folder name: well inside a file system's 255
# Below <runs_dir>/<experiment_name>: the run's folder (~40 bytes), a sweep job's folder (up to
# MAX_FOLDER_NAME) and a temporary of result.json (~130): a path there may take PATH_MAX less.
BELOW_EXPERIMENT = 512
# Room a job needs before it starts: Hydra's .hydra/ files (a few blocks; a log only if the job
# logs) and a record's fixed part; each epoch adds its loss, time and accuracy to the record.
MIN_ROOM = 64 * 1024
RECORD_BYTES_PER_EPOCH = 256
# kernel file systems that hold no files of ours, whatever their permissions say
VIRTUAL_FS = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs",
                        "securityfs", "configfs", "bpf", "pstore", "efivarfs", "fusectl",
                        "binfmt_misc", "devpts", "mqueue", "rpc_pipefs", "nsfs"})


class NoRoom(ConfigError):
    """runs_dir's file system lacks the room a job's record needs: refused before the first job;
    a later job of a sweep that finds it so is not started, and its record says why."""


def plain_name(key: str, value: Any) -> str:
    """``value`` as a name for one folder; ``ConfigError`` naming ``key`` when it is not."""
    name = "" if value is None else str(value)
    if not PLAIN_NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ConfigError(f"{key}={name!r} is not a plain name; allowed: {PLAIN_NAME_RULE}, "
                          f"at most {MAX_NAME} characters")
    return name


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _mounts() -> list[tuple[str, str]]:
    """(mount point, file system type) of every mount this process sees; [] when unknown."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    mounts = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 3:
            mounts.append((_unescape(parts[1]), parts[2]))
    return mounts


def filesystem_type(path: str | os.PathLike) -> str | None:
    """The type of the file system ``path`` (which exists) is on, from /proc/self/mounts."""
    real = os.path.realpath(path)
    best, kind = "", None
    for point, fstype in _mounts():
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fstype
    if kind is None and (real == "/proc" or real.startswith(("/proc/", "/sys/"))):
        kind = "proc" if real.startswith("/proc") else "sysfs"
    return kind


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or ".")


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def folder_problem(path: str | os.PathLike, writable: bool = True) -> str | None:
    """What keeps ``path`` from being a folder nnbench can create (when missing) and, with
    ``writable``, write into; None when nothing does. Looks only: creates nothing."""
    path = Path(os.path.expanduser(os.fspath(path)))
    found = _nearest_existing(path.absolute())
    kind = filesystem_type(found)
    if kind in VIRTUAL_FS:
        where = "" if found == path.absolute() else f"under {found}, "
        return f"is {where}on a {kind} file system, which holds no files; choose a folder on disk"
    if not found.is_dir():
        if found == path.absolute():
            return "is a file, not a folder"
        return f"cannot be created: {found} is a file, not a folder"
    missing = found != path.absolute()
    if not missing and not writable:
        return None
    if not os.access(found, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only_fs(found) else \
            "permission denied for this user"
        if missing:
            return f"cannot be created: {found} is not writable ({why})"
        return f"is not writable ({why})"
    return None


def check_folder(key: str, path: Any, writable: bool = True) -> None:
    """``ConfigError`` naming ``key`` and ``path`` when ``folder_problem`` finds one."""
    if path is None or str(path) == "":
        raise ConfigError(f"{key} is empty; it must name a folder")
    wrong = folder_problem(str(path), writable)
    if wrong:
        raise ConfigError(f"{key}={shown_path(path)} {wrong}")


def shown_path(path: Any, limit: int = 300) -> str:
    """A path for a one-line message: whole, or its ends and its length when very long."""
    text = str(path)
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]}...{text[-limit // 3:]} ({len(text)} characters)"


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def length_problem(path: str | os.PathLike) -> str | None:
    """What keeps the files nnbench writes below the folder ``path`` (an experiment's) from
    having paths this system accepts; None when nothing does. Looks only."""
    absolute = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    found = _nearest_existing(absolute)
    try:
        path_max, name_max = os.pathconf(found, "PC_PATH_MAX"), os.pathconf(found, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        path_max, name_max = 4096, 255
    for part in absolute.parts:
        if len(os.fsencode(part)) > name_max:
            return (f"has a folder name of {len(os.fsencode(part))} bytes, over the {name_max} "
                    f"this file system allows")
    size = len(os.fsencode(str(absolute)))
    if size + BELOW_EXPERIMENT > path_max:
        return (f"is too long: the experiment folder's path takes {size} bytes, and a job's "
                f"files lie up to {BELOW_EXPERIMENT} bytes deeper, over this system's limit of "
                f"{path_max} bytes for a path (PATH_MAX); choose a shorter runs_dir")
    return None


def room_problem(path: str | os.PathLike, need: int) -> str | None:
    """What keeps the file system of ``path`` from taking ``need`` more bytes (and a few
    files); None when nothing does, or when it cannot tell. Looks only."""
    found = _nearest_existing(Path(os.path.abspath(os.path.expanduser(os.fspath(path)))))
    try:
        fs = os.statvfs(found)
    except OSError:
        return None
    free = fs.f_bavail * fs.f_frsize
    if free < need:
        return (f"has {_size(free)} free on its file system, and a job needs about "
                f"{_size(need)} (its record and Hydra's files); free some space or choose "
                f"another runs_dir")
    if fs.f_files and fs.f_favail < 16:
        return "is on a file system with no free inodes left; free some or choose another runs_dir"
    return None


def record_room(cfg: Any) -> int:
    """Bytes one job of ``cfg`` needs in runs_dir: its record grows with epochs and repeats."""
    train, bench = cfg.get("train"), cfg.get("bench")
    try:
        epochs = int(train.get("epochs") or 0) if hasattr(train, "get") else 0
        repeats = int(bench.get("repeats") or 1) if hasattr(bench, "get") else 1
    except (TypeError, ValueError):
        epochs, repeats = 0, 1
    return MIN_ROOM + RECORD_BYTES_PER_EPOCH * max(epochs, 0) * max(repeats, 1)


def check_runs_dir(runs_dir: Any, experiment_name: str, need: int = MIN_ROOM) -> None:
    """``ConfigError`` naming runs_dir when its experiment folder's files would have paths too
    long, or its file system lacks ``need`` bytes."""
    parent = Path(str(runs_dir)) / experiment_name
    wrong = length_problem(parent)
    if wrong:
        raise ConfigError(f"runs_dir={shown_path(runs_dir)} {wrong}")
    wrong = room_problem(parent, need)
    if wrong:
        raise NoRoom(f"runs_dir={shown_path(runs_dir)} {wrong}")


def run_folder(runs_dir: Any, experiment_name: Any) -> str:
    """A new run or sweep folder's path, ``<runs_dir>/<experiment_name>/<stamp>``, after
    checking both keys. Creates nothing: Hydra creates the folder."""
    check_folder("runs_dir", runs_dir)
    name = plain_name("experiment_name", experiment_name)
    check_runs_dir(runs_dir, name)
    parent = Path(str(runs_dir)) / name
    if os.path.lexists(parent):  # an experiment folder that is a file, or read-only
        wrong = folder_problem(parent)
        if wrong:
            raise ConfigError(f"runs_dir={runs_dir}: {parent} {wrong}")
    when = datetime.now().strftime(STAMP)
    while True:
        folder = parent / f"{when}_{os.getpid()}-{secrets.token_hex(2)}"
        if not os.path.lexists(folder):
            return str(folder)


def check_config(cfg: Any, dataset: Any = None) -> None:
    """Check the folders a resolved config names: ``runs_dir`` (created and written),
    ``experiment_name`` (a plain name) and the data_dir of ``dataset`` (default: the
    config's), where it has one: that may be read-only when the data is already there (the
    data layer says when it is not). ``ConfigError`` naming the key on the first problem."""
    check_folder("runs_dir", cfg.get("runs_dir") or "runs")
    name = plain_name("experiment_name", cfg.get("experiment_name"))
    check_runs_dir(cfg.get("runs_dir") or "runs", name, record_room(cfg))
    dataset = cfg.get("dataset") if dataset is None else dataset
    data_dir = dataset.get("data_dir") if hasattr(dataset, "get") else None
    if data_dir is not None:
        check_folder("dataset.data_dir", data_dir, writable=False)


def check_unused(key: str, path: Any) -> None:
    """``ConfigError`` naming ``key`` when the folder ``path`` (``hydra.run.dir``, which a user
    may name) already holds anything: a run goes only into a new or empty folder, never over
    the files of another run or anyone's."""
    check_folder(key, path)
    folder = Path(os.path.expanduser(str(path)))
    try:
        held = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return  # cannot be listed: creating the run's files there says why
    if held:
        more = f" and {len(held) - 3} more" if len(held) > 3 else ""
        raise ConfigError(f"{key}={shown_path(path)} already holds {', '.join(held[:3])}{more}; "
                          f"nnbench writes only into a new or empty folder: name another, or "
                          f"leave {key} out for a new one under runs_dir")


def job_folder(num: Any, overrides: Any) -> str:
    """A sweep job's folder name, ``<num>-<its overrides>``, one name however the overrides
    read: a path among their values (``bench.python=/opt/env/bin/python``) has its ``/`` made
    ``_`` (it would nest the job's folder in its path's); past ``MAX_FOLDER_NAME``, cut."""
    name = f"{num}-{str(overrides).replace('/', '_')}"
    if len(name.encode()) > MAX_FOLDER_NAME:  # its start, and a digest of the whole name
        name = f"{name.encode()[:MAX_FOLDER_NAME - 14].decode(errors='ignore')}--" \
               f"{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return name


def register_resolver() -> None:
    """Make ``${nnbench.run_folder:RUNS_DIR,EXPERIMENT_NAME}`` available to configs (cached: one
    config names one folder, however often it is read), and ``${nnbench.job_folder:NUM,DIRS}``."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, run_folder, use_cache=True)
    if not OmegaConf.has_resolver(JOB_RESOLVER):
        OmegaConf.register_new_resolver(JOB_RESOLVER, job_folder)
