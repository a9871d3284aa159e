"""Initial parameters follow the named schemes exactly; records are written whole or not at all."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from nnbench.frameworks.torch.network import TorchMLP
from nnbench.params import init_params, n_params
from nnbench.record import write_result
from nnbench.spec import ModelSpec

SIZES = (2, 32, 16, 1)


def test_he_normal_reproduces_the_legacy_global_seed_procedure():
    params = init_params(SIZES, "he_normal", seed=42)
    np.random.seed(42)  # the published procedure, draw for draw
    for layer in range(1, len(SIZES)):
        n_in, n_out = SIZES[layer - 1], SIZES[layer]
        expected = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
        np.testing.assert_array_equal(params[f"W{layer}"], expected)
        np.testing.assert_array_equal(params[f"b{layer}"], np.zeros(n_out))


def test_uniform_and_torch_default_bounds():
    uni = init_params((784, 10, 10), "uniform", seed=1)
    assert all(-0.5 <= v.min() and v.max() <= 0.5 for v in uni.values())
    assert uni["b1"].std() > 0.2  # biases are drawn too, not zero
    tdef = init_params((784, 10, 10), "torch_default", seed=1)
    assert np.abs(tdef["W1"]).max() <= 1 / np.sqrt(784)
    assert np.abs(tdef["W2"]).max() <= 1 / np.sqrt(10)
    assert np.abs(tdef["W1"]).max() > 0.9 / np.sqrt(784)


def test_same_seed_same_values_other_seed_other_values():
    a, b, c = (init_params(SIZES, "he_normal", s) for s in (5, 5, 6))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


def test_torch_twin_starts_from_the_numpy_values_without_transposes():
    spec = ModelSpec(SIZES, ("relu", "relu", "sigmoid"), "bce")
    params = init_params(SIZES)
    model = TorchMLP(spec).double()
    model.load_numpy(params)
    assert sum(p.numel() for p in model.parameters()) == n_params(SIZES) == 641
    for name, value in model.numpy_params().items():
        np.testing.assert_array_equal(value, params[name])
    assert tuple(model.linears[0].weight.shape) == params["W1"].shape == (32, 2)
    assert model(torch.zeros(3, 2, dtype=torch.float64)).shape == (3, 1)


def test_result_is_written_atomically(tmp_path, monkeypatch):
    write_result(tmp_path, {"status": "ok", "final_train_loss": float("nan")})
    written = json.loads((tmp_path / "result.json").read_text())
    assert written["status"] == "ok" and written["final_train_loss"] is None

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_result(tmp_path, {"status": "failed", "reason": "x"})
    # the earlier result is intact and no temporary file is left behind
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_unknown_status_is_refused(tmp_path):
    with pytest.raises(ValueError, match="status"):
        write_result(tmp_path, {"status": "great"})


def test_docs_field_table_is_the_schema():
    """The manual (docs/record.md) documents the record from the one place it is defined."""
    import subprocess
    import sys

    from helpers import REPO

    table = subprocess.run([sys.executable, str(REPO / "scripts" / "record_fields.py")],
                           capture_output=True, text=True, check=True).stdout.strip()
    page = (REPO / "docs" / "record.md").read_text()
    block = page.split("<!-- record-fields:start -->")[1].split("<!-- record-fields:end -->")[0]
    assert block.strip() == table


def test_a_record_that_does_not_fit_the_schema_is_named_with_its_field(tmp_path):
    import json

    import pytest as _pytest
    from pydantic import ValidationError

    from nnbench.record import problem
    from nnbench.results.collect import collect

    good = {"status": "ok", "framework": "numpy", "device": "cpu", "precision": "float32",
            "dataset": "moons", "arch": "2x8x1", "train_time_per_epoch_s": 0.5,
            "test_accuracy": 0.9}  # an ok record read back has what ran and its headlines
    assert problem(good) is None
    assert problem({**good, "train_time_per_epoch_s": "fast"}).startswith(
        "train_time_per_epoch_s:")
    assert problem({**good, "framework": {"name": "numpy"}}).startswith("framework:")
    assert problem({**good, "status": "great"}).startswith("status:")
    assert "JSON list" in problem([1, 2])
    with _pytest.raises(ValidationError):
        write_result(tmp_path / "refused", {**good, "lr": "fast"})
    assert not (tmp_path / "refused" / "result.json").exists()
    job = tmp_path / "runs" / "job"
    job.mkdir(parents=True)
    (job / "result.json").write_text(json.dumps({**good, "epochs": [3]}))
    found = collect([tmp_path / "runs"], progress=False)
    assert found.records == [] and found.invalid[0]["error"].startswith("epochs:")
