"""MNIST-style loading: real IDX files through torchvision, offline fallbacks, cache, failures."""

from __future__ import annotations

import gzip
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from nnbench.data import DataError, checked_config, idx_images, load
from nnbench.data.idx_images import FILES
from nnbench.files import CacheWarning

FASHION_SOURCE = Path("/usr/share/datasets/fashion-mnist")
REQUIRE_DATA = os.environ.get("NNBENCH_REQUIRE_DATA") == "1"


def idx_bytes(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim  # unsigned bytes, then the number of dimensions
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_set(folder: Path, gz: bool, n_train: int = 40, n_test: int = 20, seed: int = 0):
    """Four small IDX files with random images and labels cycling through the ten classes."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if gz:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(idx_bytes(array))
        else:
            (folder / name).write_bytes(idx_bytes(array))
    return arrays


def mnist_cfg(tmp_path: Path, **overrides):
    base = {"name": "mnist", "data_dir": str(tmp_path / "data"), "download": False,
            "source_dir": str(tmp_path / "src")}
    return checked_config(OmegaConf.create({**base, **overrides}))


def cache_path(cfg, tv_name: str = "MNIST") -> Path:
    """Where the cache of ``cfg``'s arrays lies: keyed by the digest of its IDX files."""
    return idx_images._cache_path(cfg, idx_images.source_digest(cfg, tv_name))


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_idx_files_load_with_right_shapes_dtypes_values_and_labels(tmp_path, gz):
    arrays = write_idx_set(tmp_path / "src", gz=gz)
    ds = load(mnist_cfg(tmp_path))
    assert ds.x_train.shape == (40, 784) and ds.x_test.shape == (20, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    expected = arrays["train-images-idx3-ubyte"].reshape(40, 784) / 255.0
    np.testing.assert_allclose(ds.x_train, expected, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.classes[0] == "0 - zero" and len(ds.classes) == 10
    # unpacked into the layout torchvision reads, nothing else left beside the files
    raw = sorted(p.name for p in (tmp_path / "data" / "MNIST" / "raw").iterdir())
    assert raw == sorted(FILES)


def test_normalizations(tmp_path):
    arrays = write_idx_set(tmp_path / "src", gz=True)
    unit = arrays["train-images-idx3-ubyte"].reshape(40, 784) / 255.0
    sym = load(mnist_cfg(tmp_path, normalize="symmetric")).x_train
    np.testing.assert_allclose(sym, unit * 2 - 1, atol=1e-6)
    std = load(mnist_cfg(tmp_path, normalize="standard"))
    assert abs(float(std.x_train.mean())) < 1e-4 and abs(float(std.x_train.std()) - 1) < 1e-3
    # the test split uses the training set's statistics
    test_unit = arrays["t10k-images-idx3-ubyte"].reshape(20, 784) / 255.0
    expected = (test_unit - unit.mean()) / unit.std()
    np.testing.assert_allclose(std.x_test, expected, atol=1e-4)


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_truncated_idx_file_is_named_and_nothing_partial_is_kept(tmp_path, gz):
    write_idx_set(tmp_path / "src", gz=False)
    victim = tmp_path / "src" / "train-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-100])
    if gz:
        for name in FILES:
            path = tmp_path / "src" / name
            with gzip.open(f"{path}.gz", "wb") as f:
                f.write(path.read_bytes())
            path.unlink()
        victim = victim.with_name(victim.name + ".gz")
    with pytest.raises(DataError) as info:
        load(mnist_cfg(tmp_path))
    message = str(info.value)
    assert str(victim) in message and "truncated" in message and "\n" not in message
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert "train-images-idx3-ubyte" not in files_under(raw)
    assert not [f for f in files_under(tmp_path / "data") if ".tmp" in f or "/." in f]


def test_broken_gzip_and_wrong_magic_are_named(tmp_path):
    write_idx_set(tmp_path / "src", gz=True)
    broken = tmp_path / "src" / "t10k-labels-idx1-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:10])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load(mnist_cfg(tmp_path))
    write_idx_set(tmp_path / "src2", gz=False)
    swapped = tmp_path / "src2" / "train-labels-idx1-ubyte"
    swapped.write_bytes((tmp_path / "src2" / "t10k-images-idx3-ubyte").read_bytes())
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.*magic number"):
        load(mnist_cfg(tmp_path, source_dir=str(tmp_path / "src2"), data_dir=str(tmp_path / "d2")))


def test_failed_download_with_no_source_says_what_was_tried(tmp_path, monkeypatch):
    import torchvision.datasets

    # a closed local port: the real torchvision download path, failing at once, offline or not
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    cfg = mnist_cfg(tmp_path, download=True, source_dir=None)
    with pytest.raises(DataError) as info:
        load(cfg)
    message = str(info.value)
    assert "download failed" in message and "dataset.source_dir" in message
    assert "\n" not in message
    assert files_under(tmp_path / "data") == []


def test_failed_download_falls_back_to_source_dir(tmp_path, monkeypatch):
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    write_idx_set(tmp_path / "src", gz=True)
    ds = load(mnist_cfg(tmp_path, download=True))
    assert ds.x_train.shape == (40, 784)


def test_cache_serves_later_loads_and_a_damaged_cache_is_rebuilt(tmp_path):
    write_idx_set(tmp_path / "src", gz=True)
    cfg = mnist_cfg(tmp_path)
    first = load(cfg)
    cache = cache_path(cfg)
    assert cache.is_file()
    for name in FILES:  # had again from source_dir, the same bytes: the cache serves
        (tmp_path / "data" / "MNIST" / "raw" / name).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(load(cfg).x_train, first.x_train)
    assert sorted(cache.parent.glob("*.npz")) == [cache]  # no second cache: it served
    cache.write_bytes(b"not a zip file")
    with pytest.warns(CacheWarning, match=f"discarded the damaged cache {cache}"):
        np.testing.assert_array_equal(load(cfg).x_train, first.x_train)  # rebuilt from source


def test_subsample_is_class_balanced_and_seeded(tmp_path):
    write_idx_set(tmp_path / "src", gz=True, n_train=200, n_test=100)
    a = load(mnist_cfg(tmp_path, n_train=50, n_test=30, subsample_seed=1))
    b = load(mnist_cfg(tmp_path, n_train=50, n_test=30, subsample_seed=1))
    c = load(mnist_cfg(tmp_path, n_train=50, n_test=30, subsample_seed=2))
    assert a.x_train.shape == (50, 784) and a.x_test.shape == (30, 784)
    assert np.bincount(a.y_train, minlength=10).tolist() == [5] * 10
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory):
    if not FASHION_SOURCE.is_dir():
        if REQUIRE_DATA:
            pytest.fail(f"NNBENCH_REQUIRE_DATA=1 but {FASHION_SOURCE} is missing "
                        "(apt-get install dataset-fashion-mnist)")
        pytest.skip(f"{FASHION_SOURCE} absent: install Debian's dataset-fashion-mnist")
    return tmp_path_factory.mktemp("fashion")


def test_real_fashion_mnist_from_the_debian_package(fashion_dir):
    cfg = checked_config(OmegaConf.create(
        {"name": "fashion_mnist", "data_dir": str(fashion_dir), "download": False}))
    ds = load(cfg)
    assert ds.x_train.shape == (60_000, 784) and ds.x_test.shape == (10_000, 784)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert 0.0 == ds.x_train.min() and ds.x_train.max() == 1.0
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_fashion_mnist_784x128x10_reaches_084_test_accuracy(fashion_dir, make_cfg, framework):
    from nnbench import runner

    cfg = make_cfg("dataset=fashion_mnist", f"dataset.data_dir={fashion_dir}",
                   "dataset.download=false", f"framework={framework}",
                   # the final accuracy is the subject: no passes, probes or timed top-up repeats
                   "bench.phases=false", "bench.accuracy_per_epoch=false", "bench.min_samples=0",
                   "bench.memory_probe=false", "bench.mfu=false")
    assert list(cfg.arch.layer_sizes) == [784, 128, 10] and cfg.train.batch_size == 64
    record = runner.run(cfg, fashion_dir / f"run-{framework}")
    assert record["status"] == "ok", record["reason"]
    assert record["n_train"] == 60_000 and record["epochs"] == 10
    assert record["test_accuracy"] >= 0.84


def test_fallback_dataset_stands_in_and_says_so(fashion_dir):
    cfg = checked_config(OmegaConf.create(
        {"name": "mnist", "data_dir": str(fashion_dir), "download": False,
         "fallback": "fashion_mnist", "n_train": 100, "n_test": 50}))
    ds = load(cfg)
    assert ds.name == "fashion_mnist" and ds.x_train.shape == (100, 784)
    assert ds.note.startswith("fashion_mnist stands in for mnist") and "\n" not in ds.note


def test_fallback_must_be_another_mnist_style_dataset(tmp_path):
    from nnbench.config import ConfigError

    with pytest.raises(ConfigError, match="dataset.fallback"):
        mnist_cfg(tmp_path, fallback="moons")
