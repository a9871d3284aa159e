"""Datasets: each module in this package is one dataset with its own config schema.

A dataset module provides ``Config`` (a dataclass: the keys its YAML may set), ``check(cfg)``
(value checks), ``shape(cfg)`` (feature and class counts, known without loading anything, so a
config can be checked before any work), optionally ``sizes(cfg)`` (training and test samples,
so that a job which cannot fit in memory is refused before it starts) and
``load(cfg) -> Dataset``, and optionally ``source(cfg)`` (what the data is made of, for a
dataset read from files: see ``source`` here; without it, the module and its config's values
describe it). Adding a dataset
is one module (here, or anywhere importable) and one YAML in ``conf/dataset/`` whose
``_target_`` names the module, as a framework's YAML names its trainer. A YAML without
``_target_`` means the module of this package with the dataset's name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from nnbench.errors import ConfigError, DataError, value_line


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


def builtin() -> list[str]:
    """The datasets of this package, by name (each module here but the shared loaders and
    the source digests)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("idx_") and m.name != "sources")


def module_of(cfg: DictConfig | dict) -> ModuleType:
    """The module a dataset config names in ``_target_`` (default: nnbench.data.<name>)."""
    name = cfg.get("name")
    target = cfg.get("_target_") or (f"{__name__}.{name}" if name in builtin() else None)
    if target is None:
        raise ConfigError(f"dataset.name={name!r} is not known; allowed: {', '.join(builtin())}"
                          f" (or a dataset YAML whose _target_ names its module)")
    try:
        module = importlib.import_module(str(target))
    except ImportError as err:
        raise ConfigError(f"dataset._target_={target!r} cannot be imported: {err}") from None
    if not all(hasattr(module, a) for a in ("Config", "check", "shape", "load")):
        raise ConfigError(f"dataset._target_={target!r} is not a dataset module (one with "
                          f"Config, check, shape and load)")
    declared = next(f.default for f in dataclasses.fields(module.Config) if f.name == "name")
    if name != declared:
        raise ConfigError(f"dataset.name={name!r} is not the name of its module {target} "
                          f"({declared!r}); choose a dataset with dataset=NAME")
    return module


def preload(cfg: DictConfig | dict) -> None:
    """Import what loading this dataset needs (its module's optional ``preload``), in a process
    that forks jobs: its jobs then pay no imports for their data. Called on a dataset's first
    job, not for every dataset at once: scikit-learn alone costs ~0.6 s, and a sweep of
    two-moons jobs needs none of it."""
    module = module_of(cfg)
    if hasattr(module, "preload"):
        module.preload()


def checked_config(cfg: DictConfig) -> DictConfig:
    """Merge a dataset config into its module's schema: unknown keys and bad types fail here."""
    if not isinstance(cfg, DictConfig):
        raise ConfigError("dataset must be a section of keys (dataset=NAME chooses one)")
    name = cfg.get("name")
    module = module_of(cfg)
    allowed = ["_target_", *(f.name for f in dataclasses.fields(module.Config))]
    for key in cfg:
        if key not in allowed:
            raise ConfigError(f"dataset.{key} is not a configuration key; dataset={name} has "
                              f"{', '.join(allowed[1:])}")
    try:
        schema = OmegaConf.structured(module.Config)
        with open_dict(schema):
            schema["_target_"] = module.__name__
        merged = OmegaConf.merge(schema, cfg)
    except OmegaConfBaseException as err:
        key = f"dataset.{err.full_key}" if getattr(err, "full_key", None) else "dataset"
        raise ConfigError(value_line(key, str(err).splitlines()[0])) from None
    module.check(merged)
    return merged  # type: ignore[return-value]


def shape(cfg: DictConfig) -> tuple[int, int]:
    """(n_features, n_classes) of a checked dataset config."""
    return module_of(cfg).shape(cfg)


def sizes(cfg: DictConfig) -> tuple[int, int] | None:
    """(training, test) samples of a checked dataset config, known without loading anything;
    None for a dataset module that does not say (``sizes`` is optional)."""
    module = module_of(cfg)
    return module.sizes(cfg) if hasattr(module, "sizes") else None


