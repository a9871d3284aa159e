"""The four IDX files of an MNIST-style dataset, had whole or not at all.

Where they come from, in order: ``data_dir`` as torchvision lays it out
(``<data_dir>/<Class>/raw/train-images-idx3-ubyte``, ...); torchvision's download; the four
files (gzipped or not) in ``source_dir``, checked while they are copied (magic number, and the
bytes the header promises) and renamed into place. The four must then agree with each other
and with an MNIST-style dataset (``check_set``): 28x28 images in both splits, as many labels as
images, labels 0 to 9; files that do not are removed again, so the next run does not trip over
them. Every fault is one ``DataError`` line naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
from omegaconf import DictConfig

from nnbench.errors import DataError
from nnbench.files import atomic_write, temporary_folder

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


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
    has = f"it holds {size} bytes uncompressed" if unpacked else f"the file holds {size} bytes"
    shape = f" of {'x'.join(map(str, dims[1:]))}" if len(dims) > 1 else ""
    return (f"{where} is truncated or corrupted: its header says {dims[0]} items{shape} "
            f"({expected} bytes with the header), {has}")


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


IMAGE_SIZE = (28, 28)  # rows, columns of every MNIST-style image
N_CLASSES = 10


def check_set(folder: Path, shown: dict[str, Path] | None = None) -> None:
    """Check the four IDX files in ``folder`` together: each whole (``check_idx``), images of
    ``IMAGE_SIZE``, as many labels as images, every label a class. ``DataError`` naming the
    file (as ``shown`` names it: the source a file was copied from) on the first fault."""
    shown = shown or {}

    def where(name: str) -> Path:
        return shown.get(name, folder / name)

    dims = {}
    for name in FILES:
        try:
            dims[name] = check_idx(folder / name, magic_number(name))
        except DataError as err:
            raise DataError(str(err).replace(str(folder / name), str(where(name)))) from None
    size = "x".join(map(str, IMAGE_SIZE))
    for images, labels in ((FILES[0], FILES[1]), (FILES[2], FILES[3])):
        (n_images, *pixels), (n_labels,) = dims[images], dims[labels]
        if tuple(pixels) != IMAGE_SIZE:
            raise DataError(f"{where(images)} holds images of {'x'.join(map(str, pixels))} "
                            f"pixels; an MNIST-style dataset's are {size}, in both splits")
        if n_labels != n_images:
            raise DataError(f"{where(labels)} holds {n_labels} labels for the {n_images} images "
                            f"of {where(images)}; each image needs one")
        values = np.fromfile(folder / labels, dtype=np.uint8, offset=8)
        if values.size and int(values.max()) >= N_CLASSES:
            at = int(np.argmax(values >= N_CLASSES))
            raise DataError(f"{where(labels)} has label {int(values[at])} (at index {at}); an "
                            f"MNIST-style dataset's labels are 0 to {N_CLASSES - 1}")


def magic_number(name: str) -> int:
    return 0x00000803 if "images" in name else 0x00000801


def tv_class(name: str) -> type:
    # torchvision is imported only to decode or download: a cached dataset loads without it.
    import torchvision.datasets

    return getattr(torchvision.datasets, name)


def raw_folder(data_dir: Path, tv_name: str) -> Path:
    return data_dir / tv_name / "raw"


def _have_raw(raw: Path) -> bool:
    return all((raw / name).is_file() for name in FILES)


def _download(tv_name: str, data_dir: Path, raw: Path) -> None:
    """torchvision's download into a scratch folder; the files move into data_dir only when all
    four arrived and unpacked."""
    with temporary_folder(data_dir, "download") as scratch:
        tv_class(tv_name)(str(scratch), train=True, download=True)
        fetched = raw_folder(scratch, tv_name)
        check_set(fetched)
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
            atomic_write(target, lambda f, src=src, name=name:
                         _copy_idx(src, f, magic_number(name)))
        except OSError as err:  # writing: reading faults are DataErrors naming the source
            raise DataError(f"dataset.data_dir={data_dir}: cannot write {target} "
                            f"({err.strerror or err})") from None
    try:
        check_set(raw, shown=found)
    except DataError:
        for name in FILES:  # not kept: data_dir would serve them to the next run as they are
            with contextlib.suppress(OSError):
                (raw / name).unlink()
        raise


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
    raw = raw_folder(data_dir, tv_name)
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
