"""The PyTorch twin: the same network as an ``nn.Module``, trained with ``torch.optim.SGD``.

The training loop is written as a practitioner tuning it would: data resident on the device
before the first epoch, ``zero_grad(set_to_none=True)``, no host sync inside an epoch (the loss
is summed on the device and read once), torch's fused SGD kernel on CUDA, and optionally
``torch.compile``, TF32, half-width or mixed precision (``nnbench.precision``).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnbench.params import Params
from nnbench.precision import Precision, get
from nnbench.spec import ModelSpec, predicted_classes, targets

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


class TorchTrainer:
    """Mini-batch SGD with the data resident on the device before any epoch starts.

    ``compile_mode`` (one of torch.compile's modes, or None for eager) compiles the model and
    loss; ``warm_up`` then compiles every batch shape of an epoch, so that the benchmark can time
    compilation apart from training. Shapes are compiled statically (``dynamic=False``): each
    batch size gets the kernel a fixed-shape training run would.
    """

    framework = "torch"
    backend = "torch"

    def __init__(self, spec: ModelSpec, params: Params, precision: str, device: str, lr: float,
                 compile_mode: str | None = None, tf32: bool = False):
        self.spec = spec
        self.precision: Precision = get(precision)
        self.dtype = DTYPES[self.precision.param_dtype]
        # host-side dtype the data is converted through (NumPy has no bfloat16)
        self.np_dtype = np.dtype("float64" if self.dtype == torch.float64 else "float32")
        self.device = torch.device(device)
        self.tf32 = set_tf32(tf32) if self.device.type == "cuda" else False
        self.model = TorchMLP(spec).to(device=self.device, dtype=self.dtype)
        self.model.load_numpy(params)
        cuda = self.device.type == "cuda"
        # The fused kernel updates every parameter in one launch and, with a gradient scaler,
        # checks for overflow on the device instead of reading a flag back every step.
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr, fused=cuda or None)
        self.optimizer_name = "SGD(fused)" if cuda else "SGD(foreach)"
        autocast_dtype = self.precision.autocast_dtype
        self._autocast = (
            (lambda: torch.autocast(self.device.type, dtype=DTYPES[autocast_dtype]))
            if autocast_dtype else contextlib.nullcontext
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.grad_scaler)
        self.compile_mode = compile_mode
        self._batch_loss = self._eager_batch_loss
        self._outputs = self.model.outputs
        if compile_mode is not None:
            self._batch_loss = torch.compile(self._eager_batch_loss, mode=compile_mode,
                                             dynamic=False)
            self._outputs = torch.compile(self.model.outputs, mode=compile_mode, dynamic=False)

    @property
    def compiled(self) -> bool:
        return self.compile_mode is not None

    def _eager_batch_loss(self, xb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        return loss_fn(self.spec, self.model(xb), tb)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype))
        tt = torch.from_numpy(targets(y, self.spec, self.np_dtype))
        xt = xt.to(device=self.device, dtype=self.dtype)
        if tt.is_floating_point():
            tt = tt.to(dtype=self.dtype)
        return xt, tt.to(self.device)

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.t = self._tensors(x, y)

    def _step(self, xb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self._batch_loss(xb, tb)
        # with the scaler disabled, scale/step/update are loss, optimizer.step() and nothing
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss

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
            loss = self._step(xb, tb)
            total += loss.detach().double() * xb.shape[0]
        return float(total) / n

    def warm_up(self, batch_sizes: list[int]) -> None:
        """Compile forward and backward for each batch size (no parameter changes)."""
        self.model.train()
        for m in batch_sizes:
            with self._autocast():
                loss = self._batch_loss(self.x[:m], self.t[:m])
            self.scaler.scale(loss).backward()
        self.optimizer.zero_grad(set_to_none=True)

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        xt, tt = self._tensors(x, y)
        self.model.zero_grad(set_to_none=True)
        loss_fn(self.spec, self.model(xt), tt).backward()
        grads = self.model.numpy_grads()
        self.model.zero_grad(set_to_none=True)
        return grads

    @torch.inference_mode()
    def predict(self, x: np.ndarray) -> np.ndarray:
        return predicted_classes(to_numpy(self.infer(self.prepare(x))))

    def prepare(self, x: np.ndarray) -> torch.Tensor:
        """Inputs on the device in the run's dtype, moved once, outside any timed inference."""
        self.model.eval()
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype))
        return xt.to(device=self.device, dtype=self.dtype)

    @torch.inference_mode()
    def infer(self, prepared: torch.Tensor) -> torch.Tensor:
        with self._autocast():
            return self._outputs(prepared)

    def numpy_params(self) -> Params:
        return self.model.numpy_params()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