def source(cfg: DictConfig) -> dict:
    """The data part of a job's identity (``nnbench.identity``): ``{"digest", "source"}``.

    A module's own ``source(cfg)`` describes files it reads (their content's digest); any
    other dataset is its generator: the module and its measured parameters, plus the digest of
    the module's file where it lies outside nnbench's package (whose files are the code part).
    Files that cannot be had are said as ``unavailable`` with the reason (the job then fails
    on the same error), or, where the config names a fallback, the fallback's files are the
    source (its digest: the same bytes are the same data), ``stands_in_for`` saying so.
    """
    from nnbench import identity

    module = module_of(cfg)
    if hasattr(module, "source"):
        try:
            described = module.source(cfg)
        except DataError as err:
            if not cfg.get("fallback"):
                described = {"unavailable": str(err)}
            else:
                alt, note = _fallback(cfg, err)
                stand_in = source(alt)
                return {**stand_in, "source": {**stand_in["source"], "stands_in_for": note}}
    else:
        skip = {k.split(".", 1)[1] for k in identity.unmeasured(module.Config, "dataset.")}
        params = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items()
                  if k not in skip and k != "_target_"}
        described = {"generator": module.__name__, "parameters": params}
        file = getattr(module, "__file__", None)
        if file and not Path(file).resolve().is_relative_to(Path(__file__).resolve().parents[1]):
            described["module_sha256"] = hashlib.sha256(Path(file).read_bytes()).hexdigest()[:16]
    return {"digest": identity.digest(described), "source": described}


def load(cfg: DictConfig) -> Dataset:
    """Load the dataset; if it cannot be had and the config names a ``fallback`` dataset of
    the same shape, load that one instead, saying so in ``Dataset.note``.

    A cache that had to be discarded or could not be written is no error: the data are decoded
    again, and an ``nnbench.files.CacheWarning`` (Python's ``warnings``) names the file."""
    try:
        return module_of(cfg).load(cfg)
    except DataError as err:
        alt, note = _fallback(cfg, err)
        return dataclasses.replace(module_of(alt).load(alt), note=note)


def _fallback(cfg: DictConfig, err: DataError) -> tuple[DictConfig, str]:
    """The config of the dataset that stands in for ``cfg`` (which raised ``err``), and the
    note saying so; ``err`` again where the config names no fallback."""
    fallback = cfg.get("fallback")
    if not fallback:
        raise err
    other = module_of({"name": fallback})
    fields = {f.name for f in dataclasses.fields(other.Config)}
    shared = {k: v for k, v in OmegaConf.to_container(cfg).items()
              if k in fields and k not in ("name", "source_dir", "fallback")}
    alt = checked_config(OmegaConf.create({**shared, "name": fallback}))
    cause = str(err).split(". Fix:")[0]
    return alt, f"{fallback} stands in for {cfg.name}, which could not be had ({cause})"


def check_finite(ds: Dataset, dtype: str) -> None:
    """Raise ``DataError`` when features are not finite in ``dtype``, the precision the
    trainers cast them to (bfloat16 has float32's range): a NaN, an infinity, or a value past
    the dtype's largest, which becomes one when cast. Training on them could only diverge, and
    its record would blame the training."""
    largest = float(np.finfo("float32" if dtype == "bfloat16" else dtype).max)
    bad = {part: int(np.count_nonzero(~(np.abs(x) <= largest)))  # NaN fails <= too
           for part, x in (("training", ds.x_train), ("test", ds.x_test))}
    if any(bad.values()):
        sizes = {"training": ds.x_train.size, "test": ds.x_test.size}
        counts = ", ".join(f"{n} of {sizes[part]} {part} values" for part, n in bad.items() if n)
        raise DataError(f"dataset {ds.name}: the features are not finite in {dtype} ({counts}"
                        f" NaN, infinite or beyond {largest:.3g}); check the dataset's "
                        f"settings (its noise, its scale)")
