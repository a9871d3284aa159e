"""MNIST-style image datasets (28x28 greyscale, ten classes, IDX files), read through torchvision.

Where the files come from, in order: ``data_dir`` as torchvision lays it out
(``<data_dir>/<Class>/raw/train-images-idx3-ubyte``, ...); torchvision's download; the four IDX
files (gzipped or not) in ``source_dir``, unpacked into that layout. Nothing enters ``data_dir``
until it is whole: downloads land in a temporary folder first, unpacked files are checked while
they are copied and then renamed into place (``nnbench.files``). Preprocessed float32 arrays are
cached per dataset, normalization and the digest of the four IDX files they were decoded from
(``source``: the job identity's data part), so a sweep decodes the files once, and files
changed in place are decoded (and checked) again, never served from the cache of the old ones.
The files are checked on every load, cache or not: a truncated one is refused, naming it.

The cache is a convenience, never a reason to fail (``idx_cache``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from nnbench.config import seed
from nnbench.data import Dataset
from nnbench.data.idx_cache import read_cache, write_cache
from nnbench.data.idx_files import (
    FILES,
    check_set,
    data_dir_of,
    ensure_raw,
    raw_folder,
    tv_class,
)
from nnbench.data.sources import DIGESTS, files
from nnbench.errors import ConfigError, DataError
from nnbench.files import (
    TEMP_PREFIX,
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


def _cache_folder(cfg: DictConfig) -> Path:
    return Path(cfg.data_dir).expanduser() / "nnbench-cache"


def _cache_path(cfg: DictConfig, digest: str) -> Path:
    """The cache of ``cfg``'s arrays decoded from IDX files of source digest ``digest``."""
    key = hashlib.sha1(f"{cfg.name}|{cfg.normalize}|v{CACHE_VERSION}|{digest}".encode()
                       ).hexdigest()[:10]
    return _cache_folder(cfg) / f"{cfg.name}-{cfg.normalize}-{digest}-{key}.npz"


# Files that could not be had, per place and means, in this process: a sweep resolves each of
# its jobs, and a job resolves before it loads; each would try the download again (~7 s offline,
# one try per mirror) before saying the same thing.
_UNAVAILABLE: dict[tuple, str] = {}


def source(cfg: DictConfig, tv_name: str) -> dict[str, Any]:
    """What the dataset is made of (``nnbench.data.source``): the four IDX files with their
    sizes and digests (``sources.files``), had as ``load`` has them and checked first: a
    truncated or malformed file is a ``DataError`` naming it."""
    where = (tv_name, str(cfg.data_dir), str(cfg.source_dir), bool(cfg.download))
    if where in _UNAVAILABLE:
        raise DataError(_UNAVAILABLE[where])
    try:
        raw = ensure_raw(cfg, tv_name)
    except DataError as err:
        _UNAVAILABLE[where] = str(err)
        raise
    check_set(raw)  # a clear error naming the file, before torchvision or a trainer trips over it
    return files([raw / name for name in FILES], _cache_folder(cfg) / DIGESTS)


def source_digest(cfg: DictConfig, tv_name: str) -> str:
    """The digest of ``source``, as a job's identity holds it: what the cache is keyed by."""
    from nnbench.identity import digest

    return digest(source(cfg, tv_name))


def _decode(cfg: DictConfig, tv_name: str) -> dict[str, np.ndarray]:
    raw = raw_folder(data_dir_of(cfg), tv_name)  # had and checked by source_digest
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


# Temporaries that earlier versions made with tempfile.mkstemp (no pid in the name): removed
# once they are STALE_AFTER_S old.
_LEGACY_TEMPORARIES = {"cache": (".cache-",), "raw": tuple(f".{name}-" for name in FILES),
                       "data_dir": (".download-",)}


def _remove_stale_temporaries(cfg: DictConfig, tv_name: str) -> None:
    """What writers killed outright (SIGKILL, power loss) left in this dataset's folders."""
    data_dir = Path(cfg.data_dir).expanduser()
    for folder, legacy in ((data_dir, "data_dir"), (raw_folder(data_dir, tv_name), "raw"),
                           (_cache_folder(cfg), "cache")):
        for prefix in (TEMP_PREFIX, *_LEGACY_TEMPORARIES[legacy]):
            remove_stale_temporaries(folder, prefix)


def _cached_arrays(cfg: DictConfig, tv_name: str) -> dict[str, np.ndarray]:
    data_dir_of(cfg)
    _remove_stale_temporaries(cfg, tv_name)
    path = _cache_path(cfg, source_digest(cfg, tv_name))
    arrays = read_cache(path)
    if arrays is None:
        arrays = _decode(cfg, tv_name)
        write_cache(path, arrays, f"{cfg.name}-{cfg.normalize}-*.npz")
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
