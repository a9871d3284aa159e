"""Initial parameters, drawn once in NumPy so that both trainers start from the same values.

Weights are stored (out, in) like ``torch.nn.Linear.weight`` and biases (out,), under the names
W1, b1, W2, b2, ... A legacy ``RandomState`` is used on purpose: ``RandomState(seed).randn`` gives
exactly the numbers of ``np.random.seed(seed); np.random.randn(...)``, the procedure the published
NumPy-versus-PyTorch comparisons use, so their runs can be followed number for number.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Params = dict[str, np.ndarray]


def _he_normal(rs: np.random.RandomState, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    return rs.randn(n_out, n_in) * np.sqrt(2.0 / n_in), np.zeros(n_out)


def _uniform(rs: np.random.RandomState, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    # Every weight and bias from U[-0.5, 0.5], weight before bias, layer by layer.
    return rs.rand(n_out, n_in) - 0.5, rs.rand(n_out) - 0.5


def _torch_default(
    rs: np.random.RandomState, n_out: int, n_in: int
) -> tuple[np.ndarray, np.ndarray]:
    # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(in), 1/sqrt(in)),
    # and the bias uses the same bound.
    bound = 1.0 / np.sqrt(n_in)
    return rs.uniform(-bound, bound, (n_out, n_in)), rs.uniform(-bound, bound, n_out)


SCHEMES = {"he_normal": _he_normal, "uniform": _uniform, "torch_default": _torch_default}


def init_params(layer_sizes: Sequence[int], scheme: str = "he_normal", seed: int = 42) -> Params:
    """Float64 parameters for an MLP with the given layer sizes, reproducible from the seed."""
    draw = SCHEMES[scheme]
    rs = np.random.RandomState(seed)
    params: Params = {}
    pairs = zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    for layer, (n_in, n_out) in enumerate(pairs, start=1):
        params[f"W{layer}"], params[f"b{layer}"] = draw(rs, n_out, n_in)
    return params


def n_params(layer_sizes: Sequence[int]) -> int:
    pairs = zip(layer_sizes[:-1], layer_sizes[1:], strict=True)
    return sum(n_out * (n_in + 1) for n_in, n_out in pairs)


def arch_string(layer_sizes: Sequence[int]) -> str:
    return "x".join(str(s) for s in layer_sizes)


def epoch_orders(seed: int, n: int, shuffle: bool):
    """One permutation per epoch from the seed: every framework sees the same batches (a
    framework's own check, framework=mine's diagnosis, draws them here too)."""
    rng = np.random.default_rng(seed)
    while True:
        yield rng.permutation(n) if shuffle else None
