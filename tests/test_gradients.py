"""The hand-derived backward pass against torch autograd and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import blobs, finite_difference_grads, max_rel_diff, trainers

from nnbench import numpy_mlp
from nnbench.data import moons
from nnbench.params import init_params
from nnbench.spec import ModelSpec, targets

MOONS = ModelSpec((2, 32, 16, 1), ("relu", "relu", "sigmoid"), "bce")
# Every loss, every activation, on a four-class problem.
MULTI = [
    ModelSpec((5, 12, 8, 4), ("relu", "tanh", "softmax"), "cross_entropy"),
    ModelSpec((5, 12, 8, 4), ("sigmoid", "relu", "softmax"), "mse"),
    ModelSpec((5, 12, 4), ("tanh", "identity"), "mse"),
    ModelSpec((5, 9, 7, 4), ("identity", "sigmoid", "sigmoid"), "mse"),
]


def _spec_id(spec: ModelSpec) -> str:
    return f"{spec.loss}-{'-'.join(spec.activations)}"


TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def _moons_data():
    ds = moons.load(moons.Config())  # the default moons config: 1,600 training samples
    return ds.x_train, ds.y_train


def _data(spec: ModelSpec):
    return _moons_data() if spec is MOONS else blobs()


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("spec", [MOONS, *MULTI], ids=_spec_id)
def test_gradients_match_autograd_at_start_and_after_one_step(spec, precision):
    x, y = _data(spec)
    np_tr, torch_tr, _ = trainers(spec, precision, lr=0.3)
    for _ in range(2):  # at the shared start, then after one SGD step taken by each
        g_np, g_torch = np_tr.gradients(x, y), torch_tr.gradients(x, y)
        assert set(g_np) == set(g_torch)
        for name in g_np:
            assert g_np[name].shape == g_torch[name].shape
            assert max_rel_diff(g_np[name], g_torch[name]) < TOLERANCE[precision], name
        np_tr.set_train_data(x, y)
        torch_tr.set_train_data(x, y)
        np_tr.train_epoch(None, None)
        torch_tr.train_epoch(None, None)


@pytest.mark.parametrize("spec", [MOONS, *MULTI], ids=_spec_id)
def test_gradients_match_central_finite_differences(spec):
    x, y = _data(spec)
    x, y = x[:200], y[:200]
    params = init_params(spec.layer_sizes, "he_normal", seed=3)
    t = targets(y, spec, np.float64)
    _, grads = numpy_mlp.loss_and_grads(params, spec, x, t)
    numeric = finite_difference_grads(params, spec, x, t)
    for name in params:
        assert max_rel_diff(grads[name], numeric[name]) < 1e-6, name


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _arrays(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _arrays(item)


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("spec", [MOONS, *MULTI], ids=_spec_id)
def test_every_array_of_a_step_keeps_the_run_dtype(spec, precision):
    x, y = _data(spec)
    dtype = np.dtype(precision)
    params = {k: v.astype(dtype) for k, v in init_params(spec.layer_sizes).items()}
    xb = x[:64].astype(dtype)
    t = targets(y[:64], spec, dtype)
    z, cache = numpy_mlp.forward(params, spec, xb)
    loss, dz = numpy_mlp.loss_and_logit_grad(spec, z, t)
    grads = numpy_mlp.backward(params, spec, cache, dz)
    arrays = [z, dz, *_arrays(cache), *_arrays(grads)]
    assert len(arrays) > 3 * spec.n_layers
    assert {a.dtype for a in arrays if a.dtype.kind == "f"} == {dtype}
    trainer = numpy_mlp.NumpyTrainer(spec, params, precision, "cpu", 0.1)
    trainer.set_train_data(x, y)
    trainer.train_epoch(np.random.default_rng(0).permutation(len(y)), 32)
    assert {p.dtype for p in trainer.params.values()} == {dtype}
