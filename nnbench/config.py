"""The configuration schema and the checks Hydra's type system cannot express.

The dataclasses are registered in Hydra's ConfigStore as the base of ``conf/config.yaml``, so an
unknown key or a value of the wrong type is rejected while Hydra composes the config. ``validate``
then checks values and combinations (an lr that is not positive, layer sizes that do not fit the
data, a loss that does not fit the output activation) before any data is loaded or any training
starts. Every failure is a ``ConfigError`` whose message is one line naming the key and what is
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from nnbench.precision import PRECISIONS as _PRECISIONS

FRAMEWORKS = ("numpy", "torch")
DEVICES = ("cpu", "cuda")
PRECISIONS = tuple(_PRECISIONS)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "identity")
HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
LOSSES = ("bce", "cross_entropy", "mse")
INITS = ("he_normal", "uniform", "torch_default")

# The output activation each likelihood loss is computed through, from the logits, in a stable form.
LOSS_OUTPUT_ACTIVATION = {"bce": "sigmoid", "cross_entropy": "softmax"}


class ConfigError(ValueError):
    """A configuration that cannot run; the message is one line for the user."""


@dataclass
class ArchConfig:
    name: str = MISSING
    layer_sizes: list[int] = MISSING
    activations: list[str] = MISSING


@dataclass
class FrameworkConfig:
    name: str = MISSING
    # torch.compile the model (torch only); the compile time is recorded apart from training.
    compile: bool = False
    compile_mode: str = "default"


@dataclass
class DeviceConfig:
    name: str = MISSING


@dataclass
class PrecisionConfig:
    name: str = MISSING
    # Let CUDA float32 matmuls run on TF32 tensor cores (10-bit mantissa); torch on CUDA only.
    tf32: bool = False


@dataclass
class TrainConfig:
    epochs: int = MISSING
    # None trains full-batch: one step per epoch on the whole training set.
    batch_size: int | None = None
    lr: float = MISSING
    loss: str = MISSING
    shuffle: bool = True
    seed: int = 42
    init: str = "he_normal"


@dataclass
class BenchConfig:
    # Epochs trained and recorded but left out of the timing statistics (caches, allocator, JIT).
    warmup_epochs: int = 1
    # Independent trainings; from the same start unless vary_seed (then seed + repeat).
    repeats: int = 1
    vary_seed: bool = False
    # Threads for both frameworks (BLAS and torch); None = every core available to the process.
    threads: int | None = None
    # Run each job in a fresh process, so its memory figures do not depend on the jobs before it.
    isolate: bool = True
    # One untimed epoch under tracemalloc and the RSS sampler before the timed runs.
    memory_probe: bool = True
    # Measure (once per host, cached) the matmul peak that MFU is relative to.
    mfu: bool = True
    inference_batch_size: int = 256
    # Record the epoch and training time at which test accuracy first reaches this.
    target_accuracy: float | None = None
    # Skip jobs that already have an ok result under runs_dir for the same config and code.
    resume: bool = False
    # Accept launchers that run jobs side by side on one host (their timings contend).
    allow_parallel: bool = False
    # Compare NumPy's and torch's gradients at fresh parameters from this seed (null: don't).
    gradient_check_seed: int | None = None


@dataclass
class NNBenchConfig:
    arch: ArchConfig = field(default_factory=ArchConfig)
    # Each dataset declares its own schema (nnbench.data); it is checked in ``validate``.
    dataset: Any = MISSING
    framework: FrameworkConfig = field(default_factory=FrameworkConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    experiment_name: str = "default"
    runs_dir: str = "runs"


def register_schema() -> None:
    ConfigStore.instance().store(name="nnbench_schema", node=NNBenchConfig)


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not known; allowed: {', '.join(allowed)}")


def _positive(key: str, value: Any, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{key}={value!r} must be {bound}")


def validate(cfg: DictConfig) -> DictConfig:
    """Check values and combinations; return the dataset config merged with its schema."""
    from nnbench import data  # the dataset registry; imported here to keep config.py leaf-like

    _choice("framework.name", cfg.framework.name, FRAMEWORKS)
    _choice("device.name", cfg.device.name, DEVICES)
    _choice("precision.name", cfg.precision.name, PRECISIONS)
    _check_framework_options(cfg)
    dataset_cfg = data.checked_config(cfg.dataset)
    n_features, n_classes = data.shape(dataset_cfg)

    sizes = list(cfg.arch.layer_sizes)
    acts = list(cfg.arch.activations)
    if len(sizes) < 2:
        raise ConfigError(
            f"arch.layer_sizes={sizes} needs at least an input and an output size, e.g. [2, 1]"
        )
    for i, size in enumerate(sizes):
        _positive(f"arch.layer_sizes[{i}]", size)
    if sizes[0] != n_features:
        raise ConfigError(
            f"arch.layer_sizes[0]={sizes[0]} does not fit dataset {dataset_cfg.name!r}, "
            f"which has {n_features} features"
        )
    if len(acts) != len(sizes) - 1:
        raise ConfigError(
            f"arch.activations has {len(acts)} entries; arch.layer_sizes={sizes} has "
            f"{len(sizes) - 1} layers and needs one activation per layer"
        )
    for i, act in enumerate(acts[:-1]):
        _choice(f"arch.activations[{i}]", act, HIDDEN_ACTIVATIONS)
    _choice(f"arch.activations[{len(acts) - 1}]", acts[-1], ACTIVATIONS)

    train = cfg.train
    _choice("train.loss", train.loss, LOSSES)
    _choice("train.init", train.init, INITS)
    _positive("train.epochs", train.epochs)
    _positive("train.lr", train.lr)
    if train.batch_size is not None:
        _positive("train.batch_size", train.batch_size)

    out_act, n_out = acts[-1], sizes[-1]
    needed = LOSS_OUTPUT_ACTIVATION.get(train.loss)
    if needed is not None and out_act != needed:
        raise ConfigError(
            f"train.loss={train.loss!r} is computed from logits through a {needed} output; "
            f"arch.activations[-1]={out_act!r} (use {needed}, or loss 'mse')"
        )
    if train.loss == "bce" and (n_out != 1 or n_classes != 2):
        raise ConfigError(
            f"train.loss='bce' needs one output unit and two classes; arch.layer_sizes[-1]={n_out}"
            f" and dataset {dataset_cfg.name!r} has {n_classes} classes (use 'cross_entropy')"
        )
    allowed_out = {n_classes, 1} if n_classes == 2 and out_act != "softmax" else {n_classes}
    if train.loss != "bce" and n_out not in allowed_out:
        raise ConfigError(
            f"arch.layer_sizes[-1]={n_out} does not fit dataset {dataset_cfg.name!r}, which has "
            f"{n_classes} classes; allowed: {' or '.join(map(str, sorted(allowed_out)))}"
        )

    _positive("bench.warmup_epochs", cfg.bench.warmup_epochs, allow_zero=True)
    _positive("bench.repeats", cfg.bench.repeats)
    _positive("bench.inference_batch_size", cfg.bench.inference_batch_size)
    if cfg.bench.threads is not None:
        _positive("bench.threads", cfg.bench.threads)
    target = cfg.bench.target_accuracy
    if target is not None and not 0 < target <= 1:
        raise ConfigError(f"bench.target_accuracy={target} must lie in (0, 1], or be null")
    if cfg.bench.warmup_epochs >= train.epochs:
        raise ConfigError(
            f"bench.warmup_epochs={cfg.bench.warmup_epochs} leaves no timed epoch out of "
            f"train.epochs={train.epochs}; allowed: 0 to {train.epochs - 1}"
        )
    return dataset_cfg


def _check_framework_options(cfg: DictConfig) -> None:
    """Settings that only mean something for some frameworks, devices or precisions."""
    framework, device, precision = cfg.framework.name, cfg.device.name, cfg.precision.name
    _choice("framework.compile_mode", cfg.framework.get("compile_mode", "default"), COMPILE_MODES)
    if cfg.framework.get("compile", False) and framework != "torch":
        raise ConfigError(
            f"framework.compile=true applies to torch (torch.compile); this job is "
            f"framework={framework}"
        )
    if cfg.precision.get("tf32", False):
        if framework != "torch" or device != "cuda":
            raise ConfigError(
                f"precision.tf32=true applies to torch on CUDA; this job is "
                f"framework={framework} device={device}"
            )
        if precision in ("float64", "float16", "bfloat16"):
            raise ConfigError(
                f"precision.tf32=true changes float32 matmuls, which precision={precision} "
                f"has none of; use it with float32, mixed_float16 or mixed_bfloat16"
            )


def to_container(cfg: DictConfig) -> dict:
    """The resolved config as plain Python, for the result record."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)  # type: ignore[return-value]
