"""Where nnbench writes: a fresh folder per run or sweep, and the folders a config names,
checked before anything is written.

Hydra names a run's folder once, in the process that starts the run or the sweep (launchers'
workers reuse that value: Hydra copies the resolver cache into every job's config). ``${now:...}``
alone names two runs started in the same second alike, and they would share one folder, each
overwriting the other's files. ``conf/config.yaml`` therefore names folders with the
``nnbench.run_folder`` resolver: ``<runs_dir>/<experiment_name>/<date>_<time>_<pid>-<random>``.
The date and time come first, so folders sort by start; the pid of the starting process tells
apart any two runs alive together on one host, and the random part runs on other hosts of a
shared file system (or in other pid namespaces). A name that already exists is never reused.

The resolver also checks ``runs_dir`` and ``experiment_name`` before Hydra creates the folder:
a runs_dir that is a file, read-only or on a file system that holds no files (``/proc``), or an
experiment name that is not a plain name (``../../x`` would write outside runs_dir), is refused
with one line naming the key. ``check_config`` makes the same checks, and those of
``dataset.data_dir``, for a job resolved outside the command line.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nnbench.errors import ConfigError

RESOLVER = "nnbench.run_folder"
STAMP = "%Y-%m-%d_%H-%M-%S"
# a plain name: one path component, not hidden, not "." or ".."
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,=+-]*")
PLAIN_NAME_RULE = ("letters, digits and _ . , = + - (not first: . , = + -), "
                   "no path separators")
MAX_NAME = 100
# kernel file systems that hold no files of ours, whatever their permissions say
VIRTUAL_FS = frozenset({"proc", "sysfs", "cgroup", "cgroup2", "debugfs", "tracefs",
                        "securityfs", "configfs", "bpf", "pstore", "efivarfs", "fusectl",
                        "binfmt_misc", "devpts", "mqueue", "rpc_pipefs", "nsfs"})


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
        raise ConfigError(f"{key}={path} {wrong}")


def run_folder(runs_dir: Any, experiment_name: Any) -> str:
    """A new run or sweep folder's path, ``<runs_dir>/<experiment_name>/<stamp>``, after
    checking both keys. Creates nothing: Hydra creates the folder."""
    check_folder("runs_dir", runs_dir)
    name = plain_name("experiment_name", experiment_name)
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
    plain_name("experiment_name", cfg.get("experiment_name"))
    dataset = cfg.get("dataset") if dataset is None else dataset
    data_dir = dataset.get("data_dir") if hasattr(dataset, "get") else None
    if data_dir is not None:
        check_folder("dataset.data_dir", data_dir, writable=False)


def register_resolver() -> None:
    """Make ``${nnbench.run_folder:RUNS_DIR,EXPERIMENT_NAME}`` available to configs. Cached:
    one config names one folder, however often it is read."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, run_folder, use_cache=True)
