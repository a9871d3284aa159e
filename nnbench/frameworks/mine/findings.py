"""What is wrong with one gradient, in words: the mistakes learners make, each recognised by
the numbers it leaves.

A gradient that differs from torch autograd's is compared with what each known mistake would
give, computed here from the same parameters and batch: a constant factor (the batch size: the
mean over samples missing; -1: the sign), a transposed weight gradient, and, for a hidden layer,
a wrong activation derivative (the activation itself, no derivative, ReLU's taken as 1 at 0).
The first that matches names the mistake; none matching says how far off it is.
"""

from __future__ import annotations

import numpy as np

from nnbench.frameworks.mine.code import Layout
from nnbench.params import Params
from nnbench.spec import ModelSpec

TOL = 1e-10  # float64 gradients that agree differ by ~1e-15 relative; a mistake by far more
FACTOR_TOL = 1e-8


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference over the largest reference magnitude."""
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    return diff / scale if scale > 0 else diff


def _act(z: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


def _deriv(z: np.ndarray, name: str, mistake: str | None) -> np.ndarray:
    if mistake == "activation":
        return _act(z, name)
    if mistake == "none":
        return np.ones_like(z)
    if name == "relu":
        return (z >= 0 if mistake == "at_zero" else z > 0).astype(z.dtype)
    a = _act(z, name)
    return {"sigmoid": a * (1 - a), "tanh": 1 - a * a}.get(name, np.ones_like(z))


def reference(spec: ModelSpec, params: Params, x: np.ndarray, y: np.ndarray,
              mistake: str | None = None, layer: int = 0) -> Params:
    """Gradients of the mean loss (W (out, in), b (out,)), samples as rows, in float64; with
    ``mistake`` made in the derivative of hidden ``layer``'s activation."""
    n = spec.n_layers
    a, zs = [x], []
    for i in range(1, n + 1):
        zs.append(a[-1] @ params[f"W{i}"].T + params[f"b{i}"])
        a.append(_act(zs[-1], spec.activations[i - 1]))
    target = (y.reshape(-1, 1).astype(float) if spec.n_out == 1
              else np.eye(spec.n_out)[y])
    dz = (a[-1] - target) / x.shape[0]
    grads = {}
    for i in range(n, 0, -1):
        grads[f"W{i}"], grads[f"b{i}"] = dz.T @ a[i - 1], dz.sum(axis=0)
        if i > 1:
            dz = (dz @ params[f"W{i}"]) * _deriv(zs[i - 2], spec.activations[i - 2],
                                                 mistake if i - 1 == layer else None)
    return grads


def _factor(g: np.ndarray, r: np.ndarray) -> float | None:
    """c where g = c * r to within FACTOR_TOL, else None."""
    rr = float(np.vdot(r, r))
    if rr == 0:
        return None
    c = float(np.vdot(g, r)) / rr
    return c if c != 0 and rel(g, c * r) <= FACTOR_TOL else None


def _factor_words(d: str, c: float, m: int) -> str:
    if abs(c - m) <= 1e-6 * m and m > 1:
        return (f"{d} is off by a factor of {c:,.0f} = the batch size: the mean over samples "
                f"is missing (divide the sum over the {m:,} samples by m)")
    if abs(c * m - 1) <= 1e-6 and m > 1:
        return (f"{d} is off by a factor of 1/{m:,} = 1/the batch size: it is divided by the "
                f"batch size twice")
    if abs(c + 1) <= 1e-6:
        return f"{d} has the wrong sign: the gradient of the loss is A - Y, not Y - A"
    return f"{d} is off by a factor of {c:.6g}"


def _weight_hint(layout: Layout, i: int) -> str:
    if layout.samples == "columns":
        return f"dW{i} = dZ{i} @ A{i - 1}.T / m with samples as columns"
    if layout.weights == "in_out":
        return f"dW{i} = A{i - 1}.T @ dZ{i} / m with samples as rows and W stored (in, out)"
    return f"dW{i} = dZ{i}.T @ A{i - 1} / m with samples as rows and W stored (out, in)"


DERIVATIVE = {
    "activation": "dZ{i} = dA{i} * {act}(Z{i}): the activation where its derivative belongs: "
                  "check the {Act} derivative",
    "none": "dZ{i} = dA{i}: the {Act} derivative is missing: multiply by it",
    "at_zero": "dZ{i} wrong where Z{i} = 0: relu'(0) is taken as 1; torch takes 0: check the "
               "ReLU derivative",
}


def shape_finding(name: str, given: tuple, want: tuple, layout: Layout) -> str:
    """Why a gradient of the wrong shape is wrong."""
    d = f"d{name}"
    if name.startswith("W") and given == want[::-1]:
        return (f"{d} is transposed: it has shape {given}, {name} is {want} "
                f"({_weight_hint(layout, int(name[1:]))})")
    if name.startswith("b") and int(np.prod(given)) == int(np.prod(want)):
        return (f"{d} has shape {given}, {name} is {want} (layout bias "
                f"'{layout.bias}'): keep the bias's shape (keepdims=True)")
    return f"{d} has shape {given}, but {name} is {want}"


def name_mistake(name: str, g: np.ndarray, r: np.ndarray, m: int, layout: Layout,
                 variants: dict[tuple[str, int], Params], spec: ModelSpec) -> str:
    """Why ``g`` (nnbench's layout) differs from torch's ``r``, as far as it can be told."""
    d, layer = f"d{name}", int(name[1:])
    if name.startswith("W") and g.shape[0] == g.shape[1] and rel(g.T, r) <= TOL:
        return f"{d} is transposed (its transpose matches torch's): {_weight_hint(layout, layer)}"
    c = _factor(g, r)
    if c is not None:
        return _factor_words(d, c, m)
    for (mistake, at), grads in variants.items():
        if at == layer and rel(g, grads[name]) <= TOL:
            act = spec.activations[at - 1]
            words = DERIVATIVE[mistake].format(i=at, act=act,
                                               Act="ReLU" if act == "relu" else act)
            return f"{d} is wrong: {words}"
    return f"{d} differs from torch's by {rel(g, r):.1e} (relative to its largest entry)"


def variants(spec: ModelSpec, params: Params, x: np.ndarray, y: np.ndarray) -> dict:
    """The gradients each derivative mistake in each hidden layer would give."""
    out = {}
    for layer in range(1, spec.n_layers):
        for mistake in ("activation", "none", "at_zero"):
            if mistake == "at_zero" and spec.activations[layer - 1] != "relu":
                continue
            out[(mistake, layer)] = reference(spec, params, x, y, mistake, layer)
    return out
