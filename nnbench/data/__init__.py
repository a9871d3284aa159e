"""Datasets: each module in this package is one dataset with its own config schema.

A dataset module provides ``Config`` (a dataclass: the keys its YAML may set), ``check(cfg)``
(value checks), ``shape(cfg)`` (feature and class counts, known without loading anything, so a
config can be checked before any work) and ``load(cfg) -> Dataset``. Adding a dataset is one
module here, one line in ``_MODULES`` and one YAML in ``conf/dataset/``.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnbench.errors import ConfigError, DataError, value_line

_MODULES = {
    "moons": "nnbench.data.moons",
    "mnist": "nnbench.data.mnist",
    "fashion_mnist": "nnbench.data.fashion_mnist",
    "synthetic": "nnbench.data.synthetic",
}


@dataclass(frozen=True)
class Dataset:
    """Arrays every trainer starts from: features (n, d) floating point, labels (n,) int64.

    Trainers cast the features to the run's precision; the labels are class indices.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    # Set when this is a stand-in: the dataset asked for could not be had.
    note: str | None = None

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])


def _module(name: object) -> ModuleType:
    if name not in _MODULES:
        raise ConfigError(f"dataset.name={name!r} is not known; allowed: {', '.join(_MODULES)}")
    return importlib.import_module(_MODULES[str(name)])


def preload() -> None:
    """Import every dataset module and what its ``load`` needs (a module's optional
    ``preload``), in a process that forks jobs: the jobs then pay no imports for their data."""
    for name in _MODULES:
        module = _module(name)
        if hasattr(module, "preload"):
            module.preload()


def checked_config(cfg: DictConfig) -> DictConfig:
    """Merge a dataset config into its module's schema: unknown keys and bad types fail here."""
    name = cfg.get("name") if isinstance(cfg, DictConfig) else None
    module = _module(name)
    allowed = [f.name for f in dataclasses.fields(module.Config)]
    for key in cfg:
        if key not in allowed:
            raise ConfigError(f"dataset.{key} is not a configuration key; dataset={name} has "
                              f"{', '.join(allowed)}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(module.Config), cfg)
    except OmegaConfBaseException as err:
        key = f"dataset.{err.full_key}" if getattr(err, "full_key", None) else "dataset"
        raise ConfigError(value_line(key, str(err).splitlines()[0])) from None
    module.check(merged)
    return merged  # type: ignore[return-value]


def shape(cfg: DictConfig) -> tuple[int, int]:
    """(n_features, n_classes) of a checked dataset config."""
    return _module(cfg.name).shape(cfg)


def load(cfg: DictConfig) -> Dataset:
    """Load the dataset; if it cannot be had and the config names a ``fallback`` dataset of
    the same shape, load that one instead, saying so in ``Dataset.note``.

    A cache that had to be discarded or could not be written is no error: the data are decoded
    again, and an ``nnbench.files.CacheWarning`` (Python's ``warnings``) names the file."""
    try:
        return _module(cfg.name).load(cfg)
    except DataError as err:
        fallback = cfg.get("fallback")
        if not fallback:
            raise
        fields = {f.name for f in dataclasses.fields(_module(fallback).Config)}
        shared = {k: v for k, v in OmegaConf.to_container(cfg).items()
                  if k in fields and k not in ("name", "source_dir", "fallback")}
        alt = checked_config(OmegaConf.create({**shared, "name": fallback}))
        ds = _module(fallback).load(alt)
        cause = str(err).split(". Fix:")[0]
        return dataclasses.replace(ds, note=f"{fallback} stands in for {cfg.name}, which "
                                            f"could not be had ({cause})")
