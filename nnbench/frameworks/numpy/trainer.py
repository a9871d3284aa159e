"""The from-scratch NumPy network as a trainer: on the CPU with NumPy, on a GPU with CuPy.

The network itself (forward, hand-derived backward, SGD in place) is ``network.py`` beside it;
this module feeds it batches and answers the harness's questions about what it can run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from nnbench.frameworks.base import Events, MatmulKernel, Options, Trainer
from nnbench.frameworks.numpy import phases
from nnbench.frameworks.numpy.network import Network, array_module, to_host
from nnbench.measure.phases import LayerKernel, PhaseClock
from nnbench.params import Params
from nnbench.precision import Precision
from nnbench.spec import ModelSpec, targets

# What the network computes in: NumPy has no bfloat16, and no BLAS for float16.
PRECISIONS = ("float32", "float64")
CUPY_INSTALL = ("cupy-cuda13x, the CuPy for the locked torch's CUDA 13: pip install -c "
                "requirements/lock.txt -e '.[gpu]' in the nnbench checkout")


def _errstate(xp: Any):
    # Overflow on the way to divergence is reported as status "diverged", not as warnings.
    return np.errstate(over="ignore", invalid="ignore") if xp is np else contextlib.nullcontext()


def _cupy() -> Any:
    import cupy

    return cupy


def numpy_blas() -> dict[str, str]:
    """The BLAS NumPy's matmul calls, as threadpoolctl finds it loaded from NumPy's own folders
    (a process may hold SciPy's OpenBLAS and torch's MKL beside it), else as NumPy was built
    with (a system BLAS); and the LAPACK NumPy was built with."""
    from pathlib import Path

    from threadpoolctl import threadpool_info

    home = Path(np.__file__).resolve().parent
    own = (str(home) + "/", str(home.parent / "numpy.libs") + "/")
    loaded = [f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info()
              if i.get("user_api") == "blas" and str(i.get("filepath", "")).startswith(own)]
    built = np.show_config(mode="dicts").get("Build Dependencies", {})
    lapack, blas = built.get("lapack") or {}, built.get("blas") or {}
    return {"blas": ", ".join(loaded) or f"{blas.get('name')} {blas.get('version')}",
            "lapack": f"{lapack.get('name')} {lapack.get('version')}" if lapack else "unknown",
            "source": "threadpoolctl (BLAS), numpy.show_config (LAPACK)"}


class NumpyTrainer(Trainer):
    """Mini-batch SGD on the NumPy network, in the dtype of the run, on NumPy or CuPy."""

    name = "numpy"

    @classmethod
    def skip_reason(cls, device: str, precision: Precision) -> str | None:
        if precision.name not in PRECISIONS:
            return (f"precision={precision.name} is for torch: the NumPy network computes in "
                    f"{' or '.join(PRECISIONS)} (NumPy has no bfloat16 and no float16 BLAS)")
        if device != "cuda":
            return None
        try:
            cupy = _cupy()
        except ImportError:
            return ("framework=numpy device=cuda runs the NumPy network on CUDA through CuPy, "
                    f"which is not installed ({CUPY_INSTALL})")
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError as err:
            return f"CuPy finds no CUDA device on this host ({err})"
        return None if count > 0 else "CuPy finds no CUDA device on this host"

    @classmethod
    def blas(cls, device: str) -> dict[str, str] | None:
        if device == "cuda":
            return {"blas": f"cublas (CuPy {_cupy().__version__})", "source": "CuPy"}
        return numpy_blas()

    @classmethod
    def matmul_kernel(cls, n: int, dtype: str, device: str, tf32: bool) -> MatmulKernel:
        xp = array_module(device)
        rng = np.random.default_rng(0)
        a, b = (xp.asarray(rng.standard_normal((n, n)).astype(dtype)) for _ in range(2))
        out = xp.empty((n, n), dtype=dtype)
        sync = xp.cuda.get_current_stream().synchronize if xp is not np else (lambda: None)
        return (lambda: xp.matmul(a, b, out=out)), sync

    def __init__(self, spec: ModelSpec, params: Params, precision: Precision | str, device: str,
                 lr: float, options: Options | None = None):
        super().__init__(spec, params, precision, device, lr, options)
        self.xp = array_module(device)
        self.dtype = np.dtype(self.precision.param_dtype)
        self.net = Network(spec, params, self.dtype, self.xp)
        # NumPy's take buffers its output unless told how to treat out-of-range indices (a
        # permutation has none); CuPy's take has no such argument
        self._take_mode = {"mode": "clip"} if self.xp is np else {}
        self.params = self.net.params

    def _device_arrays(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        x = self.xp.asarray(np.ascontiguousarray(x, dtype=self.dtype))
        return x, self.xp.asarray(targets(y, self.spec, self.dtype))

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.t = self._device_arrays(x, y)

    def train_epoch(self, perm: np.ndarray | None, batch_size: int | None) -> float:
        """One pass over the training set; returns the sample-weighted mean of the batch losses.

        ``perm`` is the epoch's sample order (None keeps the stored order, and batches are then
        slices of the stored arrays, without a gathering copy). The loss is summed as an array
        and read back once per epoch: on a GPU a per-step read would stall the device.
        """
        xp, net = self.xp, self.net
        n = self.x.shape[0]
        step = n if batch_size is None else batch_size
        order = None if perm is None else xp.asarray(perm)
        total = 0.0
        with _errstate(xp):
            for start in range(0, n, step):
                stop = min(start + step, n)
                ws = net.workspace(stop - start)
                ws.backward_buffers()
                if order is None:
                    xb, tb = self.x[start:stop], self.t[start:stop]
                else:
                    idx = order[start:stop]
                    xb = xp.take(self.x, idx, axis=0, out=ws.x, **self._take_mode)
                    tb = self.t[idx]
                loss, _ = net.loss_and_grads(xb, tb, ws)
                net.sgd_step(self.lr)
                total = total + loss.astype(xp.float64) * (stop - start)
        return float(total) / n

    def train_epoch_phased(self, perm: np.ndarray | None, batch_size: int | None,
                           clock: PhaseClock) -> float:
        with _errstate(self.xp):
            return phases.train_epoch_phased(self, perm, batch_size, clock)

    def layer_kernels(self, batch_size: int) -> list[LayerKernel]:
        return phases.layer_kernels(self, batch_size)

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        xb, tb = self._device_arrays(x, y)
        _, grads = self.net.loss_and_grads(xb, tb)
        return {k: to_host(v).copy() for k, v in grads.items()}

    @property
    def optimizer(self) -> str:
        return "SGD (in-place update)"

    def outputs_to_numpy(self, outputs: Any) -> np.ndarray:
        return to_host(outputs)

    def prepare(self, x: np.ndarray) -> Any:
        """Inputs in the run's dtype on the run's device, outside any timed inference."""
        return self.xp.asarray(np.ascontiguousarray(x, dtype=self.dtype))

    def infer(self, prepared: Any) -> Any:
        return self.net.outputs(prepared)

    def numpy_params(self) -> Params:
        return {k: to_host(v).copy() for k, v in self.params.items()}

    def sync(self) -> None:
        """NumPy returns when the work is done; CuPy queues kernels on the device's stream."""
        if self.xp is not np:
            self.xp.cuda.get_current_stream().synchronize()

    # -- probes: on CuPy, its events and its memory pool

    def cuda_events(self) -> Events | None:
        if self.xp is np:
            return None
        cupy = self.xp
        return cupy.cuda.Event, lambda start, stop: cupy.cuda.get_elapsed_time(start, stop) / 1e3

    def reset_peak_memory(self) -> None:
        if self.xp is not np:
            self.sync()
            self.xp.get_default_memory_pool().free_all_blocks()

    def peak_memory(self) -> tuple[float | None, str | None]:
        """CuPy's pool keeps no peak, but it keeps every block it ever needed until freed:
        the bytes it holds after training are a peak of reserved, not allocated, memory."""
        if self.xp is np:
            return None, None
        self.sync()
        return (self.xp.get_default_memory_pool().total_bytes() / 2**20,
                "CuPy memory pool total_bytes after training (peak reserved)")
