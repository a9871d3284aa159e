"""The NumPy MLP as textbooks write it: the baseline ``scripts/bench_numpy.py`` measures against.

Written in the style the published NumPy-versus-PyTorch comparisons show, on purpose: parameters
in a dict, samples as columns (``z = W @ a + b`` with b a column), a new array for every
operation, ``relu_deriv`` as ``(z > 0).astype(float)`` (float64, whatever the input), the loss
through ``log(p + eps)``. Nothing in nnbench's results comes from this module; it exists so that
the speed-up of ``nnbench.frameworks.numpy.network`` is a ratio measured on the same machine,
in the same run.
"""

# ruff: noqa: E741  (the layer index is `l`, as in the textbooks this copies)
from __future__ import annotations

import numpy as np

from nnbench.params import Params


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(0, z)


def relu_deriv(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(float)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


class TextbookMLP:
    """ReLU hidden layers; a sigmoid output with binary cross-entropy for one output unit,
    softmax with cross-entropy otherwise. Full-batch gradient descent."""

    def __init__(self, params: Params, dtype: str = "float64"):
        # Parameters as nnbench draws them (W: out x in, b: out), biases made columns.
        self.params = {
            k: (v.reshape(-1, 1) if k.startswith("b") else v).astype(dtype)
            for k, v in params.items()
        }
        self.num_layers = len(params) // 2
        self.dtype = dtype

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        """Samples as columns, labels as a (1, m) row or a one-hot (classes, m) matrix."""
        self.x = x.astype(self.dtype).T
        n_out = self.params[f"W{self.num_layers}"].shape[0]
        if n_out == 1:
            self.y = y.reshape(1, -1).astype(self.dtype)
        else:
            self.y = np.eye(n_out, dtype=self.dtype)[y].T

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, dict]:
        params, num_layers = self.params, self.num_layers
        cache = {"A0": x}
        a = x
        for l in range(1, num_layers):
            z = params[f"W{l}"] @ a + params[f"b{l}"]
            a = relu(z)
            cache[f"Z{l}"] = z
            cache[f"A{l}"] = a
        z = params[f"W{num_layers}"] @ a + params[f"b{num_layers}"]
        a = sigmoid(z) if z.shape[0] == 1 else softmax(z)
        cache[f"Z{num_layers}"] = z
        cache[f"A{num_layers}"] = a
        return a, cache

    def loss(self, y_hat: np.ndarray, y: np.ndarray) -> float:
        epsilon = 1e-8
        m = y.shape[1]
        if y.shape[0] == 1:
            return float(-np.sum(y * np.log(y_hat + epsilon)
                                 + (1 - y) * np.log(1 - y_hat + epsilon)) / m)
        return float(-np.sum(y * np.log(y_hat + epsilon)) / m)

    def backward(self, y: np.ndarray, cache: dict) -> dict:
        params, num_layers = self.params, self.num_layers
        m = y.shape[1]
        grads = {}
        dz = cache[f"A{num_layers}"] - y
        grads[f"dW{num_layers}"] = dz @ cache[f"A{num_layers - 1}"].T / m
        grads[f"db{num_layers}"] = np.sum(dz, axis=1, keepdims=True) / m
        for l in range(num_layers - 1, 0, -1):
            da = params[f"W{l + 1}"].T @ dz
            dz = da * relu_deriv(cache[f"Z{l}"])
            grads[f"dW{l}"] = dz @ cache[f"A{l - 1}"].T / m
            grads[f"db{l}"] = np.sum(dz, axis=1, keepdims=True) / m
        return grads

    def train_epoch(self, learning_rate: float) -> float:
        y_hat, cache = self.forward(self.x)
        loss = self.loss(y_hat, self.y)
        grads = self.backward(self.y, cache)
        for l in range(1, self.num_layers + 1):
            self.params[f"W{l}"] -= learning_rate * grads[f"dW{l}"]
            self.params[f"b{l}"] -= learning_rate * grads[f"db{l}"]
        return loss
