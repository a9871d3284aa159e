"""Fashion-MNIST clothing images, through torchvision.datasets.FashionMNIST.

Offline, the IDX files come from Debian's ``dataset-fashion-mnist`` package by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from nnbench.data import Dataset, idx_images
from nnbench.data.idx_images import check, preload, shape, sizes

__all__ = ["Config", "check", "shape", "sizes", "load", "preload", "source"]


@dataclass
class Config(idx_images.Config):
    name: str = "fashion_mnist"
    source_dir: str | None = "/usr/share/datasets/fashion-mnist"


def load(cfg: DictConfig) -> Dataset:
    return idx_images.load(cfg, "FashionMNIST")


def source(cfg: DictConfig) -> dict:
    return idx_images.source(cfg, "FashionMNIST")
