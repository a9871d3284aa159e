"""The PyTorch twin of the NumPy network: the same MLP as an ``nn.Module``, and its loss.

The training loop that drives it is ``nnbench.frameworks.torch.trainer``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnbench.params import Params
from nnbench.spec import ModelSpec

_HIDDEN = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "identity": nn.Identity}
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16}


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
        """Copy NumPy parameters in, rounding to the model's dtype on the way (as NumPy's
        ``astype`` does); both store W as (out, in), so nothing is transposed."""
        for i, linear in enumerate(self.linears, start=1):
            linear.weight.copy_(torch.from_numpy(np.asarray(params[f"W{i}"])))
            linear.bias.copy_(torch.from_numpy(np.asarray(params[f"b{i}"])))

    def numpy_params(self) -> Params:
        out: Params = {}
        for i, linear in enumerate(self.linears, start=1):
            out[f"W{i}"] = to_numpy(linear.weight)
            out[f"b{i}"] = to_numpy(linear.bias)
        return out

    def numpy_grads(self) -> Params:
        out: Params = {}
        for i, linear in enumerate(self.linears, start=1):
            out[f"W{i}"] = to_numpy(linear.weight.grad)
            out[f"b{i}"] = to_numpy(linear.bias.grad)
        return out


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A host copy; bfloat16, which NumPy has no dtype for, widened to float32 (exactly)."""
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.cpu().numpy().copy()


def set_tf32(enabled: bool) -> bool:
    """Allow (or forbid) TF32 for CUDA float32 matmuls; returns the setting now in force."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):  # the API that replaces allow_tf32
        matmul.fp32_precision = "tf32" if enabled else "ieee"
    else:
        matmul.allow_tf32 = enabled
    return bool(matmul.allow_tf32)


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
