"""Two interleaving half-circles, scikit-learn's ``make_moons`` split by ``train_test_split``:
built in, nothing to download.

The two are done here in NumPy, step for step as scikit-learn does them (the same legacy
``RandomState`` draws in the same order), and ``tests/test_moons.py`` holds the arrays equal to
scikit-learn's for several sizes, noises and seeds. The reason is the job's import path:
importing scikit-learn brings SciPy and pandas (~0.6 s a process), which the default job, and
every warm process a sweep starts, would otherwise pay before its first epoch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig

from nnbench.config import seed
from nnbench.data import Dataset
from nnbench.errors import ConfigError


@dataclass
class Config:
    name: str = "moons"
    n_samples: int = 2000
    noise: float = 0.2
    random_state: int = 42
    test_size: float = 0.2
    # The split has its own seed, as in sklearn's examples, so published splits can be matched.
    split_random_state: int = 42


def shape(cfg: DictConfig) -> tuple[int, int]:
    return 2, 2


def sizes(cfg: DictConfig) -> tuple[int, int]:
    """(training, test) samples, as scikit-learn's train_test_split divides them."""
    n_test = math.ceil(cfg.test_size * cfg.n_samples)
    return cfg.n_samples - n_test, n_test


def check(cfg: DictConfig) -> None:
    if cfg.n_samples < 4:
        raise ConfigError(f"dataset.n_samples={cfg.n_samples} must be >= 4")
    if not 0 < cfg.test_size < 1:
        raise ConfigError(f"dataset.test_size={cfg.test_size} must lie strictly between 0 and 1")
    n_train, _ = sizes(cfg)
    if n_train < 1:
        raise ConfigError(f"dataset.test_size={cfg.test_size} leaves no training sample of "
                          f"dataset.n_samples={cfg.n_samples}; a smaller test_size or more samples")
    if cfg.noise < 0:
        raise ConfigError(f"dataset.noise={cfg.noise} must be >= 0")
    seed("dataset.random_state", cfg.random_state)
    seed("dataset.split_random_state", cfg.split_random_state)


def make_moons(n_samples: int, noise: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``make_moons(n_samples, noise=noise, random_state=random_state)``: the
    outer moon's points then the inner's, shuffled, then Gaussian noise added."""
    rng = np.random.RandomState(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    rng.shuffle(order)
    x, y = x[order], y[order]
    x += rng.normal(scale=noise, size=x.shape)
    return x, y


def split(n_samples: int, test_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """The (train, test) indices of scikit-learn's ``train_test_split(..., test_size=test_size,
    random_state=random_state)``: one permutation, its first ceil(test_size * n) for the test."""
    n_test = math.ceil(test_size * n_samples)
    permutation = np.random.RandomState(random_state).permutation(n_samples)
    return permutation[n_test:], permutation[:n_test]


def load(cfg: DictConfig) -> Dataset:
    x, y = make_moons(cfg.n_samples, cfg.noise, cfg.random_state)
    train, test = split(cfg.n_samples, cfg.test_size, cfg.split_random_state)
    return Dataset(
        name="moons",
        x_train=np.ascontiguousarray(x[train], dtype=np.float64),
        y_train=y[train].astype(np.int64),
        x_test=np.ascontiguousarray(x[test], dtype=np.float64),
        y_test=y[test].astype(np.int64),
        classes=("upper moon", "lower moon"),
    )
