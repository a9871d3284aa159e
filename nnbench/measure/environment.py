"""Where a number was measured: host, CPU, BLAS and threads, GPU, versions, commit, time."""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from nnbench.measure.lock import lock_status
from nnbench.measure.threads import available_cores


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache  # once per process: a sweep's jobs all run the code it started with
def _git_commit() -> str | None:
    """HEAD of the checkout nnbench runs from, "-dirty" when any tracked file differs from it
    (the environment's ``git_commit``: what the tree was; ``code_version`` is what ran)."""
    root = _checkout()
    if root is None:
        return None
    try:
        head = _git(root, "rev-parse", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head.strip() + ("-dirty" if dirty.strip() else "")


# What a result's code version covers in the checkout: the package, its configs and its Hydra
# plugins (the sweeper and launchers that ran the job).
COVERED = ("nnbench", "conf", "hydra_plugins")


def _checkout() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / ".git").exists() else None


def _git(root: Path, *args: str) -> str:
    # no optional locks: a status run beside the user's own git commands must not take the index
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          timeout=5, check=True,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout


def _changed(root: Path, paths: list[str]) -> list[str]:
    """The files under ``paths`` that differ from HEAD (edited, staged, new, deleted)."""
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths)
    entries, files = out.split("\0"), []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) > 3:
            files.append(entry[3:])
            if entry[0] in "RC":  # a rename names its origin next; the origin changed too
                files.append(entries[i])
                i += 1
    # bytecode is Python's cache of the sources, not code of its own (where no .gitignore says so)
    return sorted({f for f in files if "__pycache__/" not in f and not f.endswith(".pyc")})


def _digest(files: list[Path], names: list[str]) -> str:
    """sha256 over each file's name and content (a deleted file: its name alone), 12 hex."""
    h = hashlib.sha256()
    for path, name in zip(files, names, strict=True):
        h.update(name.encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"\0<absent>")
        h.update(b"\0")
    return h.hexdigest()[:12]


def _module_file(trainer: type | None) -> Path | None:
    try:
        return Path(inspect.getsourcefile(trainer)).resolve() if trainer is not None else None
    except (TypeError, OSError):  # a class without a source file (built in, made at run time)
        return None


def code_version(trainer: type | None = None, code: Sequence[Path] = ()) -> str | None:
    """The code a result came from, as ``bench.resume`` and the report's pooling compare it.

    In a git checkout: the commit when nothing that can change a result differs from it, else
    ``<commit>-dirty-<hash>``, the hash (12 hex of sha256) over the names and contents of the
    changed files under ``COVERED`` and, when ``trainer`` (the job's trainer class) is defined
    elsewhere in the checkout, its module file; an edit that is undone gives the commit again,
    and an edit outside those (docs, tests) changes nothing. A trainer defined outside the
    checkout adds ``+<file name>:<hash>`` of its module file. Outside a checkout (or where git
    cannot run): ``nnbench <version>+<hash>`` over the package's source files. Each file of
    ``code`` (what the trainer runs that is neither nnbench nor its module: your network's file,
    framework=mine) adds ``+<file name>:<hash>`` wherever it is, so that a record made before an
    edit of it is never taken for one made after.

    Why the changed files and not the source actually imported: what a process has imported
    depends on what ran before it (a sweep's parent imports every framework, a worker one), so
    its hash would differ between the jobs of one sweep; the changed files are the same for
    all. What it does not see: a module the trainer file imports from outside the package.
    Cost: one ``git status`` over those paths and a read of the changed files, a few ms per job
    (3 ms for ``git status`` on a 2-core machine).
    """
    source = _module_file(trainer)
    root = _checkout()
    outside = source is not None and (root is None or not source.is_relative_to(root))
    suffix = f"+{source.name}:{_digest([source], [source.name])}" if outside else ""
    suffix += "".join(f"+{f.name}:{_digest([f], [f.name])}" for f in code)
    if root is not None:
        paths = list(COVERED)
        if source is not None and not outside:
            mine = str(source.relative_to(root))
            paths += [] if mine.split("/", 1)[0] in COVERED else [mine]
        try:
            commit = _git(root, "rev-parse", "HEAD").strip()
            changed = _changed(root, paths)
        except (OSError, subprocess.SubprocessError):  # no git here: as outside a checkout
            pass
        else:
            if not changed:
                return commit + suffix
            return f"{commit}-dirty-{_digest([root / c for c in changed], changed)}{suffix}"
    package = Path(__file__).resolve().parents[1]
    files = sorted(package.rglob("*.py"))
    digest = _digest(files, [str(f.relative_to(package)) for f in files])
    return f"nnbench {_version('nnbench') or 'unknown'}+{digest}{suffix}"


def _blas() -> list[dict]:
    from threadpoolctl import threadpool_info

    return [
        {k: info.get(k) for k in ("internal_api", "version", "num_threads", "threading_layer",
                                  "architecture", "filepath")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def _gpu_from_cupy() -> dict | None:
    """For NumPy-network jobs on CuPy, which do not import torch."""
    cupy = sys.modules.get("cupy")
    if cupy is None:
        return None
    try:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        return {"name": props["name"].decode(), "count": cupy.cuda.runtime.getDeviceCount(),
                "cuda_runtime": str(cupy.cuda.runtime.runtimeGetVersion()),
                "cupy": cupy.__version__, "driver": None}
    except Exception:  # no device: the job was skipped, nothing to describe
        return None


def _gpu() -> dict | None:
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        info = _gpu_from_cupy()
    else:
        info = {
            "name": torch.cuda.get_device_name(0),
            "count": torch.cuda.device_count(),
            "cuda_runtime": torch.version.cuda,
            "driver": None,
        }
    if info is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True)
        info["driver"] = out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return info


@functools.cache  # the installed versions do not change while a sweep runs
def _lock_status() -> dict | None:
    return lock_status()


def environment(threads: int | None = None) -> dict:
    """The fingerprint every record carries; ``threads`` is the count the job held both at."""
    torch = sys.modules.get("torch")
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_cores_available": available_cores(),
        "threads": threads,
        "blas": _blas(),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "gpu": _gpu(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "hydra": _version("hydra-core"),
        "nnbench": _version("nnbench"),
        "git_commit": _git_commit(),
        # whether every package is at the version requirements/lock.txt pins (null: no lock)
        "lock": _lock_status(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
