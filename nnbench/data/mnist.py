"""MNIST handwritten digits, through torchvision.datasets.MNIST."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from nnbench.data import Dataset, idx_images
from nnbench.data.idx_images import check, preload, shape, sizes

__all__ = ["Config", "check", "shape", "sizes", "load", "preload", "source"]


@dataclass
class Config(idx_images.Config):
    name: str = "mnist"


def load(cfg: DictConfig) -> Dataset:
    return idx_images.load(cfg, "MNIST")


def source(cfg: DictConfig) -> dict:
    return idx_images.source(cfg, "MNIST")
