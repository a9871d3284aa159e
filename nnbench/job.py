"""The configuration validated and resolved once into a typed ``Job``, before anything runs.

Hydra composes a ``DictConfig``; ``resolve`` turns it into plain typed values: the schema's
sections as dataclasses, the ``Precision`` looked up, the framework's trainer class found and
its options checked, the dataset's own schema merged and its shape known. Whatever is wrong
raises ``ConfigError`` with one line naming the key; whatever this host cannot run is a
``skip_reason``, decided without starting a worker; a job that cannot fit in this host's memory
is refused with the estimate (``nnbench.footprint``).

A framework's class-level hooks (``check``, ``check_model``, ``compile_mode``) are asked here. A
``ConfigError`` from one is the configuration's fault, refused like any other; anything else it
raises is the framework's fault: the job keeps it in ``fault`` and ends ``failed`` saying so,
while the sweep goes on (``nnbench.runner``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nnbench import data, environments, footprint, identity
from nnbench.config import (
    DEVICES,
    PRECISIONS,
    ArchConfig,
    BenchConfig,
    TrainConfig,
    check_finite,
    check_keys,
    choice,
    threads_fit,
    validate,
)
from nnbench.errors import ConfigError, value_line
from nnbench.frameworks.base import Options, Trainer, load
from nnbench.measure import contention
from nnbench.measure.threads import available_cores
from nnbench.params import arch_string, n_params
from nnbench.paths import check_config as check_paths
from nnbench.precision import Precision, get
from nnbench.spec import ModelSpec

# Keys of a framework YAML that are the harness's, not the trainer's options.
FRAMEWORK_KEYS = ("name", "_target_")


@dataclass(frozen=True)
class Job:
    """Everything one job needs, typed; picklable, so a fresh worker process gets it whole."""

    framework: str
    trainer_target: str
    options: Options
    device: str
    precision: Precision
    arch: ArchConfig
    train: TrainConfig
    bench: BenchConfig
    dataset: DictConfig  # merged with the dataset module's own schema
    n_features: int
    n_classes: int
    experiment_name: str
    runs_dir: str
    config: dict[str, Any]  # the whole resolved configuration, as the record keeps it
    # the identity's configuration and data parts (nnbench.identity), taken once, here; the
    # code and environment parts are the process's that runs the job
    identity: dict[str, Any]
    # what a class-level hook of the framework raised, as the failed record's reason
    fault: str | None = None
    # how bench.threads=auto chose the count (None: the count was given)
    threads_reason: str | None = None

    @property
    def trainer_class(self) -> type[Trainer]:
        return load(self.trainer_target)

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(tuple(self.arch.layer_sizes), tuple(self.arch.activations),
                         self.train.loss)

    @property
    def compile_mode(self) -> str | None:
        if self.fault:  # the hook may be the one that raised
            return None
        return self.trainer_class.compile_mode(self.options)

    def skip_reason(self) -> str | None:
        """Why this host cannot run the job, or None; asks only the trainer class."""
        return self.trainer_class.skip_reason(self.device, self.precision)

    def describe(self) -> dict[str, Any]:
        """The record's fields that say what ran."""
        sizes = list(self.arch.layer_sizes)
        p = self.precision
        return {
            "experiment_name": self.experiment_name, "framework": self.framework,
            "device": self.device, "precision": p.name, "tf32": p.tf32,
            "compile_mode": self.compile_mode, "dataset": str(self.dataset.name),
            "arch": arch_string(sizes), "layer_sizes": sizes,
            "activations": list(self.arch.activations), "n_params": n_params(sizes),
            "loss": self.train.loss, "epochs": self.train.epochs,
            "batch_size": self.train.batch_size, "lr": float(self.train.lr),
            "seed": self.train.seed, "init": self.train.init, "shuffle": self.train.shuffle,
            "repeats": self.bench.repeats,
            # auto: how many rounds the sweep ran is known only when it ends (rounds.json)
            "rounds": None if self.bench.rounds == "auto" else self.bench.rounds,
            "round": self.bench.round, "param_dtype": p.param_dtype,
            "compute_dtype": p.compute_dtype, "autocast_dtype": p.autocast_dtype,
            "grad_scaler": p.grad_scaler, "threads_reason": self.threads_reason,
        }


def _line(err: OmegaConfBaseException) -> str:
    key = getattr(err, "full_key", None)
    head = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
    return value_line(key, head)


SECTIONS = {"arch": ArchConfig, "train": TrainConfig, "bench": BenchConfig}


def hook_fault(cls: type[Trainer], hook: str, err: BaseException) -> str:
    """The reason of a job whose framework's ``hook`` raised ``err``."""
    first = (str(err).strip().splitlines() or [""])[0]
    return (f"framework {getattr(cls, 'name', cls.__name__)}: {cls.__name__}.{hook} raised "
            f"{type(err).__name__}{f': {first}' if first else ''}")


