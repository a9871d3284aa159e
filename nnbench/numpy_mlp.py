"""The multilayer perceptron from scratch: NumPy only, backward pass derived by hand.

Samples are rows: a layer computes ``z = a_prev @ W.T + b`` with W shaped (out, in), as in
``torch.nn.Linear``, so parameters move between the two implementations without transposes.
Every array keeps the dtype of the parameters (float32 stays float32): the only scalars mixed in
are Python numbers, which NumPy does not let widen an array's dtype.
"""

from __future__ import annotations

import numpy as np

from nnbench.params import Params
from nnbench.spec import ModelSpec, predicted_classes, targets


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        # tanh form: no overflow for large |z|, unlike 1 / (1 + exp(-z)).
        return 0.5 * (1 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if name == "identity":
        return z
    raise ValueError(f"unknown activation {name!r}")


def activation_backward(name: str, da: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dL/dz from dL/da, given the pre-activation z and the activation a = f(z)."""
    if name == "relu":
        return da * (z > 0)
    if name == "sigmoid":
        return da * a * (1 - a)
    if name == "tanh":
        return da * (1 - a * a)
    if name == "softmax":
        # Jacobian-vector product of softmax, row by row: a * (da - <da, a>).
        return a * (da - (da * a).sum(axis=1, keepdims=True))
    if name == "identity":
        return da
    raise ValueError(f"unknown activation {name!r}")


def loss_and_logit_grad(spec: ModelSpec, z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean loss over the batch and its gradient with respect to the output logits z.

    The two likelihood losses are taken from the logits in their stable forms, as torch's
    BCEWithLogitsLoss and CrossEntropyLoss do: softplus(z) - t z for binary cross-entropy and
    logsumexp(z) - z_y for softmax cross-entropy. MSE is averaged over every output element,
    like torch's MSELoss, after the output activation.
    """
    m = z.shape[0]
    if spec.loss == "bce":
        loss = (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).mean()
        return float(loss), (activate("sigmoid", z) - t) / m
    if spec.loss == "cross_entropy":
        shifted = z - z.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_sum
        rows = np.arange(m)
        loss = -log_probs[rows, t].mean()
        dz = np.exp(log_probs)
        dz[rows, t] -= 1
        return float(loss), dz / m
    if spec.loss == "mse":
        a = activate(spec.output_activation, z)
        diff = a - t
        loss = (diff * diff).mean()
        da = diff * (2 / diff.size)
        return float(loss), activation_backward(spec.output_activation, da, z, a)
    raise ValueError(f"unknown loss {spec.loss!r}")


def forward(params: Params, spec: ModelSpec, x: np.ndarray) -> tuple[np.ndarray, list]:
    """Output logits and the cache the backward pass needs: (input, z, a) per hidden layer."""
    cache = []
    a = x
    for layer in range(1, spec.n_layers):
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        a_next = activate(spec.activations[layer - 1], z)
        cache.append((a, z, a_next))
        a = a_next
    last = spec.n_layers
    z_out = a @ params[f"W{last}"].T + params[f"b{last}"]
    cache.append((a, None, None))
    return z_out, cache


def backward(params: Params, spec: ModelSpec, cache: list, dz: np.ndarray) -> Params:
    """Gradients of the loss for every parameter, from dL/d(logits), by the chain rule."""
    grads: Params = {}
    for layer in range(spec.n_layers, 0, -1):
        a_prev = cache[layer - 1][0]
        grads[f"W{layer}"] = dz.T @ a_prev
        grads[f"b{layer}"] = dz.sum(axis=0)
        if layer > 1:
            da_prev = dz @ params[f"W{layer}"]
            _, z_prev, a_prev_act = cache[layer - 2]
            dz = activation_backward(spec.activations[layer - 2], da_prev, z_prev, a_prev_act)
    return grads


def loss_and_grads(
    params: Params, spec: ModelSpec, x: np.ndarray, t: np.ndarray
) -> tuple[float, Params]:
    z_out, cache = forward(params, spec, x)
    loss, dz = loss_and_logit_grad(spec, z_out, t)
    return loss, backward(params, spec, cache, dz)


def outputs(params: Params, spec: ModelSpec, x: np.ndarray) -> np.ndarray:
    """Output activations (probabilities for sigmoid and softmax outputs)."""
    return activate(spec.output_activation, forward(params, spec, x)[0])


class NumpyTrainer:
    """Mini-batch SGD on the NumPy network, in the dtype of the run."""

    framework = "numpy"

    def __init__(self, spec: ModelSpec, params: Params, dtype: str, device: str, lr: float):
        if device != "cpu":
            raise ValueError(f"the NumPy trainer runs on the CPU, not {device!r}")
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.lr = lr
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in params.items()}

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x = np.ascontiguousarray(x, dtype=self.dtype)
        self.t = targets(y, self.spec, self.dtype)

    def train_epoch(self, perm: np.ndarray | None, batch_size: int | None) -> float:
        """One pass over the training set; returns the sample-weighted mean of the batch losses.

        ``perm`` is the epoch's sample order (None keeps the stored order, and full batches then
        use the arrays as they are, without a gathering copy).
        """
        n = self.x.shape[0]
        step = n if batch_size is None else batch_size
        total = 0.0
        # Overflow on the way to divergence is reported by the runner as status "diverged".
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, n, step):
                if perm is None:
                    xb, tb = self.x[start : start + step], self.t[start : start + step]
                else:
                    idx = perm[start : start + step]
                    xb, tb = self.x[idx], self.t[idx]
                loss, grads = loss_and_grads(self.params, self.spec, xb, tb)
                for name, grad in grads.items():
                    self.params[name] -= self.lr * grad
                total += loss * xb.shape[0]
        return total / n

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        xb = np.ascontiguousarray(x, dtype=self.dtype)
        return loss_and_grads(self.params, self.spec, xb, targets(y, self.spec, self.dtype))[1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return predicted_classes(outputs(self.params, self.spec, np.asarray(x, dtype=self.dtype)))

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Inputs in the run's dtype, converted once, outside any timed inference."""
        return np.ascontiguousarray(x, dtype=self.dtype)

    def infer(self, prepared: np.ndarray) -> np.ndarray:
        return outputs(self.params, self.spec, prepared)

    def numpy_params(self) -> Params:
        return {k: v.copy() for k, v in self.params.items()}

    def sync(self) -> None:
        """Nothing to wait for: NumPy returns when the work is done."""
