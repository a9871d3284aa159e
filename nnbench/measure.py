"""Clocks and the environment fingerprint every result record carries."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np


def timed(fn: Callable[[], float], sync: Callable[[], None]) -> tuple[float, float]:
    """Run ``fn`` and return (its value, seconds it took).

    ``sync`` waits for queued device work before each clock read, so asynchronous CUDA launches
    cannot leave the timed region early or leak into the next one.
    """
    sync()
    start = time.perf_counter()
    value = fn()
    sync()
    return value, time.perf_counter() - start


def summarize(samples: list[float]) -> dict[str, float | None]:
    """Median and spread of timing samples (the median resists the odd slow epoch)."""
    if not samples:
        return {"median": None, "q1": None, "q3": None, "min": None, "max": None, "cv": None}
    arr = np.asarray(samples, dtype=np.float64)
    mean = float(arr.mean())
    return {
        "median": float(np.median(arr)),
        "q1": float(np.percentile(arr, 25)),
        "q3": float(np.percentile(arr, 75)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "cv": float(arr.std(ddof=1) / mean) if arr.size > 1 and mean > 0 else None,
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment() -> dict:
    """Versions, host and CPU, so that a number can be traced to where it was measured."""
    env = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": _version("torch"),
        "hydra": _version("hydra-core"),
        "nnbench": _version("nnbench"),
        "git_commit": _git_commit(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return env
