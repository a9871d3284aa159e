"""The cache of an MNIST-style dataset's decoded arrays: read, checked, written whole.

The cache is a convenience, never a reason to fail: one that cannot be read or does not hold
what ``idx_images`` writes is discarded and rebuilt, and one that cannot be written (a read-only
``data_dir``) is done without; each says so in a ``CacheWarning`` naming the file. Its name
(``idx_images._cache_path``) holds the digest of the IDX files it was decoded from.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np

from nnbench.data.idx_files import IMAGE_SIZE, N_CLASSES
from nnbench.files import CacheWarning, atomic_write

ARRAYS = ("x_train", "y_train", "x_test", "y_test", "classes")
N_FEATURES = IMAGE_SIZE[0] * IMAGE_SIZE[1]


class _BadCache(Exception):
    """The cache file reads, but does not hold what ``_decode`` makes; the message says how."""


def _valid_cache(arrays: dict[str, np.ndarray]) -> None:
    """Raise _BadCache saying what is wrong unless ``arrays`` is what ``_decode`` makes."""
    if set(arrays) != set(ARRAYS):
        raise _BadCache(f"holds arrays {sorted(arrays)}, expected {sorted(ARRAYS)}")
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != N_FEATURES or not len(x):
            raise _BadCache(f"x_{split} is {x.dtype} {x.shape}, expected float32 (n, "
                            f"{N_FEATURES})")
        if y.dtype != np.int64 or y.shape != (x.shape[0],):
            raise _BadCache(f"y_{split} is {y.dtype} {y.shape}, expected int64 "
                            f"({x.shape[0]},)")
        if y.min() < 0 or y.max() >= N_CLASSES:
            raise _BadCache(f"y_{split} has labels outside 0..{N_CLASSES - 1}")
        if not np.isfinite(x).all():
            raise _BadCache(f"x_{split} has non-finite values")
    classes = arrays["classes"]
    if classes.dtype.kind != "U" or classes.shape != (N_CLASSES,):
        raise _BadCache(f"classes is {classes.dtype} {classes.shape}, expected "
                        f"{N_CLASSES} strings")


def read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None: absent, or damaged (then discarded, with a warning)."""
    if not (path.exists() or path.is_symlink()):
        return None
    try:
        if not path.is_file():  # a folder, or a pipe that would block the read
            raise _BadCache("not a regular file")
        # our own file object: np.load leaks the one it opens when the archive is damaged
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # else np.load would try to unpickle it
                raise _BadCache("not an .npz archive")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        _valid_cache(arrays)
        return arrays
    except Exception as err:  # noqa: BLE001 - whatever is wrong with it, it is not trusted
        reason = (str(err).splitlines() or [""])[0]
        if not isinstance(err, _BadCache):
            reason = f"{type(err).__name__}: {reason}" if reason else type(err).__name__
        try:
            path.unlink()
            action = "rebuilding it"
        except OSError as unlink_err:
            action = f"cannot remove it ({unlink_err.strerror}); this job goes without"
        warnings.warn(f"discarded the damaged cache {path} ({reason}); {action}",
                      CacheWarning, stacklevel=2)
        return None


def write_cache(path: Path, arrays: dict[str, np.ndarray], others: str) -> None:
    """Cache the arrays; a folder that cannot take them costs only the warning. The caches
    beside it that match ``others`` (the same dataset and normalization decoded from other
    files: Fashion-MNIST's are 200 MB each) are removed: the data_dir's files are no longer
    those."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as err:
        warnings.warn(f"cannot write the cache {path} ({err.strerror or err}); this job "
                      f"decoded the IDX files without one", CacheWarning, stacklevel=2)
        return
    for old in path.parent.glob(others):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()
