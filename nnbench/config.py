"""The checks of a configuration that Hydra's type system cannot express.

The schema's dataclasses (``nnbench.schema``, re-exported here) are registered in Hydra's
ConfigStore as the base of ``conf/config.yaml``, so an unknown key or a value of the wrong type
is rejected while Hydra composes the config; keys that
Hydra lets through (``+key=``, ``++key=``) are refused by ``check_keys`` on the composed config,
and numbers that are not finite by ``check_finite``. ``validate`` then checks values and
combinations (an lr that is not positive, layer sizes that do not fit the
data, a loss that does not fit the output activation) before any data is loaded or any training
starts. Every failure is a ``ConfigError`` whose message is one line naming the key and what is
allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnbench.errors import ConfigError
from nnbench.precision import PRECISIONS as _PRECISIONS
from nnbench.schema import (  # noqa: F401 - the schema's types, where they were always imported from
    ArchConfig,
    BenchConfig,
    DeviceConfig,
    NNBenchConfig,
    PrecisionConfig,
    TrainConfig,
)

DEVICES = ("cpu", "cuda")
PRECISIONS = tuple(_PRECISIONS)
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "identity")
HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
LOSSES = ("bce", "cross_entropy", "mse")
INITS = ("he_normal", "uniform", "torch_default")

# The output activation each likelihood loss is computed through, from the logits, in a stable form.
LOSS_OUTPUT_ACTIVATION = {"bce": "sigmoid", "cross_entropy": "softmax"}


# The sections whose keys the schema fixes; dataset and framework keys depend on the choice and
# are checked against the dataset's and the trainer's own schema (nnbench.job).
SECTIONS: dict[str, type] = {"arch": ArchConfig, "device": DeviceConfig,
                             "precision": PrecisionConfig, "train": TrainConfig,
                             "bench": BenchConfig}
TOP_LEVEL = tuple(f.name for f in fields(NNBenchConfig))


def keys_of(schema: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(schema))


def unknown_key(key: str, where: str, allowed: tuple[str, ...] | list[str]) -> ConfigError:
    return ConfigError(f"{key} is not a configuration key; {where} has "
                       f"{', '.join(allowed) if allowed else 'no keys'}")


def check_keys(config: Mapping[str, Any]) -> None:
    """Refuse keys the schema lacks, however they came in (``+key=``, ``++key=``, a config
    file): Hydra lets appended keys through, so the composed config is compared once more."""
    for key in config:
        if key not in TOP_LEVEL:
            raise unknown_key(key, "the configuration", TOP_LEVEL)
    for section, schema in SECTIONS.items():
        node = config.get(section)
        if isinstance(node, Mapping):
            allowed = keys_of(schema)
            for key in node:
                if key not in allowed:
                    raise unknown_key(f"{section}.{key}", section, allowed)


def check_finite(value: Any, key: str = "") -> None:
    """Refuse NaN and infinite numbers anywhere in the config (``inf``, ``nan``, ``1e309``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}={value} is not a finite number")
    if isinstance(value, Mapping):
        for k, v in value.items():
            check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_finite(v, f"{key}[{i}]")


# numpy's and scikit-learn's seeds: 0 to 2**32 - 1
SEED_LIMIT = 2**32


def seed(key: str, value: int | None) -> None:
    if value is not None and not 0 <= value < SEED_LIMIT:
        raise ConfigError(f"{key}={value} is out of range; allowed: 0 to {SEED_LIMIT - 1}")


def threads_fit(threads: int | None, cores: int) -> None:
    """Refuse more threads than this process may use: they would time contention, not work."""
    if threads is not None and threads > cores:
        raise ConfigError(f"bench.threads={threads} is more than the {cores} cores this process "
                          f"may use; allowed: 1 to {cores}, or null (all of them)")


def choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not known; allowed: {', '.join(allowed)}")


