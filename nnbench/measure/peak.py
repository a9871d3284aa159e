"""This host's matmul peak, the denominator of MFU, measured once and cached per host.

The peak is the best GFLOP/s of a large square matmul in the same framework, dtype, device and
thread count as the job: what the library can reach on this machine, not a datasheet figure.
Recalibrate with ``python scripts/calibrate_peak.py``.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from nnbench.files import CacheWarning, remove_stale_temporaries, write_text
from nnbench.measure.environment import cpu_model
from nnbench.measure.threads import limited

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


# A framework's matmul: (n, dtype, device, tf32) -> (the n x n matmul, the call that waits for
# it); ``Trainer.matmul_kernel``.
Kernel = Callable[[int, str, str, bool], tuple[Callable[[], object], Callable[[], None]]]


def calibrate(kernel: Kernel, dtype: str, device: str, threads: int | None,
              tf32: bool = False, n: int | None = None) -> dict:
    """Best-of-ROUNDS GFLOP/s of the framework's n x n matmul, after one untimed call (``n``:
    the framework's own size, where it names one; else SIZES')."""
    n = n or SIZES[device]
    with limited(threads) as count:
        fn, sync = kernel(n, dtype, device, tf32)
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


def _valid_entry(entry: object) -> str | None:
    """What is wrong with one cached measurement, or None if it is usable."""
    if not isinstance(entry, dict):
        return f"is a {type(entry).__name__}, not an object"
    gflops = entry.get("gflops")
    if isinstance(gflops, bool) or not isinstance(gflops, (int, float)):
        return f"has gflops={gflops!r}, not a number"
    if not math.isfinite(gflops) or gflops <= 0:
        return f"has gflops={gflops!r}, not a positive finite number"
    return None


def _discard(path: Path, reason: str) -> dict:
    warnings.warn(f"discarded the matmul-peak cache {path} ({reason}); recalibrating",
                  CacheWarning, stacklevel=4)
    return {}


def _load() -> dict:
    """The cached measurements; a file that cannot be read or parsed, or an entry of the wrong
    shape, is dropped with a CacheWarning naming the file (it is rewritten on the next store)."""
    path = cache_file()
    if path.exists() and not path.is_file():  # a folder, or a pipe that would block the read
        return _discard(path, "not a regular file")
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return _discard(path, f"{type(err).__name__}: {(reason.splitlines() or [''])[0]}")
    if not isinstance(entries, dict):
        return _discard(path, f"a JSON {type(entries).__name__}, not an object")
    bad = {key: why for key, entry in entries.items() if (why := _valid_entry(entry))}
    for key, why in bad.items():
        warnings.warn(f"discarded entry {key!r} of the matmul-peak cache {path} (it {why})",
                      CacheWarning, stacklevel=3)
        del entries[key]
    return entries


def _store(entries: dict) -> None:
    """Write the cache whole; where it cannot be written the measurement is kept for this job
    only, with a CacheWarning."""
    path = cache_file()
    remove_stale_temporaries(path.parent, ".peak-")  # what earlier versions' writers left
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(entries, indent=2) + "\n")
    except OSError as err:
        warnings.warn(f"cannot write the matmul-peak cache {path} ({err.strerror or err}); "
                      f"the peak is measured again by the next job", CacheWarning, stacklevel=3)


def matmul_peak(framework: str, kernel: Kernel, dtype: str, device: str,
                threads: int | None, recalibrate: bool = False, tf32: bool = False,
                n: int | None = None) -> dict:
    """The cached peak of ``framework`` (its matmul ``kernel``) for this host and setting,
    measuring it on first use.

    ``dtype`` is the dtype the matmuls run in (under autocast, the autocast dtype); with
    ``tf32`` the peak is that of TF32 matmuls, as the job's are.
    """
    from nnbench.measure.threads import available_cores

    count = threads or available_cores()
    key = _key(framework, dtype, device, count, tf32)
    entries = _load()
    if recalibrate or key not in entries:
        measured = calibrate(kernel, dtype, device, count, tf32, n)
        with warnings.catch_warnings():  # the first read already said what was wrong
            warnings.simplefilter("ignore", CacheWarning)
            entries = _load()  # re-read: another job may have written meanwhile
        entries[key] = measured
        _store(entries)
    return entries[key]
