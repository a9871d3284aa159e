"""Property-based checks over random networks, random bad configs and random bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from helpers import finite_difference_grads, trainers
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from nnbench.config import HIDDEN_ACTIVATIONS
from nnbench.errors import ConfigError
from nnbench.frameworks.numpy import network as numpy_mlp
from nnbench.job import resolve
from nnbench.params import init_params
from nnbench.results.collect import collect
from nnbench.spec import ModelSpec, targets


@st.composite
def networks(draw):
    """A valid spec (loss fitting its output) and a seeded batch of data for it."""
    n_in = draw(st.integers(1, 6))
    hidden = draw(st.lists(st.integers(1, 8), min_size=0, max_size=3))
    loss = draw(st.sampled_from(["bce", "cross_entropy", "mse"]))
    if loss == "bce":
        n_out, out_act = 1, "sigmoid"
    elif loss == "cross_entropy":
        n_out, out_act = draw(st.integers(2, 5)), "softmax"
    else:
        out_act = draw(st.sampled_from(["sigmoid", "tanh", "softmax", "identity", "relu"]))
        n_out = draw(st.integers(2 if out_act == "softmax" else 1, 5))
    acts = [draw(st.sampled_from(HIDDEN_ACTIVATIONS)) for _ in hidden] + [out_act]
    spec = ModelSpec((n_in, *hidden, n_out), tuple(acts), loss)
    m = draw(st.integers(1, 16))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((m, n_in))
    y = rng.integers(0, max(n_out, 2), m)
    return spec, x, y, draw(st.integers(0, 10_000))


def _clear_of_relu_kinks(params, spec: ModelSpec, x: np.ndarray, margin: float,
                         exact_zero_ok: bool = True) -> bool:
    """True when no ReLU input, hidden or output, lies within ``margin`` of 0. Near a kink a
    finite difference straddles two slopes, and two summation orders can land on either side:
    no gradient check means anything there. An exact zero (a dead unit feeding a zero bias) is
    the same in both frameworks, which both take the derivative there as 0, but it is a kink
    for a finite difference."""
    net = numpy_mlp.Network(spec, params, np.float64)
    ws = net.workspace(x.shape[0])
    net.forward(x, ws)
    inputs = [x, *ws.h[1:-1]]  # what each layer reads: the data, then hidden activations
    for layer, (act, a) in enumerate(zip(spec.activations, inputs, strict=True), start=1):
        # the network overwrites hidden pre-activations with activations: recompute them
        z = a @ params[f"W{layer}"].T + params[f"b{layer}"]
        if act == "relu":
            near = np.abs(z) < margin
            if exact_zero_ok:
                near &= z != 0
            if near.any():
                return False
    return True


def _close(a: np.ndarray, b: np.ndarray, rel: float) -> bool:
    return float(np.max(np.abs(a - b))) <= rel * max(float(np.max(np.abs(b))), 1e-3)


@settings(max_examples=150, deadline=None)
@given(networks())
def test_numpy_gradients_match_finite_differences(case):
    spec, x, y, seed = case
    params = init_params(spec.layer_sizes, "he_normal", seed)
    h = 1e-6
    assume(_clear_of_relu_kinks(params, spec, x, 1e-4, exact_zero_ok=False))
    t = targets(y, spec, np.float64)
    _, grads = numpy_mlp.loss_and_grads(params, spec, x, t)
    numeric = finite_difference_grads(params, spec, x, t, h)
    for name in params:
        assert _close(grads[name], numeric[name], 1e-5), name


@settings(max_examples=150, deadline=None)
@given(networks(), st.sampled_from(["float64", "float32"]), st.integers(1, 16))
def test_numpy_gradients_and_a_training_step_match_torch(case, precision, batch_size):
    spec, x, y, seed = case
    np_tr, torch_tr, params = trainers(spec, precision, lr=0.05, seed=seed)
    rel = 1e-9 if precision == "float64" else 1e-4
    assume(_clear_of_relu_kinks(params, spec, x, 1e-12 if precision == "float64" else 1e-5))
    g_np, g_torch = np_tr.gradients(x, y), torch_tr.gradients(x, y)
    for name in g_np:
        assert g_np[name].dtype == np.dtype(precision)
        assert _close(g_np[name], g_torch[name], rel), name
    for tr in (np_tr, torch_tr):
        tr.set_train_data(x, y)
    perm = np.random.default_rng(seed).permutation(len(y))
    loss_np = np_tr.train_epoch(perm, batch_size)
    loss_torch = torch_tr.train_epoch(perm, batch_size)
    # a small loss is a difference of O(|z|) terms: float32 rounds those, not the loss, so the
    # bound's floor is their scale (1e-2), not the loss's (a loss of 7e-4 differed by 1.8e-7)
    floor = 1e-3 if precision == "float64" else 1e-2
    if np.isnan(loss_torch):  # both diverged on the same batches: that is agreement too
        assert np.isnan(loss_np)
        return
    assert abs(loss_np - loss_torch) <= rel * max(abs(loss_torch), floor)


BASE = {
    "experiment_name": "properties", "runs_dir": tempfile.gettempdir(),
    "arch": {"name": "t", "layer_sizes": [2, 8, 1], "activations": ["relu", "sigmoid"]},
    "dataset": {"name": "moons"},
    "framework": {"name": "numpy", "_target_": "nnbench.frameworks.numpy.NumpyTrainer"},
    "device": {"name": "cpu"}, "precision": {"name": "float32"},
    "train": {"epochs": 5, "batch_size": None, "lr": 0.1, "loss": "bce", "shuffle": True,
              "seed": 0, "init": "he_normal"},
    "bench": {"warmup_epochs": 1, "repeats": 1, "inference_batch_size": 8, "threads": None,
              "target_accuracy": None, "vary_seed": False, "isolate": False,
              "memory_probe": False, "mfu": False, "resume": False, "allow_parallel": False,
              "gradient_check_seed": None, "min_samples": 0, "rounds": 1, "round": 0},
}
BAD_TEXT = st.text(min_size=1, max_size=8).filter(lambda s: s.strip() and s not in
                                                   {"relu", "sigmoid", "tanh", "identity",
                                                    "softmax", "bce", "mse", "cross_entropy",
                                                    "numpy", "torch", "cpu", "cuda", "float32",
                                                    "float64", "he_normal", "uniform",
                                                    "torch_default", "moons"})
# (path, bad-value strategy, text the message must name)
MUTATIONS = [
    (("train", "lr"), st.floats(max_value=0, allow_nan=False), "train.lr"),
    (("train", "epochs"), st.integers(max_value=0), "train.epochs"),
    (("train", "batch_size"), st.integers(max_value=0), "train.batch_size"),
    (("train", "loss"), BAD_TEXT, "train.loss"),
    (("train", "init"), BAD_TEXT, "train.init"),
    (("framework", "name"), BAD_TEXT, "framework.name"),
    (("device", "name"), BAD_TEXT, "device.name"),
    (("precision", "name"), BAD_TEXT, "precision.name"),
    (("dataset", "name"), BAD_TEXT, "dataset.name"),
    (("arch", "activations"), st.lists(BAD_TEXT, min_size=2, max_size=2), "arch.activations"),
    (("arch", "layer_sizes"), st.integers(3, 1000).map(lambda n: [n, 8, 1]), "layer_sizes[0]"),
    (("arch", "layer_sizes"), st.integers(2, 9).map(lambda n: [2, 8, n]), "layer_sizes[-1]"),
    (("bench", "repeats"), st.integers(max_value=0), "bench.repeats"),
    (("bench", "warmup_epochs"), st.integers(5, 10**6), "bench.warmup_epochs"),
    (("bench", "threads"), st.integers(max_value=0), "bench.threads"),
    (("bench", "target_accuracy"), st.floats(1.0001, 1e9), "bench.target_accuracy"),
]


@st.composite
def invalid_configs(draw):
    path, values, named = draw(st.sampled_from(MUTATIONS))
    cfg = OmegaConf.create(BASE)
    OmegaConf.update(cfg, ".".join(path), draw(values), force_add=True)
    return cfg, named


@settings(max_examples=300, deadline=None)
@given(invalid_configs())
def test_every_invalid_config_is_refused_naming_the_field(case):
    cfg, named = case
    resolve(OmegaConf.create(BASE))  # the base itself is fine
    try:
        resolve(cfg)
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message
        assert named in message or named.split(".")[-1] in message, message
    else:
        raise AssertionError(f"accepted an invalid config: {named}")


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=512))
def test_result_reader_survives_any_bytes(blob):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "job" / "result.json"
        path.parent.mkdir()
        path.write_bytes(blob)
        collection = collect([folder], progress=False)
        assert len(collection.records) + len(collection.unreadable) + len(collection.invalid) == 1
