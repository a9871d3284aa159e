"""The hand-derived backward pass against torch autograd and against finite differences."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers import blobs, finite_difference_grads, max_rel_diff, trainers

from nnbench.data import moons
from nnbench.frameworks.numpy import network as numpy_mlp
from nnbench.frameworks.numpy.trainer import NumpyTrainer
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
    net = numpy_mlp.Network(spec, init_params(spec.layer_sizes), dtype)
    xb = x[:64].astype(dtype)
    loss, grads = net.loss_and_grads(xb, targets(y[:64], spec, dtype))
    ws = net.workspace(64)
    arrays = [np.asarray(loss), *_arrays(vars(ws)), *_arrays(grads)]
    assert len(arrays) > 3 * spec.n_layers
    assert {a.dtype for a in arrays if a.dtype.kind == "f"} == {dtype}
    trainer = NumpyTrainer(spec, init_params(spec.layer_sizes), precision, "cpu", 0.1)
    trainer.set_train_data(x, y)
    trainer.train_epoch(np.random.default_rng(0).permutation(len(y)), 32)
    assert {p.dtype for p in trainer.params.values()} == {dtype}


WIDE_CE = ModelSpec((5, 64, 32, 4), ("relu", "tanh", "softmax"), "cross_entropy")


@pytest.mark.parametrize("batch_size", [None, 800])
@pytest.mark.parametrize("spec", [MOONS, WIDE_CE], ids=_spec_id)
def test_an_epoch_after_the_first_allocates_no_layer_sized_array(spec, batch_size):
    """The hot loop writes into buffers allocated on first use. A later epoch allocates only
    what NumPy allocates inside a ufunc call (a broadcasting add buffers up to ``getbufsize()``
    elements) and a few per-sample numbers (cross-entropy picks the target logits): less than
    any layer of these sizes, each of which a textbook step would allocate several times."""
    x, y = _moons_data() if spec is MOONS else blobs(n=1600, n_features=5)
    trainer = NumpyTrainer(spec, init_params(spec.layer_sizes), "float32", "cpu", 0.1)
    trainer.set_train_data(x, y)
    perm = None if batch_size is None else np.random.default_rng(0).permutation(len(y))
    trainer.train_epoch(perm, batch_size)
    tracemalloc.start()
    try:
        trainer.train_epoch(perm, batch_size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    m = len(y) if batch_size is None else batch_size
    smallest_layer_bytes = m * min(spec.layer_sizes[1:-1]) * 4
    assert smallest_layer_bytes > 1.5 * np.getbufsize() * 4  # the bound means something
    assert peak < smallest_layer_bytes, (peak, smallest_layer_bytes)
