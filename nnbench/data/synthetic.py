"""Gaussian-cluster classification data of any width, from scikit-learn's make_classification.

For scaling studies: the network's width and the sample count are what is being measured, so the
data only has to have the right shape and be learnable. Built in, no download.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from nnbench.config import seed
from nnbench.data import Dataset
from nnbench.errors import ConfigError


@dataclass
class Config:
    name: str = "synthetic"
    n_train: int = 2000
    n_test: int = 500
    n_features: int = 20
    n_classes: int = 2
    random_state: int = 0


def check(cfg: DictConfig) -> None:
    seed("dataset.random_state", cfg.random_state)
    for key in ("n_train", "n_test"):
        if cfg[key] < cfg.n_classes:
            raise ConfigError(f"dataset.{key}={cfg[key]} must be >= dataset.n_classes")
    if cfg.n_features < 1:
        raise ConfigError(f"dataset.n_features={cfg.n_features} must be >= 1")
    if cfg.n_classes < 2:
        raise ConfigError(f"dataset.n_classes={cfg.n_classes} must be >= 2")
    if cfg.n_classes > 2 ** min(cfg.n_features, 16):
        raise ConfigError(
            f"dataset.n_classes={cfg.n_classes} needs more features than "
            f"dataset.n_features={cfg.n_features}"
        )


def shape(cfg: DictConfig) -> tuple[int, int]:
    return cfg.n_features, cfg.n_classes


def sizes(cfg: DictConfig) -> tuple[int, int]:
    return cfg.n_train, cfg.n_test


def preload() -> None:
    """Import what ``load`` needs (scikit-learn), in a process that forks jobs, and call it
    once: scikit-learn's first shuffle looks for dataframe plugins through every installed
    package's entry points (~0.09 s), which each forked job would otherwise do again."""
    from sklearn.datasets import make_classification
    make_classification(n_samples=8, n_features=4, n_informative=2, random_state=0)


def load(cfg: DictConfig) -> Dataset:
    # scikit-learn is imported by the job that loads the data, not by a sweep that checks it
    from sklearn.datasets import make_classification
    informative = min(cfg.n_features, 16)
    x, y = make_classification(
        n_samples=cfg.n_train + cfg.n_test, n_features=cfg.n_features,
        n_informative=informative, n_redundant=0, n_classes=cfg.n_classes,
        n_clusters_per_class=1, random_state=cfg.random_state,
    )
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    return Dataset(
        name="synthetic",
        x_train=x[: cfg.n_train], y_train=y[: cfg.n_train],
        x_test=x[cfg.n_train :], y_test=y[cfg.n_train :],
        classes=tuple(f"class {i}" for i in range(cfg.n_classes)),
    )
