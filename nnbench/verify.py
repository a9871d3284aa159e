"""Numerical agreement between the two implementations, recorded with each job.

Seed 000's gradient comparison: fresh parameters from a seed, one forward and backward pass on
the training data in each framework, and the largest absolute difference per parameter over the
largest reference (torch autograd) magnitude.
"""

from __future__ import annotations

import numpy as np

from nnbench.numpy_mlp import NumpyTrainer
from nnbench.params import init_params
from nnbench.spec import ModelSpec


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(a - b)))


def gradient_agreement(spec: ModelSpec, init: str, seed: int, precision: str,
                       x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Max relative difference between NumPy's hand-derived and torch's autograd gradients."""
    from nnbench.torch_mlp import TorchTrainer

    params = init_params(spec.layer_sizes, init, seed)
    ours = NumpyTrainer(spec, params, precision, "cpu", 0.1).gradients(x, y)
    theirs = TorchTrainer(spec, params, precision, "cpu", 0.1).gradients(x, y)
    return {name: max_rel_diff(ours[name], theirs[name]) for name in ours}
