"""The CUDA paths: torch in every precision, TF32, torch.compile, the NumPy network on CuPy.

Every test here needs an NVIDIA GPU; on a host without one they are skipped with that reason.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnbench import runner
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.torch.trainer import TorchTrainer
from nnbench.precision import get as get_precision

CUDA_REASON = TorchTrainer.skip_reason("cuda", get_precision("float32"))
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(CUDA_REASON is not None, reason=f"needs an NVIDIA GPU: {CUDA_REASON}"),
]
QUICK = ["train.epochs=150", "bench.mfu=false"]


def _run(make_cfg, tmp_path, *overrides):
    rec = runner.run(make_cfg(*overrides), tmp_path)
    assert rec["status"] == "ok", rec.get("reason")
    return rec


def test_torch_on_cuda_times_with_events_and_reads_device_memory(make_cfg, tmp_path):
    rec = _run(make_cfg, tmp_path, "framework=torch", "device=cuda", *QUICK)
    assert rec["clock"] == "cuda_events"
    assert rec["cuda_peak_mb"] > 0 and "max_memory_allocated" in rec["cuda_peak_probe"]
    assert rec["optimizer"] == "SGD(fused)"
    assert rec["environment"]["gpu"]["name"]


@pytest.mark.parametrize("precision", ["float32", "float64", "float16", "bfloat16",
                                       "mixed_float16", "mixed_bfloat16"])
def test_every_precision_trains_on_cuda(make_cfg, tmp_path, precision):
    rec = runner.run(make_cfg("framework=torch", "device=cuda", f"precision={precision}",
                              *QUICK), tmp_path)
    if rec["status"] == "skipped":  # a GPU without bfloat16
        assert "bfloat16" in rec["reason"] and "bfloat16" in precision
        return
    assert rec["status"] == "ok", rec.get("reason")
    assert all(math.isfinite(v) for v in rec["loss_history"])
    assert rec["test_accuracy"] > 0.8


def test_float64_on_the_gpu_follows_numpy_on_the_cpu(make_cfg, tmp_path):
    gpu = _run(make_cfg, tmp_path / "gpu", "framework=torch", "device=cuda",
               "precision=float64", *QUICK)
    cpu = _run(make_cfg, tmp_path / "cpu", "framework=numpy", "precision=float64", *QUICK)
    a, b = np.array(gpu["loss_history"]), np.array(cpu["loss_history"])
    assert np.max(np.abs(a - b) / np.abs(b)) < 1e-9


def test_tf32_is_recorded_and_stays_close_to_float32(make_cfg, tmp_path):
    ieee = _run(make_cfg, tmp_path / "ieee", "framework=torch", "device=cuda", *QUICK)
    tf32 = _run(make_cfg, tmp_path / "tf32", "framework=torch", "device=cuda",
                "precision.tf32=true", *QUICK)
    assert tf32["tf32"] is True and ieee["tf32"] is False
    assert abs(tf32["final_train_loss"] - ieee["final_train_loss"]) < 0.02


def test_compiled_cuda_training_matches_eager(make_cfg, tmp_path):
    eager = _run(make_cfg, tmp_path / "eager", "framework=torch", "device=cuda", *QUICK)
    compiled = _run(make_cfg, tmp_path / "compiled", "framework=torch", "device=cuda",
                    "framework.compile=true", *QUICK)
    assert compiled["compile_time_s"] > 0
    np.testing.assert_allclose(compiled["loss_history"], eager["loss_history"], rtol=1e-4)


def test_the_numpy_network_on_cupy_matches_numpy_on_the_cpu(make_cfg, tmp_path):
    reason = NumpyTrainer.skip_reason("cuda", get_precision("float32"))
    if reason is not None:
        pytest.skip(reason)
    gpu = _run(make_cfg, tmp_path / "gpu", "framework=numpy", "device=cuda",
               "precision=float64", *QUICK)
    cpu = _run(make_cfg, tmp_path / "cpu", "framework=numpy", "precision=float64", *QUICK)
    a, b = np.array(gpu["loss_history"]), np.array(cpu["loss_history"])
    assert np.max(np.abs(a - b) / np.abs(b)) < 1e-9
    assert gpu["clock"] == "cuda_events" and gpu["cuda_peak_mb"] > 0
