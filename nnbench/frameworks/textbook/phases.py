"""The textbook MLP's epoch split into phases, and its layer kernels timed one by one.

``TextbookMLP.train_epoch`` is four steps (forward, loss, backward, the update loop); the phased
epoch makes the same calls with the clock's marks between them, and leaves ``network.py`` as
the textbook writes it. The kernels are its products as it writes them, samples as columns
(``W @ a``, the data a transposed view), each a new array, the bias added by broadcasting a
column: beside the NumPy network's rows (``a @ W.T`` into a buffer), what the memory layout
and the allocations cost, with the same BLAS.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from nnbench.measure.phases import LayerKernel, PhaseClock


def train_epoch_phased(trainer: Any, perm: np.ndarray | None, batch_size: int | None,
                       clock: PhaseClock) -> float:
    n = trainer.x.shape[1]
    step = n if batch_size is None else batch_size
    model, total = trainer.model, 0.0
    for start in range(0, n, step):
        clock.mark("rest")
        cols = slice(start, start + step) if perm is None else perm[start:start + step]
        model.x, model.y = trainer.x[:, cols], trainer.y[:, cols]
        clock.mark("gather")
        y_hat, cache = model.forward(model.x)
        loss = model.loss(y_hat, model.y)
        clock.mark("forward")
        grads = model.backward(model.y, cache)
        clock.mark("backward")
        for layer in range(1, model.num_layers + 1):
            model.params[f"W{layer}"] -= trainer.lr * grads[f"dW{layer}"]
            model.params[f"b{layer}"] -= trainer.lr * grads[f"db{layer}"]
        clock.mark("update")
        total += loss * model.x.shape[1]
    model.x, model.y = trainer.x, trainer.y
    return total / n


def layer_kernels(trainer: Any, m: int) -> list[LayerKernel]:
    model = trainer.model
    rng = np.random.default_rng(0)

    def columns(width: int, data: bool = False) -> np.ndarray:
        # the data set is stored (m, n) and used transposed; the layers' outputs are (n, m)
        values = rng.standard_normal((m, width) if data else (width, m)).astype(model.dtype)
        return values.T if data else values

    out = []
    sizes = [model.params["W1"].shape[1]] + [model.params[f"W{i}"].shape[0]
                                             for i in range(1, model.num_layers + 1)]
    for layer in range(1, model.num_layers + 1):
        n_in, n_out = sizes[layer - 1], sizes[layer]
        w, b = model.params[f"W{layer}"].copy(), model.params[f"b{layer}"].copy()
        a, dz = columns(n_in, data=layer == 1), columns(n_out)
        z = w @ a
        matmul = 2 * a.shape[1] * n_in * n_out
        out += [
            LayerKernel(layer, "forward", "matmul", matmul, functools.partial(operator.matmul,
                                                                              w, a)),
            LayerKernel(layer, "forward", "bias", z.size, functools.partial(operator.add, z, b)),
            LayerKernel(layer, "backward", "weight grad", matmul,
                        functools.partial(operator.matmul, dz, a.T)),
            LayerKernel(layer, "backward", "bias grad", dz.size,
                        functools.partial(np.sum, dz, axis=1, keepdims=True)),
        ]
        if layer > 1:
            out.append(LayerKernel(layer, "backward", "input grad", matmul,
                                   functools.partial(operator.matmul, w.T, dz)))
    return out
