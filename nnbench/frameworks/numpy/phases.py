"""The NumPy network's epoch split into phases, and its layer kernels timed one by one.

``train_epoch_phased`` is ``NumpyTrainer.train_epoch`` with the clock's marks between the calls
``Network.loss_and_grads`` makes (the same calls, in the same order): change both together.
``layer_kernels`` are the products and bias work ``Network.forward`` and ``Network.backward``
do, with the same calls (``dot`` into a buffer, the bias added in place, the bias gradient as a
ones-vector product), on buffers of their own, so the trainer is left as it was.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from nnbench.measure.phases import LayerKernel, PhaseClock


def train_epoch_phased(trainer: Any, perm: np.ndarray | None, batch_size: int | None,
                       clock: PhaseClock) -> float:
    xp, net = trainer.xp, trainer.net
    n = trainer.x.shape[0]
    step = n if batch_size is None else batch_size
    order = None if perm is None else xp.asarray(perm)
    total = 0.0
    for start in range(0, n, step):
        stop = min(start + step, n)
        ws = net.workspace(stop - start)
        ws.backward_buffers()
        clock.mark("rest")
        if order is None:  # slices of the stored arrays: views, nothing gathered
            xb, tb = trainer.x[start:stop], trainer.t[start:stop]
        else:
            idx = order[start:stop]
            xb = xp.take(trainer.x, idx, axis=0, out=ws.x, **trainer._take_mode)
            tb = trainer.t[idx]
        clock.mark("gather")
        net.forward(xb, ws)
        loss = net.loss_and_logit_grad(ws, tb)
        clock.mark("forward")
        net.backward(xb, ws)
        clock.mark("backward")
        net.sgd_step(trainer.lr)
        clock.mark("update")
        total = total + loss.astype(xp.float64) * (stop - start)
    return float(total) / n


def layer_kernels(trainer: Any, m: int) -> list[LayerKernel]:
    xp, dtype = trainer.xp, trainer.dtype
    rng = np.random.default_rng(0)
    pools: dict[tuple[str, int], Any] = {}

    def buffer(role: str, width: int) -> Any:
        # one buffer per role and width: the largest network needs a few, not one per layer
        if (role, width) not in pools:
            data = rng.standard_normal((m, width)).astype(dtype)
            pools[role, width] = xp.asarray(data)
        return pools[role, width]

    ones = xp.ones(m, dtype=dtype)
    out = []
    sizes = trainer.spec.layer_sizes
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        w = trainer.params[f"W{layer}"].copy()
        b = trainer.params[f"b{layer}"].copy()
        a, h, d = buffer("in", n_in), buffer("out", n_out), buffer("grad", n_out)
        matmul = 2 * a.shape[0] * a.shape[1] * w.shape[0]
        out += [
            LayerKernel(layer, "forward", "matmul", matmul,
                        functools.partial(xp.dot, a, w.T, out=h)),
            LayerKernel(layer, "forward", "bias", h.size, functools.partial(xp.add, h, b, out=h)),
            LayerKernel(layer, "backward", "weight grad", matmul,
                        functools.partial(xp.dot, d.T, a, out=xp.empty_like(w))),
            LayerKernel(layer, "backward", "bias grad", d.size,
                        functools.partial(xp.dot, ones, d, out=xp.empty_like(b))),
        ]
        if layer > 1:  # the data needs no gradient: layer one computes none
            out.append(LayerKernel(layer, "backward", "input grad", matmul,
                                   functools.partial(xp.dot, d, w, out=buffer("in", n_in))))
    return out
