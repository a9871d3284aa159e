"""Numerical agreement between the two implementations, recorded with each job.

Seed 000's gradient comparison: fresh parameters from a seed, one forward and backward pass on
the training data in each framework, and the largest absolute difference per parameter over the
largest reference (torch autograd) magnitude.
"""

from __future__ import annotations

import numpy as np

from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.params import init_params
from nnbench.precision import Precision
from nnbench.spec import ModelSpec


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.max(np.abs(b)))
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(a - b)))


def why_not(precision: Precision) -> str | None:
    """Why the two cannot be compared in ``precision`` (None when they can)."""
    if NumpyTrainer.skip_reason("cpu", precision) is None:
        return None
    return f"the NumPy network has no {precision.name} to compare against"


def gradient_agreement(spec: ModelSpec, init: str, seed: int, precision: Precision | str,
                       x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Max relative difference between NumPy's hand-derived and torch's autograd gradients."""
    from nnbench.frameworks.torch.trainer import TorchTrainer

    params = init_params(spec.layer_sizes, init, seed)
    ours = NumpyTrainer(spec, params, precision, "cpu", 0.1).gradients(x, y)
    theirs = TorchTrainer(spec, params, precision, "cpu", 0.1).gradients(x, y)
    return {name: max_rel_diff(ours[name], theirs[name]) for name in ours}
