"""Your network as a trainer: your ``forward`` and ``backward``, nnbench's loop around them.

nnbench owns what is not the network: the start (the parameters every framework starts from,
put in your layout), the batches (the permutation every framework is handed), the loss it
records (computed from your outputs), the SGD update ``p -= lr * dp`` in place, and the clock.
So your functions are timed on exactly the work torch's are, and their phases are your
functions: ``forward`` (with the loss), ``backward``, the update.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnbench.errors import ConfigError
from nnbench.frameworks.base import MatmulKernel, Trainer
from nnbench.frameworks.base import Options as BaseOptions
from nnbench.frameworks.mine import code as learner
from nnbench.frameworks.mine import diagnosis
from nnbench.frameworks.mine.code import mean_loss, named
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.measure.phases import PhaseClock
from nnbench.params import Params
from nnbench.precision import Precision
from nnbench.spec import ModelSpec

OUTPUTS = {"bce": "sigmoid", "cross_entropy": "softmax"}


@dataclass
class Options(BaseOptions):
    # the file or module of your network; conf/framework/mine.yaml takes it from `mine=`
    code: str | None = None


class MineTrainer(Trainer):
    name = "mine"
    Options = Options

    @classmethod
    def skip_reason(cls, device: str, precision: Precision) -> str | None:
        if device != "cpu":
            return "your network is NumPy code: it runs on the CPU only"
        if precision.name not in ("float32", "float64"):
            return f"precision={precision.name}: your network is run in float32 or float64"
        return None

    @classmethod
    def check(cls, name: str, options: BaseOptions, device: str, precision: Precision) -> None:
        super().check(name, options, device, precision)
        learner.load(getattr(options, "code", None))  # refused before any job starts

    @classmethod
    def check_model(cls, spec: ModelSpec) -> None:
        if OUTPUTS.get(spec.loss) != spec.output_activation:
            raise ConfigError(f"framework=mine trains a sigmoid output with train.loss=bce or a "
                              f"softmax output with train.loss=cross_entropy (the loss is "
                              f"computed from your outputs); this job has a "
                              f"{spec.output_activation} output with train.loss={spec.loss}")

    @classmethod
    def code_files(cls, options: BaseOptions) -> list[Path]:
        try:
            file = learner.load(getattr(options, "code", None)).file
        except ConfigError:  # the job itself then fails saying why
            return []
        return [file] if file is not None else []

    @classmethod
    def preload(cls) -> None:
        # every job's diagnosis builds torch's twin of your network: import it once, in the
        # process the jobs are forked from
        from nnbench.frameworks.torch.trainer import TorchTrainer

        TorchTrainer.preload()

    @classmethod
    def matmul_kernel(cls, n: int, dtype: str, device: str, tf32: bool) -> MatmulKernel:
        return NumpyTrainer.matmul_kernel(n, dtype, device, tf32)  # the same np.matmul

    def __init__(self, spec: ModelSpec, params: Params, precision: Precision | str, device: str,
                 lr: float, options: BaseOptions | None = None):
        super().__init__(spec, params, precision, device, lr, options)
        self.check_model(spec)  # also when built outside a job
        self.code = learner.load(self.options.code)
        self.layout = self.code.layout
        self.dtype = self.precision.param_dtype
        if self.code.setup is not None:
            self.code.setup(list(spec.layer_sizes), list(spec.activations))
        self.params = self.layout.params_in(params, self.dtype)

    # -- what nnbench hands your functions, in your layout

    def inputs(self, x: np.ndarray) -> np.ndarray:
        return self.layout.x_in(x, self.dtype)

    def labels(self, y: np.ndarray) -> np.ndarray:
        return self.layout.y_in(y, self.spec.n_out, self.dtype)

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = self.inputs(x), self.labels(y)
        self.classes = np.asarray(y, dtype=np.int64)  # what the recorded loss is taken against

    def _batch(self, rows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        columns = self.layout.samples == "columns"
        x = self.x[:, rows] if columns else self.x[rows]
        one_hot = self.layout.labels == "one_hot"
        y = self.y[:, rows] if columns and one_hot else self.y[rows]
        return x, y, self.classes[rows]

    def train_epoch(self, perm: np.ndarray | None, batch_size: int | None) -> float:
        n = self.classes.shape[0]
        step = n if batch_size is None else batch_size
        forward, backward, params, lr = self.code.forward, self.code.backward, self.params, \
            self.lr
        total = 0.0
        for start in range(0, n, step):
            rows = slice(start, start + step) if perm is None else perm[start:start + step]
            x, y, classes = self._batch(rows)
            outputs, cache = forward(params, x)
            total += mean_loss(self.layout.outputs_out(outputs), classes) * classes.shape[0]
            grads = named(backward(params, cache, x, y), params)
            for name, value in params.items():
                value -= lr * grads[name]
        return total / n

    def train_epoch_phased(self, perm: np.ndarray | None, batch_size: int | None,
                           clock: PhaseClock) -> float:
        n = self.classes.shape[0]
        step = n if batch_size is None else batch_size
        forward, backward, params, lr = self.code.forward, self.code.backward, self.params, \
            self.lr
        total = 0.0
        for start in range(0, n, step):
            clock.mark("rest")
            rows = slice(start, start + step) if perm is None else perm[start:start + step]
            x, y, classes = self._batch(rows)
            clock.mark("gather")
            outputs, cache = forward(params, x)
            total += mean_loss(self.layout.outputs_out(outputs), classes) * classes.shape[0]
            clock.mark("forward")
            grads = named(backward(params, cache, x, y), params)
            clock.mark("backward")
            for name, value in params.items():
                value -= lr * grads[name]
            clock.mark("update")
        return total / n

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return self.inputs(x)

    def infer(self, prepared: np.ndarray) -> Any:
        return self.code.forward(self.params, prepared)[0]

    def outputs_to_numpy(self, outputs: Any) -> np.ndarray:
        return self.layout.outputs_out(outputs)

    @property
    def optimizer(self) -> str:
        return "SGD (nnbench's update of your gradients)"

    # -- the agreement checks: parameters and gradients as nnbench's (W (out, in), b (out,))

    def numpy_params(self) -> Params:
        return self.layout.params_out(self.params)

    def gradients(self, x: np.ndarray, y: np.ndarray) -> Params:
        xs = self.inputs(x)
        _, cache = self.code.forward(self.params, xs)
        grads = named(self.code.backward(self.params, cache, xs, self.labels(y)), self.params)
        return self.layout.params_out(grads)

    def diagnose(self, x: np.ndarray, y: np.ndarray, batch_size: int | None, epochs: int,
                 seed: int, shuffle: bool) -> dict[str, Any]:
        def make() -> MineTrainer:  # float64 on the CPU, whatever the job's precision
            return MineTrainer(self.spec, self.initial_params, "float64", "cpu", self.lr,
                               self.options)

        return diagnosis.diagnose(make, x, y, batch_size, epochs, seed, shuffle)