def _positive(key: str, value: Any, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{key}={value!r} must be {bound}")


def validate(arch: ArchConfig, train: TrainConfig, bench: BenchConfig, dataset_name: str,
             n_features: int, n_classes: int) -> None:
    """Check values and combinations against the dataset's shape (features, classes)."""
    _check_arch(arch, dataset_name, n_features)
    _check_train(train)
    _check_output(arch, train, dataset_name, n_classes)
    _check_bench(bench, train)


def _check_arch(arch: ArchConfig, dataset_name: str, n_features: int) -> None:
    sizes = list(arch.layer_sizes)
    acts = list(arch.activations)
    if len(sizes) < 2:
        raise ConfigError(
            f"arch.layer_sizes={sizes} needs at least an input and an output size, e.g. [2, 1]"
        )
    for i, size in enumerate(sizes):
        _positive(f"arch.layer_sizes[{i}]", size)
    if sizes[0] != n_features:
        raise ConfigError(
            f"arch.layer_sizes[0]={sizes[0]} does not fit dataset {dataset_name!r}, "
            f"which has {n_features} features"
        )
    if len(acts) != len(sizes) - 1:
        raise ConfigError(
            f"arch.activations has {len(acts)} entries; arch.layer_sizes={sizes} has "
            f"{len(sizes) - 1} layers and needs one activation per layer"
        )
    for i, act in enumerate(acts[:-1]):
        choice(f"arch.activations[{i}]", act, HIDDEN_ACTIVATIONS)
    choice(f"arch.activations[{len(acts) - 1}]", acts[-1], ACTIVATIONS)


def _check_train(train: TrainConfig) -> None:
    choice("train.loss", train.loss, LOSSES)
    choice("train.init", train.init, INITS)
    _positive("train.epochs", train.epochs)
    _positive("train.lr", train.lr)
    seed("train.seed", train.seed)
    if train.batch_size is not None:
        _positive("train.batch_size", train.batch_size)


def _check_output(arch: ArchConfig, train: TrainConfig, dataset_name: str,
                  n_classes: int) -> None:
    """The output layer against the loss and the dataset's classes."""
    out_act, n_out = arch.activations[-1], arch.layer_sizes[-1]
    needed = LOSS_OUTPUT_ACTIVATION.get(train.loss)
    if needed is not None and out_act != needed:
        raise ConfigError(
            f"train.loss={train.loss!r} is computed from logits through a {needed} output; "
            f"arch.activations[-1]={out_act!r} (use {needed}, or loss 'mse')"
        )
    if train.loss == "bce" and (n_out != 1 or n_classes != 2):
        raise ConfigError(
            f"train.loss='bce' needs one output unit and two classes; arch.layer_sizes[-1]={n_out}"
            f" and dataset {dataset_name!r} has {n_classes} classes (use 'cross_entropy')"
        )
    allowed_out = {n_classes, 1} if n_classes == 2 and out_act != "softmax" else {n_classes}
    if train.loss != "bce" and n_out not in allowed_out:
        raise ConfigError(
            f"arch.layer_sizes[-1]={n_out} does not fit dataset {dataset_name!r}, which has "
            f"{n_classes} classes; allowed: {' or '.join(map(str, sorted(allowed_out)))}"
        )


def _check_bench(bench: BenchConfig, train: TrainConfig) -> None:
    _positive("bench.warmup_epochs", bench.warmup_epochs, allow_zero=True)
    _positive("bench.repeats", bench.repeats)
    _positive("bench.inference_batch_size", bench.inference_batch_size)
    _positive("bench.min_samples", bench.min_samples, allow_zero=True)
    check_rounds(bench)
    if bench.threads != "auto" and bench.threads is not None:
        if isinstance(bench.threads, bool) or not isinstance(bench.threads, int):
            raise ConfigError(f"bench.threads={bench.threads!r} is not a thread count; allowed: "
                              f"a whole number from 1, auto (the cores free when the sweep "
                              f"starts) or null (every core this process may use)")
        _positive("bench.threads", bench.threads)
    seed("bench.gradient_check_seed", bench.gradient_check_seed)
    if bench.vary_seed and train.seed + bench.repeats > SEED_LIMIT:  # repeat r starts at seed + r
        raise ConfigError(f"train.seed={train.seed} + bench.repeats={bench.repeats} runs past the "
                          f"largest seed, {SEED_LIMIT - 1}, with bench.vary_seed=true")
    target = bench.target_accuracy
    if target is not None and not 0 < target <= 1:
        raise ConfigError(f"bench.target_accuracy={target} must lie in (0, 1], or be null")
    if target is not None and not bench.accuracy_per_epoch:
        raise ConfigError(f"bench.target_accuracy={target} needs the test accuracy after every "
                          f"epoch: set bench.accuracy_per_epoch=true, or "
                          f"bench.target_accuracy=null")
    if bench.warmup_epochs >= train.epochs:
        raise ConfigError(
            f"bench.warmup_epochs={bench.warmup_epochs} leaves no timed epoch out of "
            f"train.epochs={train.epochs}; allowed: "
            + (f"0 to {train.epochs - 1}" if train.epochs > 1 else
               "bench.warmup_epochs=0, or train.epochs of 2 or more")
        )


def to_container(cfg: DictConfig) -> dict:
    """The resolved config as plain Python, for the result record."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]


# A sweep lists every job of every round before the first starts (Hydra's basic sweeper): a
# bound keeps that list in memory; 1000 rounds is fifty times pyperf's 20 fresh processes.
MAX_ROUNDS = 1000


def check_rounds(bench: Any) -> None:
    """bench.rounds is a whole number of rounds, or auto (up to bench.max_rounds, until every
    ratio's interval is within bench.target_ci); bench.round one of them. Called on each job's
    config, and by the sweeper on the sweep's before it lists the rounds' jobs."""
    from nnbench.stats.stopping import MIN_ROUNDS

    if bench.rounds == "auto":
        if not isinstance(bench.max_rounds, int) or bench.max_rounds < MIN_ROUNDS:
            raise ConfigError(f"bench.max_rounds={bench.max_rounds!r} must be at least "
                              f"{MIN_ROUNDS} with bench.rounds=auto (no interval is trusted "
                              f"on fewer rounds)")
        if bench.max_rounds > MAX_ROUNDS:
            raise ConfigError(f"bench.max_rounds={bench.max_rounds} must be at most "
                              f"{MAX_ROUNDS}: a sweep lists every round's jobs before the "
                              f"first starts")
        if not 0 < bench.target_ci < 1:
            raise ConfigError(f"bench.target_ci={bench.target_ci} must lie in (0, 1): the "
                              f"relative half-width of the ratio's interval, e.g. 0.05")
        if bench.budget_s is not None and not bench.budget_s > 0:
            raise ConfigError(f"bench.budget_s={bench.budget_s} must be a number of seconds "
                              f"> 0, or null (no time limit on the rounds)")
        limit = bench.max_rounds
    elif isinstance(bench.rounds, bool) or not isinstance(bench.rounds, int):
        raise ConfigError(f"bench.rounds={bench.rounds!r} is not a number of rounds; allowed: "
                          f"a whole number > 0, or auto")
    else:
        _positive("bench.rounds", bench.rounds)
        if bench.rounds > MAX_ROUNDS:
            raise ConfigError(f"bench.rounds={bench.rounds} must be at most {MAX_ROUNDS}: a "
                              f"sweep lists every round's jobs before the first starts")
        limit = bench.rounds
    _positive("bench.round", bench.round, allow_zero=True)
    if bench.round >= limit:
        allowed = "0" if limit == 1 else f"0 to {limit - 1}"
        raise ConfigError(f"bench.round={bench.round} is past bench.rounds={bench.rounds}; "
                          f"allowed: {allowed} (a sweep with -m bench.rounds=N numbers its "
                          f"rounds itself)")
