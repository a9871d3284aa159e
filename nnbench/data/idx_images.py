"""MNIST-style image datasets (28x28 greyscale, ten classes, IDX files), read through torchvision.

Where the files come from, in order: ``data_dir`` as torchvision lays it out
(``<data_dir>/<Class>/raw/train-images-idx3-ubyte``, ...); torchvision's download; the four IDX
files (gzipped or not) in ``source_dir``, unpacked into that layout. Nothing enters ``data_dir``
until it is whole: downloads land in a temporary folder first, unpacked files are checked and
then renamed into place. Preprocessed float32 arrays are cached per dataset and normalization,
so a sweep decodes the IDX files once.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from nnbench.data import DataError, Dataset
from nnbench.errors import ConfigError

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NORMALIZE = ("unit", "symmetric", "standard")
N_TRAIN, N_TEST, N_FEATURES, N_CLASSES = 60_000, 10_000, 784, 10
CACHE_VERSION = 1  # bump when the preprocessing changes, so stale caches are not trusted


@dataclass
class Config:
    name: str = "mnist"
    data_dir: str = "data"
    # Folder holding the four IDX files (.gz or not), used when data_dir lacks them and the
    # download fails or is off.
    source_dir: str | None = None
    download: bool = True
    normalize: str = "unit"  # unit: [0, 1]; symmetric: [-1, 1]; standard: zero mean, unit std
    # Class-balanced subsamples, drawn with subsample_seed; null keeps the full split.
    n_train: int | None = None
    n_test: int | None = None
    subsample_seed: int = 0
    # Another MNIST-style dataset to use when this one cannot be had (e.g. offline).
    fallback: str | None = None


def check(cfg: DictConfig) -> None:
    if cfg.fallback not in (None, "mnist", "fashion_mnist") or cfg.fallback == cfg.name:
        raise ConfigError(f"dataset.fallback={cfg.fallback!r} is not another MNIST-style "
                          f"dataset; allowed: mnist, fashion_mnist, or null")
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


def check_idx(path: Path, expected_magic: int) -> tuple[int, ...]:
    """Read an IDX header and make sure the file holds exactly the bytes the header promises."""
    try:
        with open(path, "rb") as f:
            header = f.read(4)
            if len(header) < 4:
                raise DataError(f"{path} is empty or truncated: no IDX header")
            magic = struct.unpack(">I", header)[0]
            if magic != expected_magic:
                raise DataError(
                    f"{path} is not the expected IDX file: magic number 0x{magic:08x}, "
                    f"expected 0x{expected_magic:08x}"
                )
            ndim = magic & 0xFF
            dims_raw = f.read(4 * ndim)
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{path} is truncated inside its IDX header")
    dims = struct.unpack(f">{ndim}I", dims_raw)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    size = path.stat().st_size
    if size != expected:
        shape_text = "x".join(map(str, dims))
        raise DataError(
            f"{path} is truncated or corrupted: its header promises {shape_text} "
            f"({expected} bytes), the file has {size} bytes"
        )
    return dims


def _magic(name: str) -> int:
    return 0x00000803 if "images" in name else 0x00000801


def _tv_class(name: str) -> type:
    # torchvision is imported only to decode or download: a cached dataset loads without it.
    import torchvision.datasets

    return getattr(torchvision.datasets, name)


def _raw_folder(data_dir: Path, tv_name: str) -> Path:
    return data_dir / tv_name / "raw"


def _have_raw(raw: Path) -> bool:
    return all((raw / name).is_file() for name in FILES)


def _download(tv_name: str, data_dir: Path, raw: Path) -> None:
    """torchvision's download into a scratch folder; the files move into data_dir only when all
    four arrived and unpacked."""
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=data_dir))
    try:
        _tv_class(tv_name)(str(scratch), train=True, download=True)
        fetched = _raw_folder(scratch, tv_name)
        for name in FILES:
            check_idx(fetched / name, _magic(name))
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            os.replace(fetched / name, raw / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unpack_from_source(source: Path, raw: Path) -> None:
    """Copy (and gunzip) the four IDX files from source into raw, each checked before renaming.

    Debian's dataset-fashion-mnist recompressed the .gz files, so their md5 differs from the
    one torchvision knows; unpacking them ourselves avoids that check while keeping the layout.
    """
    found = {}
    for name in FILES:
        for candidate in (source / name, source / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    missing = [name for name in FILES if name not in found]
    if missing:
        raise DataError(f"source_dir {source} lacks {', '.join(missing)} (.gz or not)")
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in found.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=raw)
        try:
            opener = gzip.open if src.suffix == ".gz" else open
            with opener(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
                shutil.copyfileobj(fin, fout, length=1 << 20)
            check_idx(Path(tmp), _magic(name))
            os.replace(tmp, raw / name)
        except (OSError, EOFError, gzip.BadGzipFile, DataError) as err:
            Path(tmp).unlink(missing_ok=True)
            detail = str(err).replace(tmp, "unpacked copy")
            raise DataError(f"cannot use {src}: {detail}") from None


def _download_error(err: Exception) -> str:
    """The cause of a failed torchvision download, in a few words (it reports one per mirror)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    causes = [nxt for ln, nxt in zip(lines, lines[1:], strict=False) if ln.endswith("got:")]
    return (causes or lines or [type(err).__name__])[0]


def ensure_raw(cfg: DictConfig, tv_name: str) -> Path:
    """The raw folder torchvision reads, filled from data_dir, the network or source_dir."""
    data_dir = Path(cfg.data_dir).expanduser()
    raw = _raw_folder(data_dir, tv_name)
    if _have_raw(raw):
        return raw
    tried = []
    if cfg.download:
        try:
            _download(tv_name, data_dir, raw)
            return raw
        except Exception as err:  # noqa: BLE001 - any download failure falls through to source_dir
            tried.append(f"download failed ({_download_error(err)})")
    else:
        tried.append("download is off (dataset.download=false)")
    if cfg.source_dir:
        source = Path(cfg.source_dir).expanduser()
        if source.is_dir():
            _unpack_from_source(source, raw)
            return raw
        tried.append(f"source_dir {source} does not exist")
    else:
        tried.append("no dataset.source_dir is set")
    raise DataError(
        f"cannot find {cfg.name} in {raw}: {'; '.join(tried)}. Fix: put the four IDX files "
        f"({', '.join(FILES)}, .gz or not) in a folder and pass dataset.source_dir=FOLDER, "
        f"or run once with network access"
    )


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
    for name in FILES:  # a clear error naming the file, before torchvision trips over it
        check_idx(raw / name, _magic(name))
    root = str(raw.parent.parent)
    tv_class = _tv_class(tv_name)
    train = tv_class(root, train=True, download=False)
    test = tv_class(root, train=False, download=False)
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
        "classes": np.array(tv_class.classes),
    }


ARRAYS = ("x_train", "y_train", "x_test", "y_test", "classes")


def _cached_arrays(cfg: DictConfig, tv_name: str) -> dict[str, np.ndarray]:
    path = _cache_path(cfg)
    if path.is_file():
        try:
            with np.load(path) as npz:
                return {k: npz[k] for k in ARRAYS}
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    arrays = _decode(cfg, tv_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cache-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return arrays


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
