"""Where a number was measured: host, CPU, BLAS and threads, GPU, versions, commit, time."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
import time
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
    (the environment's ``git_commit``: what the tree was; ``nnbench.identity``'s code part is
    what ran)."""
    root = checkout()
    if root is None:
        return None
    try:
        head = git(root, "rev-parse", "HEAD")
        dirty = git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head.strip() + ("-dirty" if dirty.strip() else "")


def checkout() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / ".git").exists() else None


def git(root: Path, *args: str) -> str:
    # no optional locks: a status run beside the user's own git commands must not take the index
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          timeout=5, check=True,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout


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
