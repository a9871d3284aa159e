"""Damaged caches, half-written files and unusable folders, each fault injected for real."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO
from test_files import dead_pid, temporary_of
from test_idx_images import FILES, cache_path, files_under, mnist_cfg, write_idx_set

from nnbench import files
from nnbench.data import DataError, idx_cache, load
from nnbench.files import TEMP_PREFIX, CacheWarning, cache_warnings
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.measure import peak


def temporaries(folder: Path) -> list[str]:
    """Every file or folder under ``folder`` that looks like a temporary (a dot name)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- the dataset cache -----------------------------------------------------------------------

def test_truncated_cache_is_rebuilt_and_the_warning_names_it(tmp_path):
    write_idx_set(tmp_path / "src", gz=True)
    cfg = mnist_cfg(tmp_path)
    first = load(cfg)
    cache = cache_path(cfg)
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    with pytest.warns(CacheWarning) as caught:
        again = load(cfg)
    (message,) = [str(w.message) for w in caught]
    assert str(cache) in message and "damaged cache" in message and "\n" not in message
    np.testing.assert_array_equal(again.x_train, first.x_train)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # rebuilt whole: trusted from now on
        np.testing.assert_array_equal(load(cfg).y_test, first.y_test)


def _good_arrays(cfg) -> dict:
    with np.load(cache_path(cfg)) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.parametrize("damage", [
    "x_train float64", "x_train 783 columns", "y_test int32", "y_train too short",
    "label 10", "classes missing", "extra array", "nan feature", "object classes", "empty file",
    "a pipe",
])
def test_cache_with_wrong_arrays_is_discarded_and_rebuilt(tmp_path, damage):
    write_idx_set(tmp_path / "src", gz=False)
    cfg = mnist_cfg(tmp_path)
    first = load(cfg)
    arrays = _good_arrays(cfg)
    if damage == "x_train float64":
        arrays["x_train"] = arrays["x_train"].astype(np.float64)
    elif damage == "x_train 783 columns":
        arrays["x_train"] = arrays["x_train"][:, :783]
    elif damage == "y_test int32":
        arrays["y_test"] = arrays["y_test"].astype(np.int32)
    elif damage == "y_train too short":
        arrays["y_train"] = arrays["y_train"][:-1]
    elif damage == "label 10":
        arrays["y_train"][0] = 10
    elif damage == "classes missing":
        del arrays["classes"]
    elif damage == "extra array":
        arrays["extra"] = np.zeros(3)
    elif damage == "nan feature":
        arrays["x_test"][0, 0] = np.nan
    elif damage == "object classes":
        arrays["classes"] = np.array(list(arrays["classes"]), dtype=object)
    cache = cache_path(cfg)
    if damage == "empty file":
        cache.write_bytes(b"")
    elif damage == "a pipe":  # reading it would block forever
        cache.unlink()
        os.mkfifo(cache)
    else:
        np.savez(cache, **arrays)
    with pytest.warns(CacheWarning, match=re.escape(str(cache))):
        ds = load(cfg)
    np.testing.assert_array_equal(ds.x_train, first.x_train)
    np.testing.assert_array_equal(ds.y_train, first.y_train)
    assert set(_good_arrays(cfg)) == set(idx_cache.ARRAYS)  # rewritten


# --- the matmul-peak cache -------------------------------------------------------------------

