"""Small builders shared by the agreement tests."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_blobs

from nnbench.frameworks.numpy import network as numpy_mlp
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.torch.trainer import TorchTrainer
from nnbench.params import Params, init_params
from nnbench.spec import ModelSpec


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Seed 000's measure: largest absolute difference over the largest reference magnitude."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def blobs(n: int = 240, n_features: int = 5, n_classes: int = 4, seed: int = 0):
    """A small multi-class problem with overlapping classes, so gradients stay non-trivial."""
    x, y = make_blobs(n_samples=n, n_features=n_features, centers=n_classes, cluster_std=2.5,
                      random_state=seed)
    return x.astype(np.float64), y.astype(np.int64)


def trainers(spec: ModelSpec, precision: str, lr: float = 0.1, init: str = "he_normal",
             seed: int = 7) -> tuple[NumpyTrainer, TorchTrainer, Params]:
    params = init_params(spec.layer_sizes, init, seed)
    return (NumpyTrainer(spec, params, precision, "cpu", lr),
            TorchTrainer(spec, params, precision, "cpu", lr), params)


def finite_difference_grads(params: Params, spec: ModelSpec, x: np.ndarray, t: np.ndarray,
                            h: float = 1e-6) -> Params:
    """Central differences of the NumPy loss, one parameter entry at a time (float64)."""
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
