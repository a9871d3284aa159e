"""The PyTorch MLP as a trainer: ``torch.optim.SGD`` over the ``nn.Module`` twin.

The training loop is written as a practitioner tuning it would: data resident on the device
before the first epoch, ``zero_grad(set_to_none=True)``, no host sync inside an epoch (the loss
is summed on the device and read once), torch's fused SGD kernel on CUDA, and optionally
``torch.compile``, TF32, half-width or mixed precision (``nnbench.precision``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.errors import ConfigError
from nnbench.frameworks.base import Events, MatmulKernel, Trainer
from nnbench.frameworks.base import Options as BaseOptions
from nnbench.frameworks.lazy import LazyModule, nvidia_driver
from nnbench.measure.phases import LayerKernel, PhaseClock
from nnbench.params import Params
from nnbench.precision import Precision
from nnbench.spec import ModelSpec, targets

# Imported on first use: resolving a torch job, or skipping one on a host without a GPU, does
# not import torch (over a second); the job's own process does, or the warm one it forks from.
torch = LazyModule("torch")
torch_mlp = LazyModule("nnbench.frameworks.torch.network")
torch_phases = LazyModule("nnbench.frameworks.torch.phases")
torch_libraries = LazyModule("nnbench.frameworks.torch.libraries")

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


@dataclass
class Options(BaseOptions):
    # torch.compile the model and loss; the compile time is recorded apart from training.
    compile: bool = False
    compile_mode: str = "default"


def cpu_half_support(dtype: str) -> str | None:
    """None when this CPU has native ``dtype`` arithmetic for torch, else why not.

    Without it torch still computes, through float32 conversions one element at a time, several
    times slower than float32: a timing of that says nothing about the precision.
    """
    cpu = torch.cpu
    if dtype == "bfloat16":
        if cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported():
            return None
        return "this CPU has no bfloat16 arithmetic (neither AVX512-BF16 nor AMX)"
    if dtype == "float16":
        if cpu._is_amx_fp16_supported():
            return None
        return "this CPU has no float16 matrix arithmetic (no AMX-FP16)"
    return None


class TorchTrainer(Trainer):
    """Mini-batch SGD with the data resident on the device before any epoch starts.

    With ``compile``, torch.compile wraps the model and loss; ``warm_up`` then compiles every
    batch shape of an epoch, so that compilation is timed apart from training. Shapes are
    compiled statically (``dynamic=False``): each batch size gets the kernel a fixed-shape
    training run would.
    """

    name = "torch"
    Options = Options

    @classmethod
    def preload(cls) -> None:
        torch_mlp.TorchMLP  # noqa: B018 - imports torch, torch.nn and the model
        # torch.optim's first optimizer imports torch._dynamo (over a second): import only, no
        # tensor work, so no thread pool is started in the process jobs are forked from
        import torch._dynamo  # noqa: F401

    @classmethod
    def skip_reason(cls, device: str, precision: Precision) -> str | None:
        if device == "cuda":
            if nvidia_driver() is not None:
                return f"CUDA is not available on this host: {nvidia_driver()}"
            if not torch.cuda.is_available():
                return "CUDA is not available on this host (torch.cuda.is_available() is False)"
            if precision.compute_dtype == "bfloat16" and not torch.cuda.is_bf16_supported():
                return f"precision={precision.name}: this GPU has no bfloat16 support"
            return None
        if precision.half_width is not None:
            reason = cpu_half_support(precision.half_width)
            if reason:
                return f"precision={precision.name} on the CPU: {reason}"
        return None

    @classmethod
    def check(cls, name: str, options: Options, device: str, precision: Precision) -> None:
        if options.compile_mode not in COMPILE_MODES:
            raise ConfigError(f"framework.compile_mode={options.compile_mode!r} is not known; "
                              f"allowed: {', '.join(COMPILE_MODES)}")
        if not precision.tf32:
            return
        if device != "cuda":
            raise ConfigError(f"precision.tf32=true applies to torch on CUDA; this job is "
                              f"framework={name} device={device}")
        if precision.param_dtype != "float32":  # float64 and whole-network half widths
            raise ConfigError(
                f"precision.tf32=true changes float32 matmuls, which precision={precision.name} "
                f"has none of; use it with float32, mixed_float16 or mixed_bfloat16")

    @classmethod
    def compile_mode(cls, options: Options) -> str | None:
        return options.compile_mode if options.compile else None

    @classmethod
    def blas(cls, device: str) -> dict[str, str] | None:
        return torch_libraries.blas(device)  # MKL here: not the OpenBLAS NumPy loads beside it

    @classmethod
    def matmul_kernel(cls, n: int, dtype: str, device: str, tf32: bool) -> MatmulKernel:
        if device == "cuda":
            torch_mlp.set_tf32(tf32)
        dt = getattr(torch, dtype)
        gen = torch.Generator(device="cpu").manual_seed(0)
        a, b = (torch.randn(n, n, generator=gen, dtype=dt).to(device) for _ in range(2))
        out = torch.empty(n, n, dtype=dt, device=device)
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        return (lambda: torch.matmul(a, b, out=out)), sync

    @classmethod
    def free_memory(cls) -> None:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __init__(self, spec: ModelSpec, params: Params, precision: Precision | str, device: str,
                 lr: float, options: Options | None = None):
        super().__init__(spec, params, precision, device, lr, options)
        self.dtype = torch_mlp.DTYPES[self.precision.param_dtype]
        # host-side dtype the data is converted through (NumPy has no bfloat16)
        self.np_dtype = np.dtype("float64" if self.dtype == torch.float64 else "float32")
        self.torch_device = torch.device(device)
        cuda = self.torch_device.type == "cuda"
        self.tf32 = torch_mlp.set_tf32(self.precision.tf32) if cuda else False
        self.model = torch_mlp.TorchMLP(spec).to(device=self.torch_device, dtype=self.dtype)
        self.model.load_numpy(params)
        # The fused kernel updates every parameter in one launch and, with a gradient scaler,
        # checks for overflow on the device instead of reading a flag back every step.
        self.sgd = torch.optim.SGD(self.model.parameters(), lr=lr, fused=cuda or None)
        autocast_dtype = self.precision.autocast_dtype
        self._autocast = (
            (lambda: torch.autocast(self.torch_device.type,
                                    dtype=torch_mlp.DTYPES[autocast_dtype]))
            if autocast_dtype else contextlib.nullcontext
        )
        self.scaler = torch.amp.GradScaler(self.torch_device.type,
                                           enabled=self.precision.grad_scaler)
        self._batch_loss = self._eager_batch_loss
        self._outputs = self.model.outputs
        mode = self.compile_mode(self.options)
        if mode is not None:
            _quiet_compiler(cuda=self.torch_device.type == "cuda")
            self._batch_loss = torch.compile(self._eager_batch_loss, mode=mode, dynamic=False)
            self._outputs = torch.compile(self.model.outputs, mode=mode, dynamic=False)

    def _eager_batch_loss(self, xb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        return torch_mlp.loss_fn(self.spec, self.model(xb), tb)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype))
        tt = torch.from_numpy(targets(y, self.spec, self.np_dtype))
        xt = xt.to(device=self.torch_device, dtype=self.dtype)
        if tt.is_floating_point():
            tt = tt.to(dtype=self.dtype)
        return xt, tt.to(self.torch_device)

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.t = self._tensors(x, y)

    def _step(self, xb: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        # trace.py's _labelled_step makes these calls under the trace's labels: change both
        # (and phases.py's train_epoch_phased, between the clock's marks)
        self.sgd.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self._batch_loss(xb, tb)
        # with the scaler disabled, scale/step/update are loss, optimizer.step() and nothing
        self.scaler.scale(loss).backward()
        self.scaler.step(self.sgd)
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
        order = None if perm is None else torch.from_numpy(perm).to(self.torch_device)
        total = torch.zeros((), dtype=torch.float64, device=self.torch_device)
        for start in range(0, n, step):
            if order is None:
                xb, tb = self.x[start : start + step], self.t[start : start + step]
            else:
                idx = order[start : start + step]
                xb, tb = self.x[idx], self.t[idx]
            loss = self._step(xb, tb)
            total += loss.detach().double() * xb.shape[0]
        return float(total) / n

    def train_epoch_phased(self, perm: np.ndarray | None, batch_size: int | None,
                           clock: PhaseClock) -> float:
        return torch_phases.train_epoch_phased(self, perm, batch_size, clock)

    def layer_kernels(self, batch_size: int) -> list[LayerKernel]:
        return torch_phases.layer_kernels(self, batch_size)

    def warm_up(self, batch_sizes: list[int]) -> None:
        """Compile forward and backward for each batch size (no parameter changes)."""
        self.model.train()
        for m in batch_sizes:
            with self._autocast():
                loss = self._batch_loss(self.x[:m], self.t[:m])
            self.scaler.scale(loss).backward()
        self.sgd.zero_grad(set_to_none=True)

    def trace(self, path: Path) -> contextlib.AbstractContextManager:
        """torch.profiler over the epochs run inside, its Chrome trace written to ``path``."""
        from nnbench.frameworks.torch.trace import chrome_trace  # imports torch.profiler

        return chrome_trace(self, path)

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        xt, tt = self._tensors(x, y)
        self.model.zero_grad(set_to_none=True)
        torch_mlp.loss_fn(self.spec, self.model(xt), tt).backward()
        grads = self.model.numpy_grads()
        self.model.zero_grad(set_to_none=True)
        return grads

    @property
    def optimizer(self) -> str:
        return "SGD(fused)" if self.torch_device.type == "cuda" else "SGD(foreach)"

    def outputs_to_numpy(self, outputs: Any) -> np.ndarray:
        return torch_mlp.to_numpy(outputs)

    def prepare(self, x: np.ndarray) -> torch.Tensor:
        """Inputs on the device in the run's dtype, moved once, outside any timed inference."""
        self.model.eval()
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.np_dtype))
        return xt.to(device=self.torch_device, dtype=self.dtype)

    def infer(self, prepared: torch.Tensor) -> Any:
        with torch.inference_mode(), self._autocast():
            return self._outputs(prepared)

    def numpy_params(self) -> Params:
        return self.model.numpy_params()

    def sync(self) -> None:
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize(self.torch_device)

    # -- probes: CUDA events and the caching allocator's peak

    def cuda_events(self) -> Events | None:
        if self.torch_device.type != "cuda":
            return None
        return (lambda: torch.cuda.Event(enable_timing=True),
                lambda start, stop: start.elapsed_time(stop) / 1e3)

    def reset_peak_memory(self) -> None:
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def peak_memory(self) -> tuple[float | None, str | None]:
        if self.torch_device.type != "cuda":
            return None, None
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() / 2**20,
                "torch.cuda.max_memory_allocated (peak allocated)")


def _quiet_compiler(cuda: bool) -> None:
    """What torch.compile says that is not about this job: off a GPU, the C++ toolchain's
    probe warns "No CUDA runtime is found, using CUDA_HOME=..." wherever a CUDA toolkit is
    installed. A job compiles two small graphs: one compile thread does it without a pool of
    worker processes. (A first compile with a cold inductor cache still leaves a semaphore the
    interpreter warns about at exit.)"""
    import logging

    import torch._inductor.config as inductor

    if not cuda:
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    inductor.compile_threads = 1
