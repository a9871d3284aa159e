"""One configuration in, one result record out.

The runner is the only module that knows about all the others: it checks the config, loads the
data, draws the initial parameters, hands them to a trainer inside the measurement probes and
writes the record. Every job ends with a record, whatever happens; the status says how it ended.

By default (``bench.isolate``) the job runs in a fresh Python process, as pyperf runs its
workers: imports, allocator state and caches left by earlier jobs of a sweep cannot leak into
its memory figures or timings.
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnbench import benchmark, data, resume, support, verify
from nnbench.config import ConfigError, to_container, validate
from nnbench.data import DataError
from nnbench.measure import peak as peak_probe
from nnbench.measure.environment import code_version, environment
from nnbench.measure.threads import limited
from nnbench.params import arch_string, init_params, n_params
from nnbench.precision import NUMPY_PRECISIONS, PRECISIONS
from nnbench.record import RESULT_FILE, label_variants, read_result, write_result
from nnbench.spec import ModelSpec

TRAINERS = {
    "numpy": "nnbench.numpy_mlp:NumpyTrainer",
    "torch": "nnbench.torch_mlp:TorchTrainer",
}


def _trainer_class(framework: str) -> Any:
    module, _, name = TRAINERS[framework].partition(":")
    return getattr(importlib.import_module(module), name)


def _base_record(cfg: DictConfig) -> dict:
    sizes = list(cfg.arch.get("layer_sizes") or [])
    return {
        "status": None,
        "reason": None,
        "experiment_name": cfg.get("experiment_name"),
        "framework": cfg.framework.get("name"),
        "device": cfg.device.get("name"),
        "precision": cfg.precision.get("name"),
        "tf32": bool(cfg.precision.get("tf32")),
        "compile_mode": _compile_mode(cfg),
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
        "repeats": cfg.bench.get("repeats"),
    }


def _settings(cfg: DictConfig) -> benchmark.Settings:
    b, t = cfg.bench, cfg.train
    return benchmark.Settings(
        epochs=t.epochs, batch_size=t.batch_size, shuffle=t.shuffle, seed=t.seed,
        warmup_epochs=b.warmup_epochs, repeats=b.repeats, vary_seed=b.vary_seed,
        memory_probe=b.memory_probe, target_accuracy=b.target_accuracy,
        inference_batch_size=b.inference_batch_size, device=cfg.device.name,
        backend=_backend(cfg), compile=_compile_mode(cfg) is not None,
    )


def _compile_mode(cfg: DictConfig) -> str | None:
    """torch.compile's mode when framework.compile is set, else None (eager)."""
    return cfg.framework.get("compile_mode", "default") if cfg.framework.get("compile") else None


def _backend(cfg: DictConfig) -> str:
    """The array library a job runs on."""
    if cfg.framework.name == "torch":
        return "torch"
    return "cupy" if cfg.device.name == "cuda" else "numpy"


def _trainer_options(cfg: DictConfig) -> dict:
    """The framework-specific settings a trainer takes beyond the shared ones."""
    if cfg.framework.name != "torch":
        return {}
    return {"compile_mode": _compile_mode(cfg), "tf32": cfg.precision.tf32}


def _make_trainer(trainer_cls: Any, spec: ModelSpec, cfg: DictConfig, seed: int) -> Any:
    params = init_params(spec.layer_sizes, cfg.train.init, seed)
    return trainer_cls(spec, params, cfg.precision.name, cfg.device.name, cfg.train.lr,
                       **_trainer_options(cfg))


def _precision_record(cfg: DictConfig) -> dict:
    p = PRECISIONS[cfg.precision.name]
    return {"param_dtype": p.param_dtype, "compute_dtype": p.compute_dtype,
            "autocast_dtype": p.autocast_dtype, "grad_scaler": p.grad_scaler}


