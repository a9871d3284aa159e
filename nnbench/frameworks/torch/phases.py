"""The torch loop's epoch split into phases, and its layer kernels timed one by one.

``train_epoch_phased`` is ``TorchTrainer.train_epoch`` with the clock's marks between the calls
its ``_step`` makes (the same calls, in the same order): change the three together. Clearing
the gradients is the optimizer's work and is counted with its step, as ``update``.

``layer_kernels`` are the calls autograd makes for an ``nn.Linear`` on a 2-D batch: forward
``addmm(b, x, W^T)`` (the bias fused into the matmul), backward ``mm`` for the weight and input
gradients and a batch sum for the bias gradient; beside the fused forward, the same matmul
without the bias and the bias added on its own, so that the fusion is measured, not assumed.
They run in the dtype the matmuls run in (autocast's where there is one), on buffers of their
own.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

from nnbench.measure.phases import LayerKernel, PhaseClock


def train_epoch_phased(trainer: Any, perm: np.ndarray | None, batch_size: int | None,
                       clock: PhaseClock) -> float:
    trainer.model.train()
    n = trainer.x.shape[0]
    step = n if batch_size is None else batch_size
    order = None if perm is None else torch.from_numpy(perm).to(trainer.torch_device)
    total = torch.zeros((), dtype=torch.float64, device=trainer.torch_device)
    for start in range(0, n, step):
        clock.mark("rest")
        if order is None:
            xb, tb = trainer.x[start : start + step], trainer.t[start : start + step]
        else:
            idx = order[start : start + step]
            xb, tb = trainer.x[idx], trainer.t[idx]
        clock.mark("gather")
        trainer.sgd.zero_grad(set_to_none=True)
        clock.mark("update")
        with trainer._autocast():
            loss = trainer._batch_loss(xb, tb)
        clock.mark("forward")
        trainer.scaler.scale(loss).backward()
        clock.mark("backward")
        trainer.scaler.step(trainer.sgd)
        trainer.scaler.update()
        clock.mark("update")
        total += loss.detach().double() * xb.shape[0]
    return float(total) / n


@torch.no_grad()
def layer_kernels(trainer: Any, m: int) -> list[LayerKernel]:
    dtype = getattr(torch, trainer.precision.compute_dtype)
    device = trainer.torch_device
    gen = torch.Generator(device="cpu").manual_seed(0)
    pools: dict[tuple[str, int], torch.Tensor] = {}

    def buffer(role: str, width: int) -> torch.Tensor:
        # one buffer per role and width: the largest network needs a few, not one per layer
        if (role, width) not in pools:
            pools[role, width] = torch.randn(m, width, generator=gen).to(device, dtype)
        return pools[role, width]

    out = []
    for layer, linear in enumerate(trainer.model.linears, start=1):
        w = linear.weight.detach().to(dtype).clone()
        b = linear.bias.detach().to(dtype).clone()
        n_out, n_in = w.shape
        a, h, d = buffer("in", n_in), buffer("out", n_out), buffer("grad", n_out)
        matmul = 2 * a.shape[0] * n_in * n_out
        out += [
            LayerKernel(layer, "forward", "matmul+bias", matmul + h.numel(),
                        functools.partial(torch.addmm, b, a, w.t(), out=h)),
            LayerKernel(layer, "forward", "matmul", matmul,
                        functools.partial(torch.mm, a, w.t(), out=h)),
            LayerKernel(layer, "forward", "bias", h.numel(), functools.partial(h.add_, b)),
            LayerKernel(layer, "backward", "weight grad", matmul,
                        functools.partial(torch.mm, d.t(), a, out=torch.empty_like(w))),
            LayerKernel(layer, "backward", "bias grad", d.numel(),
                        functools.partial(torch.sum, d, 0, out=torch.empty_like(b))),
        ]
        if layer > 1:  # the data needs no gradient: layer one computes none
            out.append(LayerKernel(layer, "backward", "input grad", matmul,
                                   functools.partial(torch.mm, d, w, out=buffer("in", n_in))))
    return out
