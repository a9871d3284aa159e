"""What a dataset was made from: the digest of its source files or its generator's parameters,
and the decoded cache keyed by it. Each fault is injected into tiny IDX files made here."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from omegaconf import OmegaConf
from test_idx_images import cache_path, mnist_cfg, write_idx_set

from nnbench.data import DataError, checked_config, idx_images, load, source_digest, sources

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
    raw, cfg = raw_set(tmp_path / "a")
    other_raw, other = raw_set(tmp_path / "b")  # the same bytes (the same seed) elsewhere
    digest = source_digest(cfg)
    assert re.fullmatch(r"[0-9a-f]{16}", digest["digest"])
    assert digest == {"digest": source_digest(other)["digest"],
                      "source": f"{raw}: train-images-idx3-ubyte (31376 bytes), "
                                f"train-labels-idx1-ubyte (48 bytes), t10k-images-idx3-ubyte "
                                f"(15696 bytes), t10k-labels-idx1-ubyte (28 bytes)"}
    data = bytearray((other_raw / IMAGES).read_bytes())
    data[100] ^= 1  # one bit of one pixel
    (other_raw / IMAGES).write_bytes(bytes(data))
    assert source_digest(other)["digest"] != digest["digest"]


def test_a_settled_files_digest_is_remembered_and_a_fresh_ones_is_not(tmp_path, monkeypatch):
    raw, cfg = raw_set(tmp_path)
    hashed = []
    real = sources._hash
    monkeypatch.setattr(sources, "_hash", lambda path: hashed.append(path.name) or real(path))
    # the files' change times are now (setting their modification times moved them): settled
    # at once here, where a real dataset's files settle SETTLED_NS after they were written
    monkeypatch.setattr(sources, "SETTLED_NS", 0)
    first = source_digest(cfg)
    assert len(hashed) == 4
    assert source_digest(cfg) == first and len(hashed) == 4  # remembered: no file read again
    monkeypatch.setattr(sources, "SETTLED_NS", 2_000_000_000)
    (raw / LABELS).write_bytes((raw / LABELS).read_bytes())  # rewritten now, the same bytes
    assert source_digest(cfg) == first and hashed[4:] == [LABELS]
    assert source_digest(cfg) == first and hashed[5:] == [LABELS]  # too fresh to remember


def test_a_generated_dataset_is_its_generator_and_parameters():
    moons = checked_config(OmegaConf.create({"name": "moons"}))
    digest = source_digest(moons)
    assert digest["source"] == ("nnbench.data.moons(n_samples=2000, noise=0.2, random_state=42, "
                                "test_size=0.2, split_random_state=42)")
    assert re.fullmatch(r"[0-9a-f]{16}", digest["digest"])
    assert source_digest({"name": "moons"}) == digest  # a plain dict, the defaults filled in
    noisier = source_digest({"name": "moons", "noise": 0.3})["digest"]
    synthetic = source_digest({"name": "synthetic"})
    assert len({digest["digest"], noisier, synthetic["digest"]}) == 3
    assert synthetic["source"].startswith("nnbench.data.synthetic(n_train=2000, ")


def test_a_fallback_that_stands_in_is_the_source_said(tmp_path):
    raw, _ = raw_set(tmp_path)
    cfg = checked_config(OmegaConf.create({
        "name": "fashion_mnist", "data_dir": str(tmp_path / "data"), "download": False,
        "source_dir": None, "fallback": "mnist"}))
    digest = source_digest(cfg)
    assert digest["digest"] == idx_images.source_digest(
        mnist_cfg(tmp_path, source_dir=None), "MNIST")["digest"]
    assert digest["source"].startswith(f"{raw}: train-images-idx3-ubyte (31376 bytes), ")
    assert digest["source"].endswith(" (mnist stands in for fashion_mnist, which could not be "
                                     "had (cannot find fashion_mnist in "
                                     f"{tmp_path / 'data' / 'FashionMNIST' / 'raw'}: download "
                                     "is off (dataset.download=false); no dataset.source_dir "
                                     "is set))")