def _run_job(cfg: DictConfig, dataset_cfg: DictConfig, record: dict) -> None:
    framework, device, precision = cfg.framework.name, cfg.device.name, cfg.precision.name
    record.update(_precision_record(cfg))
    support.check(framework, device, PRECISIONS[precision])
    trainer_cls = _trainer_class(framework)  # imports torch only for torch jobs
    ds = data.load(dataset_cfg)
    if ds.note:
        record["dataset"] = ds.name
        record.setdefault("warnings", []).append(ds.note)
    spec = ModelSpec(tuple(cfg.arch.layer_sizes), tuple(cfg.arch.activations), cfg.train.loss)
    record.update(n_train=int(ds.x_train.shape[0]), n_test=int(ds.x_test.shape[0]),
                  classes=list(ds.classes))
    peak = None
    if cfg.bench.mfu:
        peak = peak_probe.matmul_peak(framework, PRECISIONS[precision].compute_dtype, device,
                                      cfg.bench.threads, tf32=bool(cfg.precision.tf32))
        record["matmul_peak"] = peak
    with limited(cfg.bench.threads) as threads:
        record["threads"] = threads
        make = functools.partial(_make_trainer, trainer_cls, spec, cfg)
        measured = benchmark.measure(make, ds, _settings(cfg), spec.layer_sizes, peak)
        warnings = record.pop("warnings", []) + measured.pop("warnings", [])
        record.update(measured)
        if warnings:
            record["warnings"] = warnings
        record["environment"] = environment(threads)
    check_seed = cfg.bench.get("gradient_check_seed")
    if check_seed is not None and precision not in NUMPY_PRECISIONS:
        record.setdefault("warnings", []).append(
            f"no gradient check: the NumPy network has no {precision} to compare against")
    elif check_seed is not None:
        # after the measurements: the check builds a torch model too, and a NumPy job's memory
        # figures must not include torch's libraries
        record["gradient_check"] = {
            "seed": check_seed,
            "max_rel_diff": verify.gradient_agreement(
                spec, cfg.train.init, check_seed, precision, ds.x_train, ds.y_train),
        }
    if record["status"] is None:
        record["status"] = "ok"