def _ask(cls: type[Trainer], hook: str, call: Any) -> str | None:
    """Call a class-level hook: a ConfigError passes on, anything else becomes the job's fault."""
    try:
        call()
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - a third-party hook may raise anything
        return hook_fault(cls, hook, err)
    return None


def _section(cfg: DictConfig, name: str) -> Any:
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(SECTIONS[name]),
                                                   cfg[name]))
    except OmegaConfBaseException as err:
        raise ConfigError(_line(err)) from None


def _framework(node: Any) -> tuple[str, str, type[Trainer], Options]:
    if not isinstance(node, DictConfig) or not node.get("name") or not node.get("_target_"):
        raise ConfigError("framework needs a name and a _target_ naming its trainer class "
                          "(see conf/framework/numpy.yaml)")
    name, target = str(node.name), str(node._target_)
    cls = load(target)
    if name != cls.name:
        raise ConfigError(f"framework.name={name!r} is not the name of its trainer {target} "
                          f"({cls.name!r}); choose a framework with framework=NAME")
    given = {k: v for k, v in OmegaConf.to_container(node, resolve=True).items()
             if k not in FRAMEWORK_KEYS}
    allowed = [f.name for f in dataclasses.fields(cls.Options)]
    takes = ", ".join(allowed) if allowed else "no options"
    for key in given:
        if key not in allowed:
            raise ConfigError(f"framework.{key} is not a configuration key; framework={name} "
                              f"takes {takes}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls.Options), given)
        options = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        line = value_line(f"framework.{key or ''}", str(err).splitlines()[0])
        raise ConfigError(f"{line}; framework={name} takes {takes}") from None
    return name, target, cls, options


def resolve(cfg: DictConfig, *, on_this_host: bool = True) -> Job:
    """Validate ``cfg`` and resolve it into a ``Job``; raise ``ConfigError`` on the first
    problem, naming the key and what is allowed. ``on_this_host``: the job runs on this host,
    so what depends on the host (its cores) is checked too."""
    try:
        config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as err:
        raise ConfigError(_line(err)) from None
    check_keys(config)
    check_finite(config)
    # every interpolation resolved in the whole config's context (${runs_dir} in a dataset path)
    cfg = OmegaConf.create(config)
    name, target, cls, options = _framework(cfg.framework)
    device = str(cfg.device.name)
    choice("device.name", device, DEVICES)
    choice("precision.name", cfg.precision.name, PRECISIONS)
    precision = get(str(cfg.precision.name), bool(cfg.precision.get("tf32", False)))
    fault = _ask(cls, "check", lambda: cls.check(name, options, device, precision))
    dataset = data.checked_config(cfg.dataset)
    check_paths(cfg, dataset)  # runs_dir, experiment_name, dataset.data_dir
    n_features, n_classes = data.shape(dataset)
    arch, train, bench = (_section(cfg, s) for s in ("arch", "train", "bench"))
    validate(arch, train, bench, str(dataset.name), n_features, n_classes)
    environments.check(bench.python, bench.isolate, on_this_host)
    spec = ModelSpec(tuple(arch.layer_sizes), tuple(arch.activations), train.loss)
    fault = fault or _ask(cls, "check_model", lambda: cls.check_model(spec))
    fault = fault or _ask(cls, "compile_mode", lambda: cls.compile_mode(options))
    threads_reason = None
    if on_this_host:
        if bench.threads == "auto":  # chosen once per process: every job of a sweep alike
            count, why = contention.auto_threads(available_cores())
            bench = dataclasses.replace(bench, threads=count)
            config["bench"]["threads"], threads_reason = count, why
        threads_fit(bench.threads, available_cores())
        _check_fits(dataset, list(arch.layer_sizes), precision, train.batch_size, device)
    config["dataset"] = OmegaConf.to_container(dataset, resolve=True)
    parts = {"config": identity.configuration(config, data.module_of(dataset).Config),
             "data": data.source(dataset)}
    return Job(framework=name, trainer_target=target, options=options, device=device,
               precision=precision, arch=arch, train=train, bench=bench, dataset=dataset,
               n_features=n_features, n_classes=n_classes,
               experiment_name=str(cfg.get("experiment_name")),
               runs_dir=str(cfg.get("runs_dir") or "runs"), config=config, identity=parts,
               fault=fault, threads_reason=threads_reason)


def _check_fits(dataset: DictConfig, sizes: list[int], precision: Precision,
                batch_size: int | None, device: str) -> None:
    """``footprint.TooLarge`` when the job's arrays cannot fit in this host's memory."""
    samples = data.sizes(dataset)
    if samples is None:  # a dataset module that does not say how many samples it makes
        return
    need = footprint.estimate(sizes, *samples, precision.param_dtype, batch_size,
                              on_host=device == "cpu")
    footprint.check_fits(need, f"dataset={dataset.name} with {samples[0]:,} training and "
                               f"{samples[1]:,} test samples, arch {arch_string(sizes)},")
