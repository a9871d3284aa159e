"""The configuration's schema: the types of every key of ``conf/`` (the values, and what each
means, are in the YAML files, so that a default lives in one place).

Registered in Hydra's ConfigStore (``nnbench.hydra.register``) as the base of
``conf/config.yaml``: an unknown key or a value of the wrong type is rejected while Hydra
composes the config. The checks Hydra's types cannot express are in ``nnbench.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

# The metadata flag of a key whose value cannot change what a job measures: it is left out of
# the job's configuration identity (``nnbench.identity``), so records that differ only there
# pool, compare and resume as one configuration.
MEASURED = "measured"


def not_measured(default: Any = MISSING) -> Any:
    """A key that is not part of a job's configuration identity; say why beside it."""
    return field(default=default, metadata={MEASURED: False})


@dataclass
class ArchConfig:
    name: str = not_measured()  # a name for the sizes and activations below
    layer_sizes: list[int] = MISSING
    activations: list[str] = MISSING


@dataclass
class DeviceConfig:
    name: str = MISSING


@dataclass
class PrecisionConfig:
    name: str = MISSING
    # Let CUDA float32 matmuls run on TF32 tensor cores (10-bit mantissa); torch on CUDA only.
    tf32: bool = False


# The values, and what each means, are in conf/train/*.yaml and conf/bench/default.yaml: the
# schema holds only the types, so that a default lives in one place.
@dataclass
class TrainConfig:
    epochs: int = MISSING
    batch_size: int | None = MISSING  # None: full batch
    lr: float = MISSING
    loss: str = MISSING
    shuffle: bool = MISSING
    seed: int = MISSING
    init: str = MISSING


@dataclass
class BenchConfig:
    warmup_epochs: int = MISSING
    repeats: int = MISSING
    vary_seed: bool = MISSING
    # a number, null (every core this process may use) or "auto" (the cores free when the
    # sweep starts: nnbench.measure.contention)
    threads: Any = MISSING
    isolate: bool = MISSING
    memory_probe: bool = MISSING
    mfu: bool = MISSING
    inference_batch_size: int = MISSING
    target_accuracy: float | None = MISSING
    resume: bool = not_measured()  # whether to skip what ran: not how it runs
    # a permission: whether other jobs did run meanwhile is the record's `exclusive`
    allow_parallel: bool = not_measured()
    gradient_check_seed: int | None = MISSING
    min_samples: int = MISSING
    # a number, or "auto": rounds until every ratio is known to target_ci (stats.stopping)
    # how many rounds, and which this job is: rounds of one configuration pool (resume tells
    # them apart by the round, beside the identity)
    rounds: Any = not_measured()
    round: int = not_measured()
    target_ci: float = not_measured(0.05)  # when rounds=auto stops
    max_rounds: int = not_measured(20)
    # with rounds=auto: the sweep's time (s) past which no further round starts (null: none)
    budget_s: float | None = not_measured(90.0)
    # with rounds=auto: the closing verdict pools earlier sweeps' rounds of the same identity
    pool_earlier: bool = not_measured(True)
    # Test accuracy after every epoch, from an untimed replay of the training (training.py).
    accuracy_per_epoch: bool = True
    # One epoch timed by phase (batch gathering, forward, backward, update), in a pass of its own.
    phases: bool = True
    # A cProfile (and the framework's own trace, where it has one) from a pass of its own.
    profile: bool = False
    # Another environment's interpreter to run the job in (None: this one); what it holds is
    # the identity's environment part, not its path.
    python: str | None = not_measured(None)


@dataclass
class NNBenchConfig:
    arch: ArchConfig = field(default_factory=ArchConfig)
    # Each dataset declares its own schema (nnbench.data); it is checked in ``validate``.
    dataset: Any = MISSING
    # Each framework names its trainer class in _target_; the class declares its own options.
    framework: Any = MISSING
    device: DeviceConfig = field(default_factory=DeviceConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    # where the records go, and under which study: not what they measure
    experiment_name: str = not_measured("default")
    runs_dir: str = not_measured("runs")
    # Your own network's file or module (framework=mine): a key of its own, so that one sweep
    # framework=numpy,torch,mine can name it without numpy's and torch's jobs refusing it. Not
    # measured here: a mine job has it as framework.code, and its file in the code part.
    mine: str | None = not_measured(None)
