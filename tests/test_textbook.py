"""The textbook baseline of scripts/bench_numpy.py trains the same network as nnbench's."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import blobs

from nnbench.data import moons
from nnbench.frameworks.numpy.trainer import NumpyTrainer
from nnbench.frameworks.textbook.network import TextbookMLP
from nnbench.params import init_params
from nnbench.spec import ModelSpec

CASES = [
    ModelSpec((2, 32, 16, 1), ("relu", "relu", "sigmoid"), "bce"),
    ModelSpec((5, 24, 12, 4), ("relu", "relu", "softmax"), "cross_entropy"),
]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.loss)
def test_textbook_and_nnbench_train_the_same_network(spec):
    """Same start, same full batches: the same weights after 30 steps (the gradients are
    exact in both) and the same losses up to the textbook's log(p + 1e-8), which departs from
    the exact loss where a sample's probability of its class is tiny. The benchmark times the
    same work in both."""
    if spec.loss == "bce":
        ds = moons.load(moons.Config())
        x, y = ds.x_train, ds.y_train
    else:
        x, y = blobs(n=400, n_features=5)
    params = init_params(spec.layer_sizes, "he_normal", 0)
    textbook = TextbookMLP(params, "float64")
    textbook.set_train_data(x, y)
    ours = NumpyTrainer(spec, params, "float64", "cpu", 0.1)
    ours.set_train_data(x, y)
    theirs_losses = [textbook.train_epoch(0.1) for _ in range(30)]
    our_losses = [ours.train_epoch(None, None) for _ in range(30)]
    np.testing.assert_allclose(our_losses, theirs_losses, rtol=1e-3)
    assert our_losses[-1] < our_losses[0]  # it trains
    for name, value in ours.numpy_params().items():
        np.testing.assert_allclose(value, textbook.params[name].reshape(value.shape),
                                   rtol=1e-6, atol=1e-9)
