"""A third framework, defined outside the package: the MLP in NumPy without BLAS.

Every product is ``np.einsum`` without path optimisation, which loops in NumPy's own C code
instead of calling BLAS. It exists to show that a framework is one module plus one YAML
(``tests/conf/framework/noblas.yaml``): nothing under ``nnbench/`` knows it. It implements the
seven members the contract requires of a CPU framework, and two it may: ``check_model``, since it
trains ReLU networks with bce or cross_entropy only (a network it cannot run is refused before the
job starts, not failed inside it), and ``matmul_size``, since its matmul is too slow for the
default calibration's 3072 x 3072 (its peak is then the rate of the n x n it does multiply).
"""

from __future__ import annotations

import numpy as np

from nnbench.errors import ConfigError
from nnbench.frameworks.base import MatmulKernel, Trainer
from nnbench.precision import Precision
from nnbench.spec import ModelSpec, targets


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,jk->ik", a, b, optimize=False)


class NoBlasTrainer(Trainer):
    name = "noblas"

    @classmethod
    def skip_reason(cls, device: str, precision: Precision) -> str | None:
        if device != "cpu" or precision.name not in ("float32", "float64"):
            return f"noblas runs on the CPU in float32 or float64, not {device} {precision.name}"
        return None

    @classmethod
    def check_model(cls, spec: ModelSpec) -> None:
        if spec.loss not in ("bce", "cross_entropy") or set(spec.activations[:-1]) - {"relu"}:
            raise ConfigError(f"framework=noblas trains ReLU networks with bce or "
                              f"cross_entropy only, not {'/'.join(spec.activations[:-1])} "
                              f"with {spec.loss}")

    @classmethod
    def matmul_size(cls, device: str) -> int:
        # einsum's rate is flat from here up (about 12 GFLOP/s at 384 and at 768 on the 2-core
        # VM), and 3072 would take ~5 s a call, a minute a calibration
        return 384

    @classmethod
    def matmul_kernel(cls, n: int, dtype: str, device: str, tf32: bool) -> MatmulKernel:
        a = np.ones((n, n), dtype=dtype)  # the whole n x n: the peak counts its 2n^3 FLOPs
        return (lambda: _mm(a, a)), (lambda: None)

    def set_train_data(self, x: np.ndarray, y: np.ndarray) -> None:
        spec = self.spec
        self.dtype = np.dtype(self.precision.param_dtype)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in self.initial_params.items()}
        self.n_layers = spec.n_layers
        self.x = np.asarray(x, dtype=self.dtype)
        self.t = targets(y, self.spec, self.dtype)

    def _forward(self, x: np.ndarray) -> list[np.ndarray]:
        acts = [x]
        for layer in range(1, self.n_layers + 1):
            z = _mm(acts[-1], self.params[f"W{layer}"].T) + self.params[f"b{layer}"]
            acts.append(np.maximum(z, 0) if layer < self.n_layers else z)
        return acts

    def _step(self, x: np.ndarray, t: np.ndarray) -> float:
        acts = self._forward(x)
        z, m = acts[-1], x.shape[0]
        if self.spec.loss == "bce":
            loss = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
            d = (1 / (1 + np.exp(-z)) - t) / m
        else:
            shifted = z - z.max(axis=1, keepdims=True)
            log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = np.mean(log_sum[:, 0] - shifted[np.arange(m), t])
            d = np.exp(shifted - log_sum)
            d[np.arange(m), t] -= 1
            d /= m
        for layer in range(self.n_layers, 0, -1):
            grad_w, grad_b = _mm(d.T, acts[layer - 1]), d.sum(axis=0)
            if layer > 1:
                d = _mm(d, self.params[f"W{layer}"]) * (acts[layer - 1] > 0)
            self.params[f"W{layer}"] -= self.lr * grad_w
            self.params[f"b{layer}"] -= self.lr * grad_b
        return float(loss)

    def train_epoch(self, perm, batch_size) -> float:
        n = self.x.shape[0]
        step = n if batch_size is None else batch_size
        order = np.arange(n) if perm is None else perm
        total = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, n, step):
                idx = order[start:start + step]
                total += self._step(self.x[idx], self.t[idx]) * len(idx)
        return total / n

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)

    def infer(self, prepared: np.ndarray) -> np.ndarray:
        z = self._forward(prepared)[-1]
        if z.shape[1] == 1:
            return 1 / (1 + np.exp(-z))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
