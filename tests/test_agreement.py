"""Both trainers, from the same start and the same batch order, follow the same loss curve."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import blobs, trainers

from nnbench import runner
from nnbench.spec import ModelSpec


def _histories(make_cfg, tmp_path, *overrides):
    """Both jobs in this process: a loss history needs no fresh process, probes or MFU."""
    out = {}
    for framework in ("numpy", "torch"):
        cfg = make_cfg(f"framework={framework}", "bench.isolate=false", "bench.mfu=false",
                       "bench.memory_probe=false", *overrides)
        record = runner.run(cfg, tmp_path / framework)
        assert record["status"] == "ok", record["reason"]
        out[framework] = record
    return out


def _rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.abs(a - b) / np.abs(b)


def test_default_moons_float64_histories_agree_for_2000_full_batch_epochs(make_cfg, tmp_path):
    recs = _histories(make_cfg, tmp_path, "precision=float64")
    np_hist, torch_hist = recs["numpy"]["loss_history"], recs["torch"]["loss_history"]
    assert recs["numpy"]["batch_size"] is None and len(np_hist) == len(torch_hist) == 2000
    assert np_hist[-1] < 0.5 * np_hist[0]  # it trained
    assert _rel(np_hist, torch_hist).max() < 1e-9
    assert recs["numpy"]["test_accuracy"] == recs["torch"]["test_accuracy"]


def test_minibatch_with_shuffling_histories_agree(make_cfg, tmp_path):
    recs = _histories(make_cfg, tmp_path, "precision=float64", "train.batch_size=64",
                      "train.shuffle=true", "train.epochs=60", "train.lr=0.1")
    assert _rel(recs["numpy"]["loss_history"], recs["torch"]["loss_history"]).max() < 1e-9


def test_float32_histories_stay_close_but_are_not_identical_to_float64(make_cfg, tmp_path):
    recs32 = _histories(make_cfg, tmp_path / "32", "train.epochs=300")
    drift = _rel(recs32["numpy"]["loss_history"], recs32["torch"]["loss_history"])
    assert 0 < drift.max() < 1e-3


@pytest.mark.parametrize("loss, out_act", [("cross_entropy", "softmax"), ("mse", "softmax")])
def test_multiclass_minibatch_histories_agree(loss, out_act):
    x, y = blobs(n=400)
    spec = ModelSpec((5, 16, 12, 4), ("relu", "relu", out_act), loss)
    np_tr, torch_tr, _ = trainers(spec, "float64", lr=0.2)
    rng = np.random.default_rng(5)
    np_tr.set_train_data(x, y)
    torch_tr.set_train_data(x, y)
    hist_np, hist_torch = [], []
    for _ in range(40):
        perm = rng.permutation(len(y))
        hist_np.append(np_tr.train_epoch(perm, 32))
        hist_torch.append(torch_tr.train_epoch(perm, 32))
    assert hist_np[-1] < hist_np[0]
    assert _rel(hist_np, hist_torch).max() < 1e-9
    for name, value in np_tr.numpy_params().items():
        np.testing.assert_allclose(value, torch_tr.numpy_params()[name], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np_tr.predict(x), torch_tr.predict(x))
