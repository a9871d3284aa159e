"""The multilayer perceptron from scratch: NumPy only, backward pass derived by hand.

Samples are rows: a layer computes ``z = a_prev @ W.T + b`` with W shaped (out, in), as in
``torch.nn.Linear``, so parameters move between the two implementations without transposes.

Written the way one writes a NumPy kernel that must be fast, not the way a textbook shows it:

- every intermediate lives in a buffer allocated once per batch size (a ``Workspace``) and is
  written with ``out=`` or in place, so the hot loop allocates (almost) nothing: allocation and
  the page faults of fresh large arrays dominate small networks;
- a hidden activation overwrites its pre-activation in place; the backward pass needs only the
  activation (ReLU's mask is a > 0, sigmoid's slope a(1 - a), tanh's 1 - a^2);
- every array keeps the dtype of the parameters (float32 stays float32): the only scalars mixed
  in are Python numbers, which do not widen an array's dtype;
- transposes are views that BLAS reads as they are; nothing is copied to make it contiguous;
- every product goes to BLAS through ``dot``, including the bias gradient (a ones-vector times
  dL/dz): NumPy's ``matmul`` skips BLAS for an inner dimension of 1 (the outer product of a
  one-unit output layer) and a column sum loops in C, each several times slower at these sizes.

The array module ``xp`` is a parameter: NumPy on the CPU, CuPy (the same API on a GPU) for
``device=cuda``. No function here calls NumPy directly on the data.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from nnbench.params import Params
from nnbench.spec import ModelSpec

# Workspaces kept per network: training uses at most two batch sizes (full and remainder),
# inference a few more (whole test set, batch 1, inference batches).
MAX_WORKSPACES = 6


def array_module(device: str) -> Any:
    """NumPy for the CPU, CuPy for CUDA (raises ImportError when CuPy is not installed)."""
    if device == "cpu":
        return np
    if device == "cuda":
        import cupy

        return cupy
    raise ValueError(f"unknown device {device!r}")


def to_host(array: Any) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array."""
    return array.get() if hasattr(array, "get") else np.asarray(array)


class Workspace:
    """Every buffer one forward and backward pass over ``m`` samples writes into.

    ``h[l]`` holds layer l's output: its pre-activation, then (hidden layers, in place) its
    activation; for the last layer, the logits. ``d[l]`` holds dL/dz of layer l. The backward
    buffers are allocated on the first backward pass, so inference-only sizes never pay for them.
    """

    def __init__(self, xp: Any, spec: ModelSpec, m: int, dtype: Any):
        self.xp, self.spec, self.m, self.dtype = xp, spec, m, dtype
        sizes = spec.layer_sizes
        self.h = [None] + [xp.empty((m, n), dtype=dtype) for n in sizes[1:]]
        self.out = xp.empty((m, sizes[-1]), dtype=dtype)  # output activations / loss terms
        self.row = xp.empty((m, 1), dtype=dtype)  # per-sample reductions (softmax)
        self.d: list | None = None

    def backward_buffers(self) -> None:
        if self.d is not None:
            return
        xp, sizes, m = self.xp, self.spec.layer_sizes, self.m
        self.d = [None] + [xp.empty((m, n), dtype=self.dtype) for n in sizes[1:]]
        # f'(z) of the hidden layers whose activation has a slope other than 1
        self.slope = [None] * len(sizes)
        for layer, act in enumerate(self.spec.activations[:-1], start=1):
            if act in ("relu", "sigmoid", "tanh"):
                self.slope[layer] = xp.empty((m, sizes[layer]), dtype=self.dtype)
        self.rows = xp.arange(m)
        self.ones = xp.ones(m, dtype=self.dtype)  # sums over the batch, as a BLAS product
        self.x = xp.empty((m, sizes[0]), dtype=self.dtype)  # gathered mini-batch inputs


