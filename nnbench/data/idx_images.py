"""MNIST-style image datasets (28x28 greyscale, ten classes, IDX files), read through torchvision.

Where the files come from, in order: ``data_dir`` as torchvision lays it out
(``<data_dir>/<Class>/raw/train-images-idx3-ubyte``, ...); torchvision's download; the four IDX
files (gzipped or not) in ``source_dir``, unpacked into that layout. Nothing enters ``data_dir``
until it is whole: downloads land in a temporary folder first, unpacked files are checked while
they are copied and then renamed into place (``nnbench.files``). Preprocessed float32 arrays are
cached per dataset and normalization, so a sweep decodes the IDX files once.

The cache is a convenience, never a reason to fail: one that cannot be read or does not hold
what this module writes is discarded and rebuilt, and one that cannot be written (a read-only
``data_dir``) is done without; each says so in a ``CacheWarning`` naming the file.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from nnbench.config import seed
from nnbench.data import Dataset
from nnbench.data.idx_files import (
    FILES,
    check_set,
    data_dir_of,
    ensure_raw,
    raw_folder,
    tv_class,
)
from nnbench.errors import ConfigError
from nnbench.files import (
    TEMP_PREFIX,
    CacheWarning,
    atomic_write,
    remove_stale_temporaries,
)
from nnbench.schema import not_measured

NORMALIZE = ("unit", "symmetric", "standard")
N_TRAIN, N_TEST, N_FEATURES, N_CLASSES = 60_000, 10_000, 784, 10
CACHE_VERSION = 1  # bump when the preprocessing changes, so stale caches are not trusted


@dataclass
class Config:
    name: str = "mnist"
    # Where the files are found: the identity's data part is their content, not their place.
    data_dir: str = not_measured("data")
    # Folder holding the four IDX files (.gz or not), used when data_dir lacks them and the
    # download fails or is off.
    source_dir: str | None = not_measured(None)
    download: bool = not_measured(True)
    normalize: str = "unit"  # unit: [0, 1]; symmetric: [-1, 1]; standard: zero mean, unit std
    # Class-balanced subsamples, drawn with subsample_seed; null keeps the full split.
    n_train: int | None = None
    n_test: int | None = None
    subsample_seed: int = 0
    # Another MNIST-style dataset to use when this one cannot be had (e.g. offline).
    fallback: str | None = not_measured(None)


def check(cfg: DictConfig) -> None:
    if cfg.fallback not in (None, "mnist", "fashion_mnist") or cfg.fallback == cfg.name:
        raise ConfigError(f"dataset.fallback={cfg.fallback!r} is not another MNIST-style "
                          f"dataset; allowed: mnist, fashion_mnist, or null")
    seed("dataset.subsample_seed", cfg.subsample_seed)
    if cfg.normalize not in NORMALIZE:
        raise ConfigError(
            f"dataset.normalize={cfg.normalize!r} is not known; allowed: {', '.join(NORMALIZE)}"
        )
    for key, full in (("n_train", N_TRAIN), ("n_test", N_TEST)):
        value = cfg[key]
        if value is not None and not N_CLASSES <= value <= full:
            raise ConfigError(
                f"dataset.{key}={value} is out of range; allowed: {N_CLASSES} to {full}, or null"
            )


def shape(cfg: DictConfig) -> tuple[int, int]:
    return N_FEATURES, N_CLASSES


def sizes(cfg: DictConfig) -> tuple[int, int]:
    return cfg.n_train or N_TRAIN, cfg.n_test or N_TEST


def _normalize(images: np.ndarray, how: str, stats: tuple[float, float] | None) -> np.ndarray:
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255)
    if how == "symmetric":
        return x * np.float32(2) - np.float32(1)
    if how == "standard":
        mean, std = stats if stats is not None else (float(x.mean()), float(x.std()))
        return (x - np.float32(mean)) / np.float32(std)
    return x


def _cache_path(cfg: DictConfig) -> Path:
    key = hashlib.sha1(f"{cfg.name}|{cfg.normalize}|v{CACHE_VERSION}".encode()).hexdigest()[:10]
    folder = Path(cfg.data_dir).expanduser() / "nnbench-cache"
    return folder / f"{cfg.name}-{cfg.normalize}-{key}.npz"


def _decode(cfg: DictConfig, tv_name: str) -> dict[str, np.ndarray]:
    raw = ensure_raw(cfg, tv_name)
    check_set(raw)  # a clear error naming the file, before torchvision or a trainer trips over it
    root = str(raw.parent.parent)
    dataset_class = tv_class(tv_name)
    train = dataset_class(root, train=True, download=False)
    test = dataset_class(root, train=False, download=False)
    train_images = train.data.numpy()
    x_train = _normalize(train_images, cfg.normalize, None)
    stats = None
    if cfg.normalize == "standard":
        unit = train_images.astype(np.float32) / np.float32(255)
        stats = (float(unit.mean()), float(unit.std()))
    return {
        "x_train": x_train,
        "y_train": train.targets.numpy().astype(np.int64),
        "x_test": _normalize(test.data.numpy(), cfg.normalize, stats),
        "y_test": test.targets.numpy().astype(np.int64),
        "classes": np.array(dataset_class.classes),
    }


ARRAYS = ("x_train", "y_train", "x_test", "y_test", "classes")


# Temporaries that earlier versions made with tempfile.mkstemp (no pid in the name): removed
# once they are STALE_AFTER_S old.
_LEGACY_TEMPORARIES = {"cache": (".cache-",), "raw": tuple(f".{name}-" for name in FILES),
                       "data_dir": (".download-",)}


def _remove_stale_temporaries(cfg: DictConfig, tv_name: str) -> None:
    """What writers killed outright (SIGKILL, power loss) left in this dataset's folders."""
    data_dir = Path(cfg.data_dir).expanduser()
    for folder, legacy in ((data_dir, "data_dir"), (raw_folder(data_dir, tv_name), "raw"),
                           (_cache_path(cfg).parent, "cache")):
        for prefix in (TEMP_PREFIX, *_LEGACY_TEMPORARIES[legacy]):
            remove_stale_temporaries(folder, prefix)


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


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
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


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Cache the arrays; a folder that cannot take them costs only the warning."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as err:
        warnings.warn(f"cannot write the cache {path} ({err.strerror or err}); this job "
                      f"decoded the IDX files without one", CacheWarning, stacklevel=2)


