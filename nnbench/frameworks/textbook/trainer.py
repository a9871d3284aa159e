"""The textbook NumPy MLP (``network.py`` beside this) as a trainer: the baseline the seeds write.

Parameters in a dict, samples as columns, a new array for every operation, float64 ReLU masks
and the loss as ``log(p + eps)``: what ``make bench-numpy`` measures nnbench's network against,
and, as ``framework=textbook``, a contender of its own. It trains ReLU networks with a sigmoid
output and binary cross-entropy, or a softmax output and cross-entropy, on the CPU.
"""

from __future__ import annotations

import numpy as np

from nnbench.errors import ConfigError
from nnbench.frameworks.base import MatmulKernel, Options, Trainer
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.textbook import phases
from nnbench.frameworks.textbook.network import TextbookMLP
from nnbench.measure.phases import LayerKernel, PhaseClock
from nnbench.params import Params
from nnbench.precision import Precision
from nnbench.spec import ModelSpec

OUTPUTS = {"bce": "sigmoid", "cross_entropy": "softmax"}


class TextbookTrainer(Trainer):
    name = "textbook"

    @classmethod
    def skip_reason(cls, device: str, precision: Precision) -> str | None:
        if device != "cpu":
            return "the textbook MLP is plain NumPy: it runs on the CPU only"
        if precision.name not in ("float32", "float64"):
            return f"precision={precision.name}: the textbook MLP computes in float32 or float64"
        return None

    @classmethod
    def check_model(cls, spec: ModelSpec) -> None:
        hidden = sorted(set(spec.activations[:-1]) - {"relu"})
        if hidden or OUTPUTS.get(spec.loss) != spec.output_activation:
            what = (f"hidden activations {', '.join(hidden)}" if hidden else
                    f"a {spec.output_activation} output with train.loss={spec.loss}")
            raise ConfigError(f"framework=textbook trains ReLU networks with a sigmoid output "
                              f"and train.loss=bce, or a softmax output and "
                              f"train.loss=cross_entropy; this job has {what} (arch.activations)")

    @classmethod
    def blas(cls, device: str) -> dict[str, str] | None:
        return NumpyTrainer.blas(device)  # the same np.matmul

    @classmethod
    def matmul_kernel(cls, n: int, dtype: str, device: str, tf32: bool) -> MatmulKernel:
        return NumpyTrainer.matmul_kernel(n, dtype, device, tf32)  # the same np.matmul

    def __init__(self, spec: ModelSpec, params: Params, precision: Precision | str, device: str,
                 lr: float, options: Options | None = None):
        super().__init__(spec, params, precision, device, lr, options)
        self.check_model(spec)  # also when built outside a job
        self.model = TextbookMLP(params, self.precision.param_dtype)

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.model.set_train_data(x, y)
        self.x, self.y = self.model.x, self.model.y  # samples as columns

    def train_epoch(self, perm: np.ndarray | None, batch_size: int | None) -> float:
        n = self.x.shape[1]
        step = n if batch_size is None else batch_size
        model, total = self.model, 0.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for start in range(0, n, step):
                cols = slice(start, start + step) if perm is None else perm[start:start + step]
                model.x, model.y = self.x[:, cols], self.y[:, cols]
                total += model.train_epoch(self.lr) * model.x.shape[1]
        model.x, model.y = self.x, self.y
        return total / n

    def train_epoch_phased(self, perm: np.ndarray | None, batch_size: int | None,
                           clock: PhaseClock) -> float:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return phases.train_epoch_phased(self, perm, batch_size, clock)

    def layer_kernels(self, batch_size: int) -> list[LayerKernel]:
        return phases.layer_kernels(self, batch_size)

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.T, dtype=self.model.dtype)

    def infer(self, prepared: np.ndarray) -> np.ndarray:
        return self.model.forward(prepared)[0]

    @property
    def optimizer(self) -> str:
        return "gradient descent (new arrays every step)"

    def outputs_to_numpy(self, outputs: np.ndarray) -> np.ndarray:
        return outputs.T  # the textbook keeps samples as columns

    def numpy_params(self) -> Params:
        return {k: (v.reshape(-1) if k.startswith("b") else v).copy()
                for k, v in self.model.params.items()}
