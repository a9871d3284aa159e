"""Broken on purpose: the output bias gradient is summed over the samples, not averaged.

A learner's network as seed 000 writes it: functions over a dict of parameters, samples as
columns (x is (features, m), b a column), a sigmoid output for binary cross-entropy.

The functions are the seed's, unchanged; the block at the end is what nnbench reads
(docs/yours.md).
"""

# ruff: noqa: E741  (the layer index is `l`, as in the seed)
import numpy as np


def relu(z: np.ndarray) -> np.ndarray:
    """ReLU activation."""
    return np.maximum(0, z)


def relu_deriv(z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU."""
    return (z > 0).astype(float)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Sigmoid activation."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def numpy_forward(x, params, num_layers):
    """NumPy forward pass: x of shape (n_features, m); returns (predictions, cache)."""
    cache = {"A0": x}
    a = x
    for l in range(1, num_layers):
        z = params[f"W{l}"] @ a + params[f"b{l}"]
        a = relu(z)
        cache[f"Z{l}"] = z
        cache[f"A{l}"] = a
    z = params[f"W{num_layers}"] @ a + params[f"b{num_layers}"]
    a = sigmoid(z)
    cache[f"Z{num_layers}"] = z
    cache[f"A{num_layers}"] = a
    return a, cache


def numpy_backward(y, params, cache, num_layers):
    """NumPy backward pass: y of shape (1, m); returns the gradient dictionary."""
    m = y.shape[1]
    grads = {}
    dz = cache[f"A{num_layers}"] - y
    grads[f"dW{num_layers}"] = dz @ cache[f"A{num_layers - 1}"].T / m
    grads[f"db{num_layers}"] = np.sum(dz, axis=1, keepdims=True)
    for l in range(num_layers - 1, 0, -1):
        da = params[f"W{l + 1}"].T @ dz
        dz = da * relu_deriv(cache[f"Z{l}"])
        grads[f"dW{l}"] = dz @ cache[f"A{l - 1}"].T / m
        grads[f"db{l}"] = np.sum(dz, axis=1, keepdims=True) / m
    return grads


# -- for nnbench: where the samples are, and the two functions in the order it calls them
layout = {"samples": "columns"}


def forward(params, x):
    return numpy_forward(x, params, len(params) // 2)


def backward(params, cache, x, y):
    return numpy_backward(y, params, cache, len(params) // 2)
