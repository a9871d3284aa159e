"""The built-in two-moons data are scikit-learn's: ``make_moons`` then ``train_test_split``,
done in NumPy so that a job does not import scikit-learn (and through it SciPy and pandas)."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from nnbench import data
from nnbench.errors import ConfigError


@pytest.mark.parametrize(("n_samples", "noise", "random_state", "test_size", "split_state"), [
    (2000, 0.2, 42, 0.2, 42),  # the default
    (7, 0.0, 0, 0.3, 1),  # odd count: the inner moon has one more; no noise
    (1001, 0.35, 123456, 0.25, 2**32 - 1),
    (64, 1.5, 7, 0.5, 0),
    (5000, 0.05, 2**31, 0.1, 99),
])
def test_the_moons_are_scikit_learns_array_for_array(n_samples, noise, random_state, test_size,
                                                      split_state):
    cfg = data.checked_config(OmegaConf.create({
        "name": "moons", "n_samples": n_samples, "noise": noise, "random_state": random_state,
        "test_size": test_size, "split_random_state": split_state}))
    ds = data.load(cfg)
    x, y = make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size,
                                                        random_state=split_state)
    for ours, theirs in ((ds.x_train, x_train), (ds.x_test, x_test),
                         (ds.y_train, y_train), (ds.y_test, y_test)):
        np.testing.assert_array_equal(ours, theirs)  # bit for bit, not close
    assert (len(ds.x_train), len(ds.x_test)) == data.sizes(cfg)
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64


def test_a_split_that_leaves_no_training_sample_is_one_line():
    with pytest.raises(ConfigError, match=r"dataset.test_size=0.9 leaves no training sample "
                                          r"of dataset.n_samples=4"):
        data.checked_config(OmegaConf.create({"name": "moons", "n_samples": 4,
                                              "test_size": 0.9}))
