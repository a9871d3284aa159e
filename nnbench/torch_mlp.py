"""The PyTorch twin: the same network as an ``nn.Module``, trained with ``torch.optim.SGD``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnbench.params import Params
from nnbench.spec import ModelSpec, predicted_classes, targets

_HIDDEN = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TorchMLP(nn.Module):
    """Linear layers with hidden activations; ``forward`` returns the output logits.

    The output activation is left out of ``forward`` because the likelihood losses take logits
    (BCEWithLogitsLoss, CrossEntropyLoss); ``outputs`` applies it.
    """

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = []
        sizes = spec.layer_sizes
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(nn.Linear(n_in, n_out))
            if i < spec.n_layers - 1:
                layers.append(_HIDDEN[spec.activations[i]]())
        self.net = nn.Sequential(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        return output_activation(self.spec.output_activation, self(x))

    @torch.no_grad()
    def load_numpy(self, params: Params) -> None:
        """Copy NumPy parameters in; both store W as (out, in), so nothing is transposed."""
        for i, linear in enumerate(self.linears, start=1):
            linear.weight.copy_(torch.from_numpy(np.asarray(params[f"W{i}"])))
            linear.bias.copy_(torch.from_numpy(np.asarray(params[f"b{i}"])))

    def numpy_params(self) -> Params:
        out: Params = {}
        for i, linear in enumerate(self.linears, start=1):
            out[f"W{i}"] = linear.weight.detach().cpu().numpy().copy()
            out[f"b{i}"] = linear.bias.detach().cpu().numpy().copy()
        return out

    def numpy_grads(self) -> Params:
        out: Params = {}
        for i, linear in enumerate(self.linears, start=1):
            out[f"W{i}"] = linear.weight.grad.detach().cpu().numpy().copy()
            out[f"b{i}"] = linear.bias.grad.detach().cpu().numpy().copy()
        return out


def output_activation(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "softmax":
        return torch.softmax(z, dim=1)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":
        return torch.relu(z)
    return z


def loss_fn(spec: ModelSpec, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if spec.loss == "bce":
        return F.binary_cross_entropy_with_logits(z, t)
    if spec.loss == "cross_entropy":
        return F.cross_entropy(z, t)
    return F.mse_loss(output_activation(spec.output_activation, z), t)


class TorchTrainer:
    """Mini-batch SGD with the data resident on the device before any epoch starts."""

    framework = "torch"

    def __init__(self, spec: ModelSpec, params: Params, dtype: str, device: str, lr: float):
        self.spec = spec
        self.dtype = DTYPES[dtype]
        self.np_dtype = np.dtype(dtype)
        self.device = torch.device(device)
        self.model = TorchMLP(spec).to(device=self.device, dtype=self.dtype)
        self.model.load_numpy({k: np.asarray(v, dtype=self.np_dtype) for k, v in params.items()})
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype)).to(self.device)
        tt = torch.from_numpy(targets(y, self.spec, self.np_dtype)).to(self.device)
        return xt, tt

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.t = self._tensors(x, y)

    def train_epoch(self, perm: np.ndarray | None, batch_size: int | None) -> float:
        """One pass over the training set; the loss is read back once, at the end of the epoch.

        Per-step ``.item()`` calls would force a host sync on every step, which a user's loop
        does not need; the batch losses are summed on the device instead.
        """
        self.model.train()
        n = self.x.shape[0]
        step = n if batch_size is None else batch_size
        order = None if perm is None else torch.from_numpy(perm).to(self.device)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for start in range(0, n, step):
            if order is None:
                xb, tb = self.x[start : start + step], self.t[start : start + step]
            else:
                idx = order[start : start + step]
                xb, tb = self.x[idx], self.t[idx]
            self.optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(self.spec, self.model(xb), tb)
            loss.backward()
            self.optimizer.step()
            total += loss.detach().double() * xb.shape[0]
        return float(total) / n

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        xt, tt = self._tensors(x, y)
        self.model.zero_grad(set_to_none=True)
        loss_fn(self.spec, self.model(xt), tt).backward()
        grads = self.model.numpy_grads()
        self.model.zero_grad(set_to_none=True)
        return grads

    @torch.inference_mode()
    def predict(self, x: np.ndarray) -> np.ndarray:
        self.model.eval()
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype)).to(self.device)
        return predicted_classes(self.model.outputs(xt).cpu().numpy())

    def prepare(self, x: np.ndarray) -> torch.Tensor:
        """Inputs on the device in the run's dtype, moved once, outside any timed inference."""
        self.model.eval()
        return torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype)).to(self.device)

    @torch.inference_mode()
    def infer(self, prepared: torch.Tensor) -> torch.Tensor:
        return self.model.outputs(prepared)

    def numpy_params(self) -> Params:
        return self.model.numpy_params()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