def _cached_arrays(cfg: DictConfig, tv_name: str) -> dict[str, np.ndarray]:
    data_dir_of(cfg)
    _remove_stale_temporaries(cfg, tv_name)
    path = _cache_path(cfg)
    arrays = _read_cache(path)
    if arrays is None:
        arrays = _decode(cfg, tv_name)
        _write_cache(path, arrays)
    return arrays


def preload() -> None:
    """Import what a subsample needs (scikit-learn's stratified split), in a process that
    forks jobs."""
    import sklearn.model_selection  # noqa: F401


def _subsample(y: np.ndarray, n: int | None, seed: int) -> np.ndarray | None:
    """Indices of a class-balanced subsample (stratified), in their original order."""
    if n is None or n >= y.shape[0]:
        return None
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(y.shape[0]), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def load(cfg: DictConfig, tv_name: str) -> Dataset:
    """The dataset named by ``tv_name`` (a torchvision.datasets class), preprocessed."""
    arrays = _cached_arrays(cfg, tv_name)
    splits = {}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        idx = _subsample(y, n, cfg.subsample_seed)
        splits[split] = (x, y) if idx is None else (x[idx], y[idx])
    return Dataset(
        name=cfg.name,
        x_train=splits["train"][0],
        y_train=splits["train"][1],
        x_test=splits["test"][0],
        y_test=splits["test"][1],
        classes=tuple(str(c) for c in arrays["classes"]),
    )
