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

import gzip
import hashlib
import os
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from omegaconf import DictConfig

from nnbench.config import ConfigError
from nnbench.data import DataError, Dataset
from nnbench.files import (
    TEMP_PREFIX,
    CacheWarning,
    atomic_write,
    remove_stale_temporaries,
    temporary_folder,
)

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


def _read_header(read: Callable[[int], bytes], where: str,
                 expected_magic: int) -> tuple[bytes, tuple[int, ...]]:
    """An IDX header's bytes and dimensions, from ``read``; ``where`` names the file."""
    header = read(4)
    if len(header) < 4:
        raise DataError(f"{where} is empty or truncated: no IDX header")
    magic = struct.unpack(">I", header)[0]
    if magic != expected_magic:
        raise DataError(
            f"{where} is not the expected IDX file: magic number 0x{magic:08x}, "
            f"expected 0x{expected_magic:08x}"
        )
    ndim = magic & 0xFF
    dims_raw = read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(f"{where} is truncated inside its IDX header")
    return header + dims_raw, struct.unpack(f">{ndim}I", dims_raw)


def _size_error(where: str, dims: tuple[int, ...], size: int, unpacked: bool = False) -> str:
    expected = 4 + 4 * len(dims) + int(np.prod(dims))
    has = f"it holds {size} bytes uncompressed" if unpacked else f"the file has {size} bytes"
    return (f"{where} is truncated or corrupted: its header promises {'x'.join(map(str, dims))} "
            f"({expected} bytes), {has}")


def check_idx(path: Path, expected_magic: int) -> tuple[int, ...]:
    """Read an IDX header and make sure the file holds exactly the bytes the header promises."""
    try:
        with open(path, "rb") as f:
            header, dims = _read_header(f.read, str(path), expected_magic)
        size = path.stat().st_size
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    if size != len(header) + int(np.prod(dims)):
        raise DataError(_size_error(str(path), dims, size))
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
    with temporary_folder(data_dir, "download") as scratch:
        _tv_class(tv_name)(str(scratch), train=True, download=True)
        fetched = _raw_folder(scratch, tv_name)
        for name in FILES:
            check_idx(fetched / name, _magic(name))
        raw.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            os.replace(fetched / name, raw / name)


def _copy_idx(src: Path, fout: IO[bytes], expected_magic: int) -> None:
    """Copy (gunzipping a .gz) one IDX file into ``fout``, checking it on the way: the magic
    number, and exactly the bytes its header promises. Any fault reading it is a DataError
    naming ``src``."""
    gz = src.suffix == ".gz"

    def fail(problem: str) -> DataError:
        return DataError(f"cannot use {src}: {problem}")

    def read(n: int) -> bytes:
        try:
            return fin.read(n)
        except gzip.BadGzipFile as err:
            raise fail(f"not a valid gzip file ({err})") from None
        except EOFError:
            raise fail("truncated gzip data (it ends before its end-of-stream marker)") from None
        except zlib.error as err:
            raise fail(f"corrupt gzip data ({err})") from None
        except OSError as err:
            raise fail(err.strerror or str(err)) from None

    try:
        fin = gzip.open(src, "rb") if gz else open(src, "rb")
    except OSError as err:
        raise fail(err.strerror or str(err)) from None
    with fin:
        header, dims = _read_header(read, str(src), expected_magic)
        fout.write(header)
        body = 0
        while chunk := read(1 << 20):
            body += len(chunk)
            fout.write(chunk)
    if body != int(np.prod(dims)):
        raise DataError(_size_error(str(src), dims, len(header) + body, unpacked=gz))


def _unpack_from_source(source: Path, raw: Path, data_dir: Path) -> None:
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
    for name, src in found.items():
        target = raw / name
        try:
            raw.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda f, src=src, name=name: _copy_idx(src, f, _magic(name)))
        except OSError as err:  # writing: reading faults are DataErrors naming the source
            raise DataError(f"dataset.data_dir={data_dir}: cannot write {target} "
                            f"({err.strerror or err})") from None


def _download_error(err: Exception) -> str:
    """The cause of a failed torchvision download, in a few words (it reports one per mirror)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    causes = [nxt for ln, nxt in zip(lines, lines[1:], strict=False) if ln.endswith("got:")]
    return (causes or lines or [type(err).__name__])[0]


def data_dir_of(cfg: DictConfig) -> Path:
    """``dataset.data_dir``, which must be a folder if it exists (it is created when needed)."""
    data_dir = Path(cfg.data_dir).expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"dataset.data_dir={data_dir} is not a folder (a file of that name "
                        f"exists); pass a folder, which is created if it does not exist")
    return data_dir


def _check_writable(cfg: DictConfig, data_dir: Path, raw: Path) -> None:
    """Fail early and plainly when data_dir lacks the files and cannot take them either."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"dataset.data_dir={data_dir} cannot be created "
                        f"({err.strerror or err}) and {cfg.name} is not there") from None
    try:
        with tempfile.TemporaryFile(dir=data_dir):  # unnamed where the system allows
            pass
    except OSError as err:
        raise DataError(f"dataset.data_dir={data_dir} is not writable ({err.strerror or err}) "
                        f"and does not hold {cfg.name} ({raw} lacks its IDX files)") from None


def ensure_raw(cfg: DictConfig, tv_name: str) -> Path:
    """The raw folder torchvision reads, filled from data_dir, the network or source_dir."""
    data_dir = data_dir_of(cfg)
    raw = _raw_folder(data_dir, tv_name)
    if _have_raw(raw):
        return raw
    if cfg.download or cfg.source_dir:
        _check_writable(cfg, data_dir, raw)
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
            _unpack_from_source(source, raw, data_dir)
            return raw
        tried.append(f"source_dir {source} " +
                     ("is not a folder" if source.exists() else "does not exist"))
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


# Temporaries that earlier versions made with tempfile.mkstemp (no pid in the name): removed
# once they are STALE_AFTER_S old.
_LEGACY_TEMPORARIES = {"cache": (".cache-",), "raw": tuple(f".{name}-" for name in FILES),
                       "data_dir": (".download-",)}


def _remove_stale_temporaries(cfg: DictConfig, tv_name: str) -> None:
    """What writers killed outright (SIGKILL, power loss) left in this dataset's folders."""
    data_dir = Path(cfg.data_dir).expanduser()
    for folder, legacy in ((data_dir, "data_dir"), (_raw_folder(data_dir, tv_name), "raw"),
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
