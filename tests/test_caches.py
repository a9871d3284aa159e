"""Half-written files in the data layer, each fault injected for real."""

from __future__ import annotations

import gzip
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from test_files import dead_pid, temporary_of
from test_idx_images import FILES, files_under, mnist_cfg, write_idx_set

from nnbench import files
from nnbench.data import DataError, idx_images, load
from nnbench.files import TEMP_PREFIX, CacheWarning

REPO = Path(__file__).resolve().parent.parent


def temporaries(folder: Path) -> list[str]:
    """Every file or folder under ``folder`` that looks like a temporary (a dot name)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- half-written files ----------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["deflate stream", "crc"])
def test_corrupt_gzip_source_is_a_data_error_naming_it_and_leaves_no_temporary(tmp_path, damage):
    write_idx_set(tmp_path / "src", gz=True, n_train=400)
    victim = tmp_path / "src" / "train-images-idx3-ubyte.gz"
    data = bytearray(gzip.compress(gzip.decompress(victim.read_bytes())))  # 10-byte header
    if damage == "deflate stream":  # zlib: "Error -3 while decompressing data"
        data[10:20] = b"\xff" * 10
    else:  # decompresses, to the wrong bytes
        data[len(data) // 2: len(data) // 2 + 64] = bytes(range(64))
    victim.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        load(mnist_cfg(tmp_path))
    message = str(info.value)
    assert str(victim) in message and "\n" not in message
    assert ("corrupt gzip data" if damage == "deflate stream" else "CRC check failed") in message
    assert temporaries(tmp_path / "data") == []
    assert "train-images-idx3-ubyte" not in files_under(tmp_path / "data")


def test_stale_temporaries_are_removed_by_the_next_load(tmp_path):
    write_idx_set(tmp_path / "src", gz=True)
    cfg = mnist_cfg(tmp_path)
    load(cfg)
    cache_dir = idx_images._cache_path(cfg).parent
    raw = tmp_path / "data" / "MNIST" / "raw"
    dead = cache_dir / temporary_of(dead_pid(), "mnist.npz")
    dead_download = tmp_path / "data" / temporary_of(dead_pid(), "download")
    legacy_old = cache_dir / ".cache-k2j3h4.npz"  # tempfile.mkstemp's names, no pid in them
    legacy_new = cache_dir / ".cache-n5m6b7.npz"
    legacy_raw = raw / ".train-images-idx3-ubyte-q8w9e0"
    legacy_download = tmp_path / "data" / ".download-x1y2z3"
    for path in (dead, legacy_old, legacy_new, legacy_raw):
        path.write_bytes(b"half")
    for folder in (dead_download, legacy_download):
        (folder / "MNIST" / "raw").mkdir(parents=True)
    old = time.time() - 2 * files.STALE_AFTER_S
    for path in (legacy_old, legacy_raw, legacy_download):
        os.utime(path, (old, old))
    load(cfg)
    for gone in (dead, dead_download, legacy_old, legacy_raw, legacy_download):
        assert not gone.exists(), gone
    assert legacy_new.exists()  # its writer may still be at work


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from nnbench.files import atomic_write

    def slow(f):
        f.write(b"\\0" * (2 << 20))
        f.flush()
        print("writing", flush=True)
        time.sleep(60)

    atomic_write(sys.argv[1], slow)
""")


def test_writer_killed_mid_cache_write_leaves_a_temporary_the_next_load_removes(tmp_path):
    write_idx_set(tmp_path / "src", gz=True)
    cfg = mnist_cfg(tmp_path)
    cache = idx_images._cache_path(cfg)
    cache.parent.mkdir(parents=True)
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(cache)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    (left,) = cache.parent.iterdir()
    assert left.name.startswith(TEMP_PREFIX) and f".{child.pid}." in left.name
    assert left.stat().st_size == 2 << 20 and not cache.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # a leftover temporary is not a damaged cache
        load(cfg)
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]
    assert temporaries(tmp_path / "data") == []


# --- modes -----------------------------------------------------------------------------------

def test_dataset_files_get_the_umask_default_mode(tmp_path, umask_022):
    write_idx_set(tmp_path / "src", gz=True)
    cfg = mnist_cfg(tmp_path)
    load(cfg)
    made = [idx_images._cache_path(cfg)] + [tmp_path / "data/MNIST/raw" / n for n in FILES]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in made} == {"0o644"}
