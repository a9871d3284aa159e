"""What a dataset is made of (the data part of a job's identity): the digests of its files,
and the decoded cache keyed by them. Each fault is injected into tiny IDX files made here."""

from __future__ import annotations

import hashlib
import os
import re
import time

import numpy as np
import pytest
from omegaconf import OmegaConf
from test_idx_images import cache_path, mnist_cfg, write_idx_set

from nnbench.data import DataError, checked_config, idx_images, load, source, sources

LABELS = "train-labels-idx1-ubyte"
IMAGES = "train-images-idx3-ubyte"
OLD = time.time() - 3600  # files an hour old: settled, so their digests are remembered


def raw_set(tmp_path):
    """Four IDX files in data_dir's raw folder, an hour old, and their config."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_idx_set(raw, gz=False)
    for path in raw.iterdir():
        os.utime(path, (OLD, OLD))
    return raw, mnist_cfg(tmp_path, source_dir=None)


def test_labels_permuted_in_place_are_read_again_not_served_from_the_cache(tmp_path):
    raw, cfg = raw_set(tmp_path)
    first = load(cfg)
    assert cache_path(cfg).is_file()
    data = bytearray((raw / LABELS).read_bytes())
    permuted = np.random.default_rng(1).permutation(np.frombuffer(data[8:], np.uint8))
    (raw / LABELS).write_bytes(bytes(data[:8]) + permuted.tobytes())
    os.utime(raw / LABELS, (OLD, OLD))  # even with its old times back: its change time moved
    again = load(cfg)
    np.testing.assert_array_equal(again.y_train, permuted)
    assert not np.array_equal(again.y_train, first.y_train)
    np.testing.assert_array_equal(again.x_train, first.x_train)


def test_an_image_file_truncated_to_1000_bytes_is_refused_naming_it(tmp_path):
    raw, cfg = raw_set(tmp_path)
    load(cfg)  # a cache of the whole files now exists
    with open(raw / IMAGES, "r+b") as f:
        f.truncate(1000)
    with pytest.raises(DataError) as caught:
        load(cfg)
    assert str(caught.value) == (
        f"{raw / IMAGES} is truncated or corrupted: its header says 40 items of 28x28 "
        f"(31376 bytes with the header), the file holds 1000 bytes")


def test_an_idx_digest_is_of_the_files_bytes_wherever_they_lie(tmp_path):
    _, cfg = raw_set(tmp_path / "a")
    other_raw, other = raw_set(tmp_path / "b")  # the same bytes (the same seed) elsewhere
    digest = source(cfg)
    assert re.fullmatch(r"[0-9a-f]{16}", digest["digest"])
    assert digest == source(other)
    assert {name: f["bytes"] for name, f in digest["source"]["files"].items()} == {
        "train-images-idx3-ubyte": 31376, "train-labels-idx1-ubyte": 48,
        "t10k-images-idx3-ubyte": 15696, "t10k-labels-idx1-ubyte": 28}
    assert digest["source"]["files"][LABELS]["sha256"] == hashlib.sha256(
        (other_raw / LABELS).read_bytes()).hexdigest()
    data = bytearray((other_raw / IMAGES).read_bytes())
    data[100] ^= 1  # one bit of one pixel
    (other_raw / IMAGES).write_bytes(bytes(data))
    assert source(other)["digest"] != digest["digest"]
    assert idx_images.source_digest(other, "MNIST") == source(other)["digest"]  # the cache's


def test_a_settled_files_digest_is_remembered_and_a_fresh_ones_is_not(tmp_path, monkeypatch):
    raw, cfg = raw_set(tmp_path)
    hashed = []
    real = sources._hash
    monkeypatch.setattr(sources, "_hash", lambda path: hashed.append(path.name) or real(path))
    # the files' change times are now (setting their modification times moved them): settled
    # at once here, where a real dataset's files settle SETTLED_NS after they were written
    monkeypatch.setattr(sources, "SETTLED_NS", 0)
    first = source(cfg)
    assert len(hashed) == 4
    assert source(cfg) == first and len(hashed) == 4  # remembered: no file read again
    monkeypatch.setattr(sources, "SETTLED_NS", 2_000_000_000)
    (raw / LABELS).write_bytes((raw / LABELS).read_bytes())  # rewritten now, the same bytes
    assert source(cfg) == first and hashed[4:] == [LABELS]
    assert source(cfg) == first and hashed[5:] == [LABELS]  # too fresh to remember


def test_files_that_cannot_be_had_are_said_unavailable_or_the_fallback_stands_in(tmp_path):
    raw, _ = raw_set(tmp_path)
    base = {"name": "fashion_mnist", "data_dir": str(tmp_path / "data"), "download": False,
            "source_dir": None}
    missing = source(checked_config(OmegaConf.create(base)))
    why = (f"cannot find fashion_mnist in {tmp_path / 'data' / 'FashionMNIST' / 'raw'}: "
           f"download is off (dataset.download=false); no dataset.source_dir is set")
    assert missing["source"] == {"unavailable": f"{why}. Fix: put the four IDX files "
                                 f"(train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                                 f"t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, .gz or not) in "
                                 f"a folder and pass dataset.source_dir=FOLDER, or run once with "
                                 f"network access"}
    stand_in = source(checked_config(OmegaConf.create({**base, "fallback": "mnist"})))
    mnist = source(mnist_cfg(tmp_path, source_dir=None))
    assert stand_in["digest"] == mnist["digest"]  # the same bytes: the same data
    assert stand_in["source"] == {**mnist["source"], "stands_in_for": (
        f"mnist stands in for fashion_mnist, which could not be had ({why})")}


def test_a_download_that_failed_is_not_tried_again_by_the_same_process(tmp_path, monkeypatch):
    from nnbench.data import idx_files

    tried = []

    def offline(tv_name, data_dir, raw):
        tried.append(tv_name)
        raise OSError("Name or service not known")

    monkeypatch.setattr(idx_files, "_download", offline)
    cfg = mnist_cfg(tmp_path, download=True, source_dir=None)
    first = source(cfg)["source"]["unavailable"]
    assert first.startswith("cannot find mnist in ") and len(tried) == 1
    with pytest.raises(DataError) as caught:
        load(cfg)  # the job's load after its resolve: the same line, no second try
    assert str(caught.value) == first and len(tried) == 1


def test_a_cache_of_files_no_longer_there_is_removed_when_the_new_one_is_written(tmp_path):
    raw, cfg = raw_set(tmp_path)
    load(cfg)
    old = cache_path(cfg)
    (raw / LABELS).write_bytes((raw / LABELS).read_bytes()[:8] + bytes(range(10))[::-1] * 4)
    load(cfg)
    assert sorted(old.parent.glob("*.npz")) == [cache_path(cfg)] and not old.exists()
