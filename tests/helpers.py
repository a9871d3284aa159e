"""What the tests share: where the repository is, the command line run as a user runs it, and
small builders for the agreement tests.

Imported as ``from helpers import ...`` (pytest puts tests/ on sys.path). Only the standard
library and NumPy at import: nnbench, torch and scikit-learn are imported by the builders that
use them, so a test that wants only ``REPO`` or ``run_cli`` (the architecture test among them)
does not import the package through this module, and still collects while a module of the
package it does not use is being moved.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nnbench.frameworks.numpy.trainer import NumpyTrainer
    from nnbench.frameworks.torch.trainer import TorchTrainer
    from nnbench.params import Params
    from nnbench.spec import ModelSpec

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"
TESTS = REPO / "tests"


def _command(args: tuple[str, ...], module: str, prefix: tuple[str, ...]) -> list[str]:
    return [*prefix, sys.executable, "-m", module, *args]


def run_cli(*args: str, env: dict | None = None, cwd: Path = REPO, timeout: float = 300,
            module: str = "nnbench", prefix: tuple[str, ...] = (),
            **popen) -> subprocess.CompletedProcess:
    """``python -m nnbench ARGS`` (or ``-m nnbench.report`` with ``module``) in a subprocess, as
    a user runs it, to its end: exit status, stdout and stderr as text (``.args`` is the
    command). ``prefix``: a command that runs it (``setpriv ...``); ``env``: the whole
    environment (None: this one)."""
    return subprocess.run(_command(args, module, prefix), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, **popen)


def start_cli(*args: str, env: dict | None = None, cwd: Path = REPO, module: str = "nnbench",
              prefix: tuple[str, ...] = (), **popen) -> subprocess.Popen:
    """``run_cli`` started and not waited for (to signal it, or run others beside it): stdout
    and stderr are pipes, in text; ``popen``: more of ``subprocess.Popen``'s arguments."""
    return subprocess.Popen(_command(args, module, prefix), cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Seed 000's measure: largest absolute difference over the largest reference magnitude."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def blobs(n: int = 240, n_features: int = 5, n_classes: int = 4, seed: int = 0):
    """A small multi-class problem with overlapping classes, so gradients stay non-trivial."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=n, n_features=n_features, centers=n_classes, cluster_std=2.5,
                      random_state=seed)
    return x.astype(np.float64), y.astype(np.int64)


def trainers(spec: ModelSpec, precision: str, lr: float = 0.1, init: str = "he_normal",
             seed: int = 7) -> tuple[NumpyTrainer, TorchTrainer, Params]:
    from nnbench.frameworks.numpy.trainer import NumpyTrainer
    from nnbench.frameworks.torch.trainer import TorchTrainer
    from nnbench.params import init_params

    params = init_params(spec.layer_sizes, init, seed)
    return (NumpyTrainer(spec, params, precision, "cpu", lr),
            TorchTrainer(spec, params, precision, "cpu", lr), params)


def finite_difference_grads(params: Params, spec: ModelSpec, x: np.ndarray, t: np.ndarray,
                            h: float = 1e-6) -> Params:
    """Central differences of the NumPy loss, one parameter entry at a time (float64)."""
    from nnbench.frameworks.numpy import network as numpy_mlp

    numeric = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            saved = value[i]
            value[i] = saved + h
            up = numpy_mlp.loss_and_grads(params, spec, x, t)[0]
            value[i] = saved - h
            down = numpy_mlp.loss_and_grads(params, spec, x, t)[0]
            value[i] = saved
            grad[i] = (up - down) / (2 * h)
        numeric[name] = grad
    return numeric
