"""This host's matmul peak, the denominator of MFU, measured once and cached per kernel.

The peak is the best GFLOP/s of a large square matmul in the same framework, dtype, device and
thread count as the job: what the library can reach on this machine, not a datasheet figure.
Recalibrate with ``python scripts/calibrate_peak.py``.

The cache (one file under the user's cache folder, shared by every checkout and environment of
that user) keys each peak by what it measured (``identity``): the host and its CPU (its GPU on
CUDA), the trainer class's import path and a digest of the source of the modules its kernel
runs in, the interpreter, the installed numpy, torch and cupy, the BLAS libraries loaded (as
threadpoolctl reports them), the device, dtype, thread count and TF32. A framework's name is not
enough: two frameworks may share one, and the same name in another checkout or environment may
run other code on other libraries. A changed kernel or library is measured again; a process
that has loaded more libraries (a job run beside another framework's) may measure once more,
never inherit another kernel's peak. A kernel whose source cannot be read (defined in a
notebook) is measured for each job and not cached.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import socket
import sys
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
# Installed libraries a framework's matmul may run on, part of each peak's key
LIBRARIES = ("numpy", "torch", "cupy")


def cache_file() -> Path:
    root = os.environ.get("NNBENCH_CACHE_DIR") or Path.home() / ".cache" / "nnbench"
    return Path(root) / "matmul_peak.json"


def _kernel_modules(trainer: type) -> list[str]:
    """The modules whose code the trainer's matmul kernel runs: the trainer's own, the one
    that defines ``matmul_kernel`` (a base class's), and those of the trainers it delegates
    to by name (the textbook trainer calls NumPy's)."""
    found, todo = [], [trainer]
    while todo:
        cls = todo.pop()
        kernel = getattr(cls.matmul_kernel, "__func__", cls.matmul_kernel)
        for name in (cls.__module__, kernel.__module__):
            if name not in found:
                found.append(name)
        code, names = getattr(kernel, "__code__", None), getattr(kernel, "__globals__", {})
        for word in code.co_names if code else ():
            other = names.get(word)
            if isinstance(other, type) and hasattr(other, "matmul_kernel") and \
                    other.__module__ not in found:
                todo.append(other)
    return found


def _source_digest(trainer: type) -> str | None:
    """16 hex of the SHA-256 of the kernel's modules' source files; None where one has none."""
    digest = hashlib.sha256()
    for name in _kernel_modules(trainer):
        path = getattr(sys.modules.get(name), "__file__", None)
        try:
            digest.update(f"{name}\0".encode() + Path(path).read_bytes())  # type: ignore[arg-type]
        except (OSError, TypeError):
            return None
    return digest.hexdigest()[:16]


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(name)  # a package without its distribution's metadata
        return getattr(module, "__version__", None)


def _gpu(device: str) -> str | None:
    """The GPU a CUDA peak is measured on, by name, through whichever library is loaded."""
    if device != "cuda":
        return None
    torch, cupy = sys.modules.get("torch"), sys.modules.get("cupy")
    try:
        if torch is not None and torch.cuda.is_available():
            return torch.cuda.get_device_name()
        if cupy is not None:
            return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except Exception:  # noqa: BLE001 - the key then says unknown, and so measures again
        return "unknown"
    return "unknown"


def identity(trainer: type, dtype: str, device: str, threads: int, tf32: bool) -> dict:
    """What a peak measured: the kernel's code, the interpreter and libraries it ran on, the
    host, and the setting. Two peaks are one only where all of it agrees."""
    from threadpoolctl import threadpool_info

    blas = sorted({f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                   for i in threadpool_info() if i.get("user_api") == "blas"})
    return {"host": socket.gethostname(), "cpu": cpu_model(), "gpu": _gpu(device),
            "trainer": f"{trainer.__module__}.{trainer.__qualname__}",
            "source": _source_digest(trainer), "python": sys.executable,
            "libraries": {name: _installed(name) for name in LIBRARIES}, "blas": blas,
            "device": device, "dtype": dtype, "threads": threads, "tf32": tf32}


def _key(what: dict) -> str:
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


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


def matmul_peak(trainer: type, dtype: str, device: str, threads: int | None,
                recalibrate: bool = False, tf32: bool = False,
                n: int | None = None) -> dict:
    """The cached peak of ``trainer``'s matmul (``Trainer.matmul_kernel``) for this host and
    setting, measured on first use and whenever what it measured changed (``identity``, kept
    in the entry as ``of``).

    ``dtype`` is the dtype the matmuls run in (under autocast, the autocast dtype); with
    ``tf32`` the peak is that of TF32 matmuls, as the job's are.
    """
    from nnbench.measure.threads import available_cores

    count = threads or available_cores()
    what = {**identity(trainer, dtype, device, count, tf32), "n": n}  # n: the kernel's size
    key = _key(what)
    entries = _load()
    if recalibrate or key not in entries or what["source"] is None:
        measured = {**calibrate(trainer.matmul_kernel, dtype, device, count, tf32, n), "of": what}
        if what["source"] is None:  # no code to tie it to: this job's only
            return measured
        with warnings.catch_warnings():  # the first read already said what was wrong
            warnings.simplefilter("ignore", CacheWarning)
            entries = _load()  # re-read: another job may have written meanwhile
        entries[key] = measured
        _store(entries)
    return entries[key]