@pytest.fixture
def cheap_peak(tmp_path, monkeypatch):
    """A private peak cache and a calibration of a few milliseconds."""
    monkeypatch.setenv("NNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(peak, "SIZES", {"cpu": 64, "cuda": 64})
    monkeypatch.setattr(peak, "ROUNDS", 2)
    return peak.cache_file()


BAD_PEAK_FILES = {
    "a list": "[]",
    "a number": "3.5",
    "entry a string": '{"K": "fast"}',
    "entry a list": '{"K": [1, 2]}',
    "no gflops": '{"K": {"n": 64}}',
    "gflops a string": '{"K": {"gflops": "12.5"}}',
    "gflops negative": '{"K": {"gflops": -4.0}}',
    "gflops zero": '{"K": {"gflops": 0}}',
    "gflops NaN": '{"K": {"gflops": NaN}}',
    "gflops true": '{"K": {"gflops": true}}',
    "truncated": '{"K": {"gflo',
    "binary": "\udcff\udcfe",
    "a pipe": None,
}


@pytest.mark.parametrize("content", BAD_PEAK_FILES.values(), ids=BAD_PEAK_FILES.keys())
def test_peak_cache_of_the_wrong_shape_is_discarded_and_recalibrated(cheap_peak, content):
    key = peak._key(peak.identity(NumpyTrainer, "float32", "cpu", 1, False))
    cheap_peak.parent.mkdir(parents=True)
    if content is None:  # reading it would block forever
        os.mkfifo(cheap_peak)
    else:
        cheap_peak.write_bytes(content.replace("K", key).encode("utf-8", "surrogateescape"))
    with pytest.warns(CacheWarning, match=re.escape(str(cheap_peak))):
        measured = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
    assert measured["gflops"] > 0 and measured["n"] == 64
    stored = json.loads(cheap_peak.read_text())
    assert stored == {key: measured}
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        again = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
        assert again == measured  # cached now


def test_one_bad_peak_entry_is_dropped_and_the_others_kept(cheap_peak):
    cheap_peak.parent.mkdir(parents=True)
    other = {"gflops": 123.0, "n": 3072, "threads": 4}
    cheap_peak.write_text(json.dumps({"other-host|x": other, "broken": {"gflops": "x"}}))
    with pytest.warns(CacheWarning, match="'broken'"):
        measured = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
    stored = json.loads(cheap_peak.read_text())
    assert stored["other-host|x"] == other and "broken" not in stored
    assert measured in stored.values()


def test_peak_cache_that_cannot_be_written_still_gives_the_peak(cheap_peak):
    cheap_peak.parent.write_text("a file where the cache folder should be")
    with cache_warnings() as found:
        measured = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
    assert measured["gflops"] > 0
    assert [m.split(" (")[0] for m in found] == [
        f"discarded the matmul-peak cache {cheap_peak}",
        f"cannot write the matmul-peak cache {cheap_peak}"]


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
    cache_dir = cache_path(cfg).parent
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
    cache = cache_path(cfg)
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
    made = [cache_path(cfg)] + [tmp_path / "data/MNIST/raw" / n for n in FILES]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in made} == {"0o644"}


# --- unusable data_dir -----------------------------------------------------------------------

READ_ONLY_LOAD = textwrap.dedent("""
    import json, sys, warnings
    from omegaconf import OmegaConf
    from nnbench.data import DataError, checked_config, load

    cfg = checked_config(OmegaConf.create(json.loads(sys.argv[1])))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = load(cfg)
            out = {"n_train": int(ds.x_train.shape[0])}
        except DataError as err:
            out = {"error": str(err)}
    out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
    print(json.dumps(out))
""")


def load_read_only(data_dir: Path, **cfg) -> dict:
    """Load, in a child process, with ``data_dir`` (and everything in it) read-only to it: its
    folders lose write permission, and root's child drops the capabilities that override
    permission bits (as a root-squashed NFS client or a plain user would have it)."""
    for sub in [data_dir, *data_dir.rglob("*")]:
        if sub.is_dir():
            sub.chmod(0o555)
    base = {"name": "mnist", "data_dir": str(data_dir), "download": False}
    command = [sys.executable, "-c", READ_ONLY_LOAD, json.dumps({**base, **cfg})]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        for sub in [data_dir, *data_dir.rglob("*")]:
            if sub.is_dir():
                sub.chmod(0o755)  # so that pytest can clean up
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_read_only_data_dir_with_the_files_runs_without_a_cache_and_warns(tmp_path):
    write_idx_set(tmp_path / "data" / "MNIST" / "raw", gz=False)
    out = load_read_only(tmp_path / "data")
    assert out.get("n_train") == 40, out
    cache = tmp_path / "data" / "nnbench-cache"
    (warning,) = out["warnings"]
    assert warning.startswith("CacheWarning: cannot write the cache") and str(cache) in warning
    assert not cache.exists() and temporaries(tmp_path / "data") == []


def test_read_only_data_dir_without_the_files_is_one_line_naming_it(tmp_path):
    write_idx_set(tmp_path / "src", gz=True)
    (tmp_path / "data").mkdir()
    out = load_read_only(tmp_path / "data", source_dir=str(tmp_path / "src"))
    error = out["error"]
    assert error.startswith(f"dataset.data_dir={tmp_path / 'data'} is not writable"), error
    assert "\n" not in error and out["warnings"] == []


@pytest.mark.parametrize("where", ["a file", "under /proc", "/proc itself"])
def test_unusable_data_dir_is_one_line_naming_the_key_and_path(tmp_path, where):
    write_idx_set(tmp_path / "src", gz=True)
    data_dir = {"a file": tmp_path / "data.txt", "under /proc": Path("/proc/nnbench-data"),
                "/proc itself": Path("/proc")}[where]
    if where == "a file":
        data_dir.write_text("not a folder")
    with pytest.raises(DataError) as info:
        load(mnist_cfg(tmp_path, data_dir=str(data_dir)))
    message = str(info.value)
    assert message.startswith(f"dataset.data_dir={data_dir} ") and "\n" not in message
    expected = {"a file": "is not a folder", "under /proc": "cannot be created",
                "/proc itself": "is not writable"}[where]
    assert expected in message
