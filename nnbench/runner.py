"""One configuration in, one result record out.

The runner is the only module that knows about all the others: it checks the config, loads the
data, draws the initial parameters, hands both to a trainer, times it and writes the record.
Every job ends with a record, whatever happens; the status says how it ended.
"""

from __future__ import annotations

import functools
import importlib
import math
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from nnbench import data, measure
from nnbench.config import ConfigError, to_container, validate
from nnbench.data import DataError
from nnbench.params import arch_string, init_params, n_params
from nnbench.record import write_result
from nnbench.spec import ModelSpec

TRAINERS = {
    "numpy": "nnbench.numpy_mlp:NumpyTrainer",
    "torch": "nnbench.torch_mlp:TorchTrainer",
}


class Skip(Exception):
    """This job cannot run on this host; the message is the reason."""


def _trainer_class(framework: str) -> Any:
    module, _, name = TRAINERS[framework].partition(":")
    return getattr(importlib.import_module(module), name)


def _check_runnable(framework: str, device: str) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise Skip("CUDA is not available on this host (torch.cuda.is_available() is False)")
        if framework == "numpy":
            raise Skip("the NumPy network runs on the CPU only; CUDA is for the torch framework")


def _base_record(cfg: DictConfig) -> dict:
    sizes = list(cfg.arch.layer_sizes) if cfg.arch.get("layer_sizes") is not None else []
    return {
        "status": None,
        "reason": None,
        "experiment_name": cfg.get("experiment_name"),
        "framework": cfg.framework.get("name"),
        "device": cfg.device.get("name"),
        "precision": cfg.precision.get("name"),
        "dataset": cfg.dataset.get("name") if isinstance(cfg.dataset, DictConfig) else None,
        "arch": arch_string(sizes),
        "layer_sizes": sizes,
        "activations": list(cfg.arch.get("activations") or []),
        "n_params": n_params(sizes) if sizes else None,
        "loss": cfg.train.get("loss"),
        "epochs": cfg.train.get("epochs"),
        "batch_size": cfg.train.get("batch_size"),
        "lr": cfg.train.get("lr"),
        "seed": cfg.train.get("seed"),
        "init": cfg.train.get("init"),
        "shuffle": cfg.train.get("shuffle"),
        "warmup_epochs": cfg.bench.get("warmup_epochs"),
        "repeats": cfg.bench.get("repeats"),
    }


def _train(cfg: DictConfig, dataset_cfg: DictConfig, record: dict) -> None:
    """Train ``bench.repeats`` times from the same start and fill the record in."""
    framework, device, precision = cfg.framework.name, cfg.device.name, cfg.precision.name
    _check_runnable(framework, device)
    ds = data.load(dataset_cfg)
    spec = ModelSpec(tuple(cfg.arch.layer_sizes), tuple(cfg.arch.activations), cfg.train.loss)
    params = init_params(spec.layer_sizes, cfg.train.init, cfg.train.seed)
    trainer_cls = _trainer_class(framework)
    n = ds.x_train.shape[0]
    batch_size = cfg.train.batch_size
    warmup = cfg.bench.warmup_epochs
    record.update(n_train=n, n_test=int(ds.x_test.shape[0]), classes=list(ds.classes))

    epoch_times: list[list[float]] = []
    for repeat in range(cfg.bench.repeats):
        trainer = trainer_cls(spec, params, precision, device, cfg.train.lr)
        trainer.set_train_data(ds.x_train, ds.y_train)
        # One permutation per epoch from the seed: both frameworks see the same batches.
        order_rng = np.random.default_rng(cfg.train.seed)
        history: list[float] = []
        times: list[float] = []
        for epoch in range(cfg.train.epochs):
            perm = order_rng.permutation(n) if cfg.train.shuffle else None
            epoch_fn = functools.partial(trainer.train_epoch, perm, batch_size)
            loss, seconds = measure.timed(epoch_fn, trainer.sync)
            history.append(loss)
            times.append(seconds)
            if not math.isfinite(loss):
                record.update(
                    status="diverged",
                    reason=f"training loss became {loss} at epoch {epoch + 1}",
                    diverged_epoch=epoch + 1,
                )
                break
        epoch_times.append(times)
        if repeat == 0:
            record["loss_history"] = history
        if record["status"] == "diverged":
            break

    timed_samples = [t for times in epoch_times for t in times[warmup:]]
    stats = measure.summarize(timed_samples)
    record.update(
        epoch_times_s=epoch_times,
        train_time_per_epoch_s=stats["median"],
        train_time_per_epoch_stats_s=stats,
        train_time_total_s=float(sum(epoch_times[0])),
        final_train_loss=record["loss_history"][-1],
    )
    if record["status"] == "diverged":
        return
    record["train_accuracy"] = float(np.mean(trainer.predict(ds.x_train) == ds.y_train))
    record["test_accuracy"] = float(np.mean(trainer.predict(ds.x_test) == ds.y_test))
    record["status"] = "ok"


def run(cfg: DictConfig, output_dir: str | Path) -> dict:
    """Run one job and write its ``result.json`` into ``output_dir``; return the record."""
    started = time.time()
    record = _base_record(cfg)
    record["environment"] = measure.environment()
    try:
        record["config"] = to_container(cfg)
        dataset_cfg = validate(cfg)
        record["config"]["dataset"] = to_container(dataset_cfg)
        _train(cfg, dataset_cfg, record)
    except ConfigError as err:
        record.update(
            status="failed", reason=f"invalid configuration: {err}", error_type="ConfigError"
        )
    except DataError as err:
        record.update(status="failed", reason=str(err), error_type="DataError")
    except Skip as skip:
        record.update(status="skipped", reason=str(skip))
    except Exception as err:  # any other fault is this job's result, not the sweep's end
        trace = Path(output_dir) / "traceback.txt"
        trace.parent.mkdir(parents=True, exist_ok=True)
        trace.write_text(traceback.format_exc())
        record.update(
            status="failed",
            reason=f"{type(err).__name__}: {err}",
            error_type=type(err).__name__,
            traceback_file=trace.name,
        )
    record["wall_time_s"] = time.time() - started
    record["output_dir"] = str(output_dir)
    write_result(output_dir, record)
    return record


def console_line(record: dict) -> str:
    """The one line a job prints: what ran, how fast, how well, how it ended."""
    head = f"{record['framework']!s:>6} {record['device']!s:<4} {record['precision']!s:<8}"
    if record["status"] == "ok":
        return (
            f"{head} ok       {record['train_time_per_epoch_s']:.3e} s/epoch  "
            f"test_accuracy {record['test_accuracy']:.4f}  final_train_loss "
            f"{record['final_train_loss']:.6g}"
        )
    return f"{head} {record['status']:<8} {record['reason']}"
