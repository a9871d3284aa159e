"""What both implementations agree on: the network's shape, activations, loss and targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes) - 1

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    @property
    def n_out(self) -> int:
        return self.layer_sizes[-1]


def targets(y: np.ndarray, spec: ModelSpec, dtype: np.dtype | str) -> np.ndarray:
    """Labels in the form the loss needs: class indices for cross-entropy, else float columns.

    Binary cross-entropy and single-output MSE take a (n, 1) column of 0/1; multi-output MSE
    takes one-hot rows (seed 001's softmax + MSE network).
    """
    y = np.asarray(y, dtype=np.int64)
    if spec.loss == "cross_entropy":
        return y
    if spec.n_out == 1:
        return y.astype(dtype).reshape(-1, 1)
    one_hot = np.zeros((y.shape[0], spec.n_out), dtype=dtype)
    one_hot[np.arange(y.shape[0]), y] = 1
    return one_hot


def predicted_classes(outputs: np.ndarray) -> np.ndarray:
    """Class indices from output activations: threshold 0.5 for one unit, argmax otherwise."""
    if outputs.shape[1] == 1:
        return (outputs[:, 0] > 0.5).astype(np.int64)
    return outputs.argmax(axis=1)