def run_job(cfg: DictConfig, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    """Run one job in this process and write its ``result.json``; return the record.

    ``parallel_jobs`` > 1 says other jobs may be running on this host meanwhile: the record is
    marked ``exclusive: false`` and the report flags its timings.
    """
    started = time.time()
    record = _base_record(cfg)
    record.update(exclusive=parallel_jobs <= 1, parallel_jobs=parallel_jobs)
    try:
        record["config"] = to_container(cfg)
        record["code_version"] = code_version()
        record["job_key"] = resume.job_key(record["config"], record["code_version"])
        dataset_cfg = validate(cfg)
        record["config"]["dataset"] = to_container(dataset_cfg)
        _run_job(cfg, dataset_cfg, record)
    except ConfigError as err:
        record.update(status="failed", reason=f"invalid configuration: {err}",
                      error_type="ConfigError")
    except DataError as err:
        record.update(status="failed", reason=str(err), error_type="DataError")
    except support.Skip as skip:
        record.update(status="skipped", reason=str(skip))
    except Exception as err:  # any other fault is this job's result, not the sweep's end
        if _is_oom(err):
            _free_device_memory()
            record.update(status="oom", reason=f"out of memory: {str(err).splitlines()[0]}",
                          error_type=type(err).__name__)
            return _finish(record, started, output_dir)
        trace = Path(output_dir) / "traceback.txt"
        trace.parent.mkdir(parents=True, exist_ok=True)
        trace.write_text(traceback.format_exc())
        record.update(status="failed", reason=f"{type(err).__name__}: {err}",
                      error_type=type(err).__name__, traceback_file=trace.name)
    return _finish(record, started, output_dir)


def _finish(record: dict, started: float, output_dir: str | Path) -> dict:
    record.setdefault("environment", environment())
    record["wall_time_s"] = time.time() - started
    record["output_dir"] = str(output_dir)
    write_result(output_dir, record)
    return record


def _is_oom(err: BaseException) -> bool:
    """CUDA's allocator error (torch's or CuPy's), or a host allocation that failed (NumPy
    raises MemoryError)."""
    if isinstance(err, MemoryError):
        return True
    torch, cupy = sys.modules.get("torch"), sys.modules.get("cupy")
    if torch is not None and isinstance(err, torch.cuda.OutOfMemoryError):
        return True
    return cupy is not None and isinstance(err, cupy.cuda.memory.OutOfMemoryError)


def _free_device_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _worker(container: dict, output_dir: str, parallel_jobs: int = 1) -> None:
    try:
        run_job(OmegaConf.create(container), output_dir, parallel_jobs)
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group; the parent reports it. The job leaves no
        # result, so the report lists its folder as incomplete and a resume runs it again.
        sys.exit(130)


_indexes: dict[str, resume.Index] = {}


def _already_ok(cfg: DictConfig) -> str | None:
    """With bench.resume, the path of an ok result of this very job under runs_dir."""
    if not cfg.bench.get("resume"):
        return None
    root = str(Path(cfg.get("runs_dir") or "runs").resolve())
    if root not in _indexes:
        _indexes[root] = resume.Index(root)
    return _indexes[root].done(resume.job_key(to_container(cfg), code_version()))


def run(cfg: DictConfig, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    """Run one job, in a fresh process unless ``bench.isolate`` is false; return its record.

    With ``bench.resume`` a job that already has an ok result under ``runs_dir`` for the same
    config and code is not run again: its folder gets a ``resumed.json`` pointing there, and the
    returned record has status ``resumed``.
    """
    previous = _already_ok(cfg)
    if previous is not None:
        resume.mark_resumed(output_dir, previous)
        return {**_base_record(cfg), "status": "resumed", "reason": f"ok result at {previous}"}
    if parallel_jobs > 1 and not cfg.bench.get("allow_parallel", False):
        record = _base_record(cfg)
        record.update(status="failed", error_type="ConfigError", exclusive=False,
                      reason=f"invalid configuration: the launcher runs up to {parallel_jobs} "
                             f"jobs side by side on this host, which skews their timings; run "
                             f"them one at a time or set bench.allow_parallel=true")
        return _finish(record, time.time(), output_dir)
    record = _run(cfg, output_dir, parallel_jobs)
    root = str(Path(cfg.get("runs_dir") or "runs").resolve())
    if record.get("status") == "ok" and root in _indexes and record.get("job_key"):
        _indexes[root].add(record["job_key"], str(Path(output_dir) / RESULT_FILE))
    return record


def _run(cfg: DictConfig, output_dir: str | Path, parallel_jobs: int = 1) -> dict:
    isolate = cfg.bench.get("isolate", True) if isinstance(cfg.bench, DictConfig) else True
    if not isolate:
        return run_job(cfg, output_dir, parallel_jobs)
    container = OmegaConf.to_container(cfg, resolve=True)
    if multiprocessing.get_start_method(allow_none=True) not in (None, "spawn", "fork",
                                                                 "forkserver"):
        # inside a launcher's worker (joblib's loky sets its own start method, which a fresh
        # interpreter cannot find): make the standard one the worker's default again
        multiprocessing.set_start_method("spawn", force=True)
    process = multiprocessing.get_context("spawn").Process(
        target=_worker, args=(container, str(output_dir), parallel_jobs), name="nnbench-job"
    )
    process.start()
    try:
        process.join()
    except KeyboardInterrupt:
        process.join(timeout=10)  # it got the same SIGINT; give it a moment, then insist
        if process.is_alive():
            process.kill()
            process.join()
        raise
    result = Path(output_dir) / RESULT_FILE
    if process.exitcode == 0 and result.is_file():
        return read_result(result)
    if process.exitcode == 130:
        raise KeyboardInterrupt
    code = process.exitcode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else \
        f"ended with exit code {code}"
    record = _base_record(cfg)
    record.update(status="failed", error_type="WorkerDied",
                  reason=f"the job's process {how} before writing its result")
    return _finish(record, time.time(), output_dir)


def console_line(record: dict) -> str:
    """The one line a job prints: what ran, how fast, how well, how it ended."""
    shown = label_variants(dict(record))  # torch+compile, float32+tf32
    head = f"{shown['framework']!s:>6} {shown['device']!s:<4} {shown['precision']!s:<8}"
    if record["status"] == "ok":
        line = (
            f"{head} ok       {record['train_time_per_epoch_s']:.3e} s/epoch  "
            f"test_accuracy {record['test_accuracy']:.4f}  final_train_loss "
            f"{record['final_train_loss']:.6g}"
        )
        if record.get("mfu") is not None:
            line += f"  mfu {record['mfu']:.2f}"
        if record.get("gradient_check"):
            diffs = record["gradient_check"]["max_rel_diff"]
            weights = "  ".join(f"{k} {diffs[k]:.1e}" for k in sorted(diffs) if k[0] == "W")
            line += f"\n{'':>21}gradient vs autograd (max rel diff, seed " \
                    f"{record['gradient_check']['seed']}): {weights}"
        for warning in record.get("warnings", []):
            line += f"\n{'':>21}warning: {warning}"
        return line
    return f"{head} {record['status']:<8} {record['reason']}"