def _sigmoid(xp: Any, z: Any, out: Any) -> Any:
    """1 / (1 + exp(-z)) in the tanh form, which cannot overflow for large |z|."""
    xp.multiply(z, 0.5, out=out)
    xp.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def _softmax(xp: Any, z: Any, out: Any, row: Any) -> Any:
    z.max(axis=1, keepdims=True, out=row)
    xp.subtract(z, row, out=out)
    xp.exp(out, out=out)
    out.sum(axis=1, keepdims=True, out=row)
    out /= row
    return out


def activate_into(xp: Any, name: str, z: Any, out: Any, row: Any) -> Any:
    """``out = f(z)``; ``out`` may be ``z`` itself except for softmax."""
    if name == "relu":
        return xp.maximum(z, 0, out=out)
    if name == "sigmoid":
        return _sigmoid(xp, z, out)
    if name == "tanh":
        return xp.tanh(z, out=out)
    if name == "softmax":
        return _softmax(xp, z, out, row)
    if name == "identity":
        if out is not z:
            out[...] = z
        return out
    raise ValueError(f"unknown activation {name!r}")


class Network:
    """Parameters, their gradients and the workspaces; forward, loss and backward in place."""

    def __init__(self, spec: ModelSpec, params: Params, dtype: Any, xp: Any = np):
        self.spec, self.xp, self.dtype = spec, xp, np.dtype(dtype)
        self.params = {k: xp.array(np.asarray(v), dtype=self.dtype) for k, v in params.items()}
        self.grads = {k: xp.empty_like(v) for k, v in self.params.items()}
        self._workspaces: OrderedDict[int, Workspace] = OrderedDict()

    def workspace(self, m: int) -> Workspace:
        ws = self._workspaces.get(m)
        if ws is None:
            ws = self._workspaces[m] = Workspace(self.xp, self.spec, m, self.dtype)
            if len(self._workspaces) > MAX_WORKSPACES:
                self._workspaces.popitem(last=False)
        else:
            self._workspaces.move_to_end(m)
        return ws

    def forward(self, x: Any, ws: Workspace) -> Any:
        """Logits for the rows of ``x``, in ``ws.h[-1]``; hidden activations stay in ``ws.h``."""
        xp, p = self.xp, self.params
        a = x
        last = self.spec.n_layers
        for layer in range(1, last + 1):
            h = ws.h[layer]
            xp.dot(a, p[f"W{layer}"].T, out=h)
            h += p[f"b{layer}"]
            if layer < last:
                activate_into(xp, self.spec.activations[layer - 1], h, h, ws.row)
            a = h
        return a

    def outputs(self, x: Any) -> Any:
        """Output activations (probabilities for sigmoid and softmax outputs), in a buffer
        that the next call of the same size overwrites."""
        ws = self.workspace(x.shape[0])
        z = self.forward(x, ws)
        return activate_into(self.xp, self.spec.output_activation, z, ws.out, ws.row)

    def loss_and_logit_grad(self, ws: Workspace, t: Any) -> Any:
        """Mean loss over the batch (a 0-d array: no host sync) and dL/dlogits into ``ws.d``.

        The two likelihood losses are taken from the logits in their stable forms, as torch's
        BCEWithLogitsLoss and CrossEntropyLoss do: softplus(z) - t z for binary cross-entropy
        and logsumexp(z) - z_y for softmax cross-entropy. MSE is averaged over every output
        element, like torch's MSELoss, after the output activation.
        """
        xp, spec = self.xp, self.spec
        z, dz, out, m = ws.h[-1], ws.d[-1], ws.out, ws.m
        if spec.loss == "bce":
            # loss terms: max(z, 0) - z t + log1p(exp(-|z|))
            xp.abs(z, out=out)
            out *= -1
            xp.exp(out, out=out)
            xp.log1p(out, out=out)
            xp.maximum(z, 0, out=dz)
            out += dz
            xp.multiply(z, t, out=dz)
            out -= dz
            loss = out.mean()
            _sigmoid(xp, z, dz)
            dz -= t
            dz /= m
            return loss
        if spec.loss == "cross_entropy":
            row = ws.row
            z.max(axis=1, keepdims=True, out=row)
            xp.subtract(z, row, out=dz)  # shifted logits
            picked = dz[ws.rows, t]  # z_y - max: the only allocation of the step, m numbers
            xp.exp(dz, out=dz)
            dz.sum(axis=1, keepdims=True, out=row)
            dz /= row  # softmax
            xp.log(row, out=row)
            loss = row.mean() - picked.mean()
            dz[ws.rows, t] -= 1
            dz /= m
            return loss
        if spec.loss == "mse":
            a = activate_into(xp, spec.output_activation, z, out, ws.row)
            xp.subtract(a, t, out=dz)  # diff
            loss = (dz * dz).mean()
            dz *= 2 / dz.size  # dL/da
            self._activation_backward(spec.output_activation, dz, a, ws, None)
            return loss
        raise ValueError(f"unknown loss {spec.loss!r}")

    def _activation_backward(self, name: str, d: Any, a: Any, ws: Workspace,
                             layer: int | None) -> None:
        """Turn dL/da in ``d`` into dL/dz, in place, from the activation a = f(z)."""
        xp = self.xp
        if name in ("relu", "sigmoid", "tanh"):
            slope = ws.slope[layer] if layer is not None else xp.empty_like(a)
            if name == "relu":
                # z > 0 exactly where a = max(z, 0) > 0; the comparison writes 0/1 in the
                # run's dtype, which multiplies faster than a boolean mask cast on the fly
                xp.greater(a, 0, out=slope)
            elif name == "sigmoid":  # a (1 - a)
                xp.subtract(1, a, out=slope)
                slope *= a
            else:  # 1 - a^2
                xp.multiply(a, a, out=slope)
                xp.subtract(1, slope, out=slope)
            d *= slope
        elif name == "softmax":
            # Jacobian-vector product of softmax, row by row: a * (d - <d, a>)
            (d * a).sum(axis=1, keepdims=True, out=ws.row)
            d -= ws.row
            d *= a
        elif name != "identity":
            raise ValueError(f"unknown activation {name!r}")

    def backward(self, x: Any, ws: Workspace) -> Params:
        """Gradients of every parameter into ``self.grads``, from dL/dlogits in ``ws.d[-1]``."""
        xp, g = self.xp, self.grads
        for layer in range(self.spec.n_layers, 0, -1):
            d = ws.d[layer]
            a_prev = x if layer == 1 else ws.h[layer - 1]
            xp.dot(d.T, a_prev, out=g[f"W{layer}"])
            xp.dot(ws.ones, d, out=g[f"b{layer}"])
            if layer > 1:
                d_prev = ws.d[layer - 1]
                xp.dot(d, self.params[f"W{layer}"], out=d_prev)
                act = self.spec.activations[layer - 2]
                self._activation_backward(act, d_prev, ws.h[layer - 1], ws, layer - 1)
        return g

    def loss_and_grads(self, x: Any, t: Any, ws: Workspace | None = None) -> tuple[Any, Params]:
        """Loss (0-d array) and gradients (the network's own buffers, overwritten next call)."""
        if ws is None:
            ws = self.workspace(x.shape[0])
        ws.backward_buffers()
        self.forward(x, ws)
        loss = self.loss_and_logit_grad(ws, t)
        return loss, self.backward(x, ws)

    def sgd_step(self, lr: float) -> None:
        """p -= lr * g, in place (the gradient buffer is scaled and reused)."""
        xp = self.xp
        for name, p in self.params.items():
            g = self.grads[name]
            g *= lr
            xp.subtract(p, g, out=p)


def loss_and_grads(params: Params, spec: ModelSpec, x: np.ndarray,
                   t: np.ndarray) -> tuple[float, Params]:
    """Loss and fresh gradient arrays for parameters given as a dict (NumPy, their dtype)."""
    dtype = next(iter(params.values())).dtype
    net = Network(spec, params, dtype)
    loss, grads = net.loss_and_grads(np.ascontiguousarray(x, dtype=dtype), t)
    return float(loss), {k: v.copy() for k, v in grads.items()}
