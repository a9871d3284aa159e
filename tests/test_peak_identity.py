"""The matmul-peak cache keys each peak by what it measured: a framework that reuses another's
name, a changed kernel, interpreter or library each measure their own peak instead of
inheriting one. Calibrations are counted, not timed: a tiny kernel, a private cache."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.measure import peak

USER_FRAMEWORK = '''
"""A user's framework that calls itself numpy too."""
import numpy as np
from nnbench.frameworks.numpy.trainer import NumpyTrainer


class UserTrainer(NumpyTrainer):
    name = "numpy"

    @classmethod
    def matmul_kernel(cls, n, dtype, device, tf32):
        a = np.ones((n, n), dtype=dtype)
        return (lambda: a @ a), (lambda: None)
'''


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """A private peak cache, and the list of the trainers calibrated (a fake, instant peak
    per call: 1, 2, 3, ... GFLOP/s)."""
    monkeypatch.setenv("NNBENCH_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def calibrate(kernel, dtype, device, threads, tf32=False):
        calls.append(kernel)
        return {"gflops": float(len(calls)), "n": 8, "threads": threads, "rounds": 1}

    monkeypatch.setattr(peak, "calibrate", calibrate)
    return calls


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """``user_fw.UserTrainer`` importable from a file in tmp_path; the file's path."""
    (tmp_path / "user_fw.py").write_text(USER_FRAMEWORK)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "user_fw.py"
    sys.modules.pop("user_fw", None)


def test_a_framework_that_reuses_a_name_measures_its_own_peak(counted, user_module):
    ours = peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
    theirs = peak.matmul_peak(importlib.import_module("user_fw").UserTrainer, "float32", "cpu", 1)
    assert len(counted) == 2 and (ours["gflops"], theirs["gflops"]) == (1.0, 2.0)
    assert theirs["of"]["trainer"] == "user_fw.UserTrainer"
    assert ours["of"]["trainer"] == "nnbench.frameworks.numpy.trainer.NumpyTrainer"
    assert peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1) == ours and len(counted) == 2


def test_a_changed_kernel_is_measured_again(counted, user_module):
    first = peak.matmul_peak(importlib.import_module("user_fw").UserTrainer, "float32", "cpu", 1)
    user_module.write_text(USER_FRAMEWORK.replace("a @ a", "np.matmul(a, a)"))
    changed = importlib.reload(sys.modules["user_fw"]).UserTrainer
    again = peak.matmul_peak(changed, "float32", "cpu", 1)
    assert len(counted) == 2 and again["gflops"] == 2.0
    assert again["of"]["source"] != first["of"]["source"]


@pytest.mark.parametrize("change", ["numpy", "torch", "interpreter", "blas", "dtype", "threads"])
def test_another_interpreter_library_or_setting_is_measured_again(counted, monkeypatch, change):
    peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)
    dtype, threads = "float32", 1
    if change in ("numpy", "torch"):
        real = peak._installed
        monkeypatch.setattr(peak, "_installed",
                            lambda name: "0.0-other" if name == change else real(name))
    elif change == "interpreter":
        monkeypatch.setattr(sys, "executable", "/another/checkout/.venv/bin/python")
    elif change == "blas":
        import threadpoolctl
        monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: [
            {"user_api": "blas", "internal_api": "mkl", "version": "2025.0",
             "architecture": "Haswell"}])
    elif change == "dtype":
        dtype = "float64"
    else:
        threads = 2
    assert peak.matmul_peak(NumpyTrainer, dtype, "cpu", threads)["gflops"] == 2.0
    assert len(counted) == 2


def test_a_peak_cached_under_a_framework_name_alone_is_not_inherited(counted):
    """A cache written by a checkout that keyed peaks by host, CPU and framework name."""
    old_key = f"{peak.socket.gethostname()}|{peak.cpu_model()}|numpy|cpu|float32|threads=1"
    peak.cache_file().parent.mkdir(parents=True)
    peak.cache_file().write_text(json.dumps({old_key: {"gflops": 999.0, "n": 3072}}))
    assert peak.matmul_peak(NumpyTrainer, "float32", "cpu", 1)["gflops"] == 1.0


def test_the_textbook_trainers_peak_is_tied_to_the_numpy_kernel_it_calls():
    from nnbench.frameworks.textbook.trainer import TextbookTrainer

    assert peak._kernel_modules(TextbookTrainer) == ["nnbench.frameworks.textbook.trainer",
                                                     "nnbench.frameworks.numpy.trainer"]


def test_a_kernel_without_source_is_measured_and_not_cached(counted):
    namespace: dict = {}
    exec(textwrap.dedent(USER_FRAMEWORK), namespace)  # as in a notebook: no file
    trainer = namespace["UserTrainer"]
    trainer.__module__ = "__notebook__"
    for expected in (1.0, 2.0):
        assert peak.matmul_peak(trainer, "float32", "cpu", 1)["gflops"] == expected
    assert not peak.cache_file().exists()
