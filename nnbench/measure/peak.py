"""This host's matmul peak, the denominator of MFU, measured once and cached per host.

The peak is the best GFLOP/s of a large square matmul in the same framework, dtype, device and
thread count as the job: what the library can reach on this machine, not a datasheet figure.
Recalibrate with ``python scripts/calibrate_peak.py``.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path

from nnbench.measure.environment import cpu_model
from nnbench.measure.threads import limited
from nnbench.trainers.base import Trainer

# Large enough that one call dwarfs dispatch overhead, small enough to calibrate in seconds.
SIZES = {"cpu": 3072, "cuda": 8192}
# Best of many: on a shared host the peak is the least-disturbed round.
ROUNDS = 12


def cache_file() -> Path:
    root = os.environ.get("NNBENCH_CACHE_DIR") or Path.home() / ".cache" / "nnbench"
    return Path(root) / "matmul_peak.json"


def _key(framework: str, dtype: str, device: str, threads: int, tf32: bool) -> str:
    key = f"{socket.gethostname()}|{cpu_model()}|{framework}|{device}|{dtype}|threads={threads}"
    return key + ("|tf32" if tf32 else "")


def calibrate(trainer: type[Trainer], dtype: str, device: str, threads: int | None,
              tf32: bool = False) -> dict:
    """Best-of-ROUNDS GFLOP/s of the framework's n x n matmul, after one untimed call."""
    n = SIZES[device]
    with limited(threads) as count:
        fn, sync = trainer.matmul_kernel(n, dtype, device, tf32)
        fn()
        sync()
        best = float("inf")
        for _ in range(ROUNDS):
            start = time.perf_counter()
            fn()
            sync()
            best = min(best, time.perf_counter() - start)
    return {"gflops": 2 * n**3 / best / 1e9, "n": n, "threads": count, "rounds": ROUNDS,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _load() -> dict:
    try:
        return json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _store(entries: dict) -> None:
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".peak-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(entries, f, indent=2)
    os.replace(tmp, path)


def matmul_peak(framework: str, trainer: type[Trainer], dtype: str, device: str,
                threads: int | None, recalibrate: bool = False, tf32: bool = False) -> dict:
    """The cached peak of ``framework`` (its ``trainer``'s matmul) for this host and setting,
    measuring it on first use.

    ``dtype`` is the dtype the matmuls run in (under autocast, the autocast dtype); with
    ``tf32`` the peak is that of TF32 matmuls, as the job's are.
    """
    from nnbench.measure.threads import available_cores

    count = threads or available_cores()
    key = _key(framework, dtype, device, count, tf32)
    entries = _load()
    if recalibrate or key not in entries:
        entries = _load()  # re-read: another job may have written meanwhile
        entries[key] = calibrate(trainer, dtype, device, count, tf32)
        _store(entries)
    return entries[key]
