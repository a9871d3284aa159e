"""Half-width and mixed precision, torch.compile and the labels they get in the report (CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import CONF
from hydra import compose, initialize_config_dir

from nnbench import runner
from nnbench.data import moons
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.torch.trainer import Options as TorchOptions
from nnbench.frameworks.torch.trainer import TorchTrainer, cpu_half_support
from nnbench.params import init_params
from nnbench.precision import PRECISIONS
from nnbench.precision import get as get_precision
from nnbench.results.labels import label_variants
from nnbench.spec import ModelSpec

LOW = ["float16", "bfloat16", "mixed_float16", "mixed_bfloat16"]
QUICK = ["train.epochs=150", "bench.mfu=false", "bench.memory_probe=false"]


@pytest.fixture(scope="module")
def float32_reference(tmp_path_factory):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["framework=torch", *QUICK])
    return runner.run(cfg, tmp_path_factory.mktemp("f32"))


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["numpy", "torch"])
@pytest.mark.parametrize("precision", LOW)
def test_half_width_and_mixed_jobs_run_or_skip_with_the_reason(
        make_cfg, tmp_path, framework, precision, float32_reference):
    rec = runner.run(make_cfg(f"framework={framework}", f"precision={precision}", *QUICK),
                     tmp_path)
    assert rec["status"] in ("ok", "skipped"), rec.get("reason")
    p = PRECISIONS[precision]
    if framework == "numpy":
        assert rec["status"] == "skipped" and f"precision={precision} is for torch" in rec["reason"]
        return
    reason = cpu_half_support(p.half_width)
    if reason is not None:  # this CPU lacks the arithmetic: the record says which
        assert rec["status"] == "skipped" and reason in rec["reason"]
        return
    assert rec["status"] == "ok"
    assert (rec["param_dtype"], rec["compute_dtype"]) == (p.param_dtype, p.compute_dtype)
    assert rec["grad_scaler"] is p.grad_scaler
    assert all(math.isfinite(v) for v in rec["loss_history"])
    # Same start and batches as float32: the half-width run follows the same curve, within
    # what an 8-bit (bfloat16) or 11-bit (float16) mantissa allows.
    ref = float32_reference["loss_history"]
    assert abs(rec["final_train_loss"] - ref[-1]) < 0.03 * ref[-1] + 0.01
    assert rec["test_accuracy"] >= float32_reference["test_accuracy"] - 0.03


def test_mixed_precision_keeps_float32_parameters_and_casts_the_matmuls():
    if cpu_half_support("bfloat16") is not None:
        pytest.skip(f"mixed_bfloat16 needs CPU bfloat16: {cpu_half_support('bfloat16')}")
    import torch

    spec = ModelSpec((2, 8, 1), ("relu", "sigmoid"), "bce")
    trainer = TorchTrainer(spec, init_params(spec.layer_sizes), "mixed_bfloat16", "cpu", 0.1)
    assert {p.dtype for p in trainer.model.parameters()} == {torch.float32}
    with trainer._autocast():
        logits = trainer.model(torch.ones(4, 2))
    assert logits.dtype == torch.bfloat16


def _train(compile_mode, epochs=12):
    ds = moons.load(moons.Config())
    spec = ModelSpec((2, 32, 16, 1), ("relu", "relu", "sigmoid"), "bce")
    trainer = TorchTrainer(spec, init_params(spec.layer_sizes, "he_normal", 0), "float32",
                           "cpu", 0.2, TorchOptions(compile=compile_mode is not None,
                                                     compile_mode=compile_mode or "default"))
    trainer.set_train_data(ds.x_train, ds.y_train)
    if compile_mode:
        trainer.warm_up([500, 100])
    rng = np.random.default_rng(0)
    # batches of 500 over 1,600 samples: two shapes, 500 and the remainder 100
    return [trainer.train_epoch(rng.permutation(1600), 500) for _ in range(epochs)]


def test_compiled_training_matches_eager_within_float32_tolerance():
    eager, compiled = _train(None), _train("default")
    assert compiled[-1] < compiled[0]
    # Inductor fuses and reorders float32 arithmetic: equal up to rounding, not bit for bit
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)


@pytest.mark.slow
def test_a_compiled_job_records_its_compile_time_apart(make_cfg, tmp_path):
    rec = runner.run(make_cfg("framework=torch", "framework.compile=true", "train.epochs=5",
                              "bench.mfu=false", "bench.memory_probe=false"), tmp_path)
    assert rec["status"] == "ok", rec.get("reason")
    assert rec["compile_mode"] == "default" and rec["compile_time_s"] > 0
    assert len(rec["epoch_times_s"][0]) == 5


def test_report_labels_compiled_and_tf32_runs_as_their_own_contenders():
    rec = label_variants({"framework": "torch", "compile_mode": "max-autotune",
                          "precision": "float32", "tf32": True})
    assert (rec.framework, rec.precision) == ("torch+compile:max-autotune", "float32+tf32")
    plain = label_variants({"framework": "numpy", "compile_mode": None, "precision": "float64",
                            "tf32": False})
    assert (plain.framework, plain.precision) == ("numpy", "float64")


def test_numpy_on_cuda_without_cupy_or_gpu_is_skipped_with_the_reason(make_cfg, tmp_path):
    reason = NumpyTrainer.skip_reason("cuda", get_precision("float32"))
    if reason is None:
        pytest.skip("CuPy and a GPU are present: the job runs (tests/test_cuda.py)")
    rec = runner.run(make_cfg("framework=numpy", "device=cuda"), tmp_path)
    assert rec["status"] == "skipped" and "CuPy" in rec["reason"]


@pytest.mark.slow
def test_a_compiled_run_says_nothing_that_is_not_about_the_job(tmp_path):
    """torch.compile off a GPU warned about a CUDA toolkit the job does not use. (A first
    compile with a cold inductor cache still leaves a semaphore the interpreter warns about at
    exit; that one is not asserted here.)"""
    from helpers import run_cli

    done = run_cli("framework=torch", "framework.compile=true", "train.epochs=3",
                   "bench.mfu=false", f"runs_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "torch+compile cpu" in done.stdout and " ok " in done.stdout
    assert "No CUDA runtime is found" not in done.stderr
