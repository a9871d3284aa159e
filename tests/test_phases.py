"""Where an epoch's time goes: the phase clock, the phased epochs of each framework, the layer
kernels and their FLOPs, a framework without the capability, and the report's table and figure.

No assertion here is about speed: sums, structure, FLOPs, reasons and the training itself.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import TESTS

from nnbench.data import Dataset
from nnbench.figures import PhaseFigures
from nnbench.frameworks.numpy import NumpyTrainer
from nnbench.frameworks.textbook import TextbookTrainer
from nnbench.frameworks.torch import TorchTrainer
from nnbench.measure import flops, phases
from nnbench.params import init_params
from nnbench.report.render import phases as report_phases
from nnbench.results.read import ReadRecord
from nnbench.spec import ModelSpec
from nnbench.training import epoch_orders

SPEC = ModelSpec((3, 5, 4, 1), ("relu", "relu", "sigmoid"), "bce")
RNG = np.random.default_rng(0)
DS = Dataset("tiny", RNG.standard_normal((40, 3)), (np.arange(40) % 2).astype(np.int64),
             RNG.standard_normal((12, 3)), (np.arange(12) % 2).astype(np.int64), ("a", "b"))
FRAMEWORKS = [NumpyTrainer, TorchTrainer, TextbookTrainer]
PARTS = {*phases.PHASES, phases.REST, phases.EPOCH}


def _trainer(cls, seed: int = 1):
    trainer = cls(SPEC, init_params(SPEC.layer_sizes, seed=seed), "float64", "cpu", 0.1)
    trainer.set_train_data(DS.x_train, DS.y_train)
    return trainer


def _noblas():
    sys.path.insert(0, str(TESTS))
    try:
        from frameworks.noblas import NoBlasTrainer
    finally:
        sys.path.remove(str(TESTS))
    return NoBlasTrainer


def _settings(**bench):
    train = SimpleNamespace(batch_size=16, seed=3, shuffle=True, epochs=100)
    return train, SimpleNamespace(**{"phases": True, "warmup_epochs": 1, **bench})


@pytest.mark.parametrize("cls", FRAMEWORKS, ids=lambda c: c.name)
def test_the_phases_and_the_rest_add_up_to_each_phased_epoch(cls):
    samples = phases.phased_epochs(_trainer(cls), epoch_orders(3, 40, True), 16)
    assert set(samples) == PARTS
    n = len(samples[phases.EPOCH])
    assert phases.MIN_EPOCHS <= n <= phases.MAX_EPOCHS
    for i in range(n):
        parts = [samples[p][i] for p in (*phases.PHASES, phases.REST)]
        assert min(parts) >= 0
        assert sum(parts) == pytest.approx(samples[phases.EPOCH][i], rel=1e-9, abs=1e-12)
    # three mini-batches a step each: every phase was marked, so none is left at zero
    assert all(max(samples[p]) > 0 for p in ("forward", "backward", "update"))


@pytest.mark.parametrize("cls", FRAMEWORKS, ids=lambda c: c.name)
def test_a_phased_epoch_is_the_same_training_as_a_plain_one(cls):
    plain, phased = _trainer(cls), _trainer(cls)
    orders_a, orders_b = epoch_orders(3, 40, True), epoch_orders(3, 40, True)
    clock = phases.PhaseClock(phased.sync)
    for _ in range(3):
        loss = plain.train_epoch(next(orders_a), 16)
        clock.start()
        assert phased.train_epoch_phased(next(orders_b), 16, clock) == pytest.approx(loss,
                                                                                    rel=1e-12)
        clock.stop()
    for name, value in plain.numpy_params().items():
        np.testing.assert_allclose(phased.numpy_params()[name], value, rtol=1e-12)


def test_the_clock_reads_cuda_events_without_waiting_between_marks():
    """The events path, with events whose 'device time' is a counter: each mark's phase gets
    the time between its event and the one before; nothing is synchronised but the last."""
    ticks, waits = iter(range(0, 100, 5)), []

    class Event:
        def record(self):
            self.t = next(ticks)

        def synchronize(self):
            waits.append(self.t)

    clock = phases.PhaseClock(lambda: None, (Event, lambda a, b: float(b.t - a.t)))
    clock.start()  # t=0
    for phase in ("rest", "gather", "forward", "backward", "update", "forward"):  # 5 .. 30
        clock.mark(phase)
    split = clock.stop()  # t=35
    assert split == {"gather": 5.0, "forward": 10.0, "backward": 5.0, "update": 5.0,
                     "rest": 10.0, "epoch": 35.0}
    assert waits == [35]


def test_an_unknown_phase_is_refused():
    clock = phases.PhaseClock(lambda: None)
    clock.start()
    with pytest.raises(ValueError, match="unknown phase 'loss'"):
        clock.mark("loss")


@pytest.mark.parametrize("cls", FRAMEWORKS, ids=lambda c: c.name)
def test_layer_kernel_flops_match_the_architecture(cls):
    m = 7
    kernels = _trainer(cls).layer_kernels(m)
    sizes = SPEC.layer_sizes
    assert sorted({k.layer for k in kernels}) == list(range(1, len(sizes)))
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        ops = {k.op: k.flops for k in kernels if k.layer == layer}
        assert ops["matmul"] == ops["weight grad"] == 2 * m * n_in * n_out
        assert ops["bias"] == ops["bias grad"] == m * n_out
        assert ("input grad" in ops) == (layer > 1)  # the data needs no gradient
        if "matmul+bias" in ops:
            assert ops["matmul+bias"] == ops["matmul"] + ops["bias"]
    epoch = sum(k.flops for k in kernels if k.op in ("matmul", "weight grad", "input grad"))
    assert epoch == flops.train_flops_per_epoch(sizes, m)
    assert sum(k.flops for k in kernels if k.op == "matmul" and k.direction == "forward") \
        == flops.inference_flops_per_sample(sizes) * m


@pytest.mark.parametrize("cls", FRAMEWORKS, ids=lambda c: c.name)
def test_layer_kernels_leave_the_trainer_as_it_was(cls):
    trainer = _trainer(cls)
    before = trainer.numpy_params()
    for kernel in trainer.layer_kernels(5):
        kernel.call()
    for name, value in trainer.numpy_params().items():
        np.testing.assert_array_equal(value, before[name])


def test_a_timed_kernel_says_its_flops_over_its_seconds():
    kernel = phases.LayerKernel(2, "forward", "matmul", 1000, lambda: sum(range(50)))
    row = phases.time_kernel(kernel, lambda: None, None)
    assert {k: row[k] for k in ("layer", "direction", "op", "flops")} == \
        {"layer": 2, "direction": "forward", "op": "matmul", "flops": 1000}
    assert row["samples"] >= phases.KERNEL_FLOOR and row["calls_per_sample"] >= 1
    assert row["gflops"] == pytest.approx(1000 / row["seconds"] / 1e9)


def _numpy_pass(train, bench):
    """The pass over NumPy trainers, and the seed of every trainer it built."""
    built = []

    def make(seed):
        built.append(seed)
        return NumpyTrainer(SPEC, init_params(SPEC.layer_sizes, seed=seed), "float64", "cpu",
                            0.1)

    return phases.measure(make, _trainer(NumpyTrainer), DS, train, bench, False,
                          lambda: epoch_orders(3, 40, True)), built


def test_the_pass_gives_phases_and_kernels_of_a_framework_that_has_them():
    train, bench = _settings()
    figures, built = _numpy_pass(train, bench)
    assert set(built) == {3}  # fresh trainers from the job's start
    assert figures.phases_unavailable is None
    assert set(figures.phases_s) == {*phases.PHASES, phases.REST}
    assert figures.phases_epoch_s.n == len(figures.phases_samples_s["epoch"]) >= 10
    assert {k["op"] for k in figures.layer_matmuls} >= {"matmul", "weight grad", "input grad"}
    assert all(k["flops"] > 0 and k["seconds"] > 0 for k in figures.layer_matmuls)


def test_a_framework_without_the_capability_is_recorded_without_phases_and_a_reason():
    noblas = _noblas()
    public = sorted(k for k in vars(noblas) if not k.startswith("_"))
    # the contract's minimum, plus the refusal before a job starts and its kernel's size
    assert len(public) == 9 and "train_epoch_phased" not in public
    assert {"check_model", "matmul_size"} <= set(public)
    trainer = noblas(SPEC, init_params(SPEC.layer_sizes), "float64", "cpu", 0.1)
    train, bench = _settings()
    figures = phases.measure(pytest.fail, trainer, DS, train, bench, False, lambda: iter(()))
    assert figures.phases_unavailable == ("framework=noblas does not split its epoch into "
                                          "phases (its trainer has no train_epoch_phased)")
    assert figures.phases_s == {} and figures.phases_epoch_s is None
    assert figures.layer_matmuls == []
    with pytest.raises(NotImplementedError, match="framework=noblas"):
        trainer.train_epoch_phased(None, None, phases.PhaseClock(lambda: None))


def test_no_pass_when_switched_off_or_diverged():
    train, bench = _settings(phases=False)
    off = phases.measure(pytest.fail, None, DS, train, bench, False, lambda: iter(()))
    assert off.phases_unavailable == "not measured (bench.phases=false)"
    assert phases.measure(pytest.fail, None, DS, *_settings(), True, lambda: iter(())) is None


def _record(framework: str, figures: PhaseFigures | None, timed: float = 2e-3) -> ReadRecord:
    return ReadRecord.of({
        "status": "ok", "experiment_name": "default", "dataset": "moons",
        "arch": "2x32x16x1", "precision": "float32", "loss": "bce", "batch_size": None,
        "epochs": 10, "lr": 0.5, "init": "he_normal", "framework": framework,
        "device": "cpu", "train_time_per_epoch_s": timed,
        "environment": {"time_utc": "2026-01-01T00:00:00"},
        **(figures.model_dump() if figures else {})})


def _phased(split: dict[str, float]) -> PhaseFigures:
    epoch = sum(split.values())
    return PhaseFigures(phases_s={p: {"n": 1, "median": s} for p, s in split.items()},
                        phases_epoch_s={"n": 1, "median": epoch},
                        layer_matmuls=[{"layer": 1, "direction": "forward", "op": "matmul",
                                        "seconds": 1e-5, "flops": 128000, "gflops": 12.8}])


SPLIT = {"gather": 1e-4, "forward": 8e-4, "backward": 8e-4, "update": 1e-4, "rest": 2e-4}
NONE = PhaseFigures(phases_unavailable="framework=noblas does not split its epoch")


def test_the_report_tabulates_phases_and_shows_a_framework_without_them(tmp_path):
    records = [_record("torch", _phased(SPLIT)), _record("noblas", NONE),
               _record("numpy", _phased(SPLIT), timed=1.5e-3)]
    table = report_phases.table(records)
    assert list(table["framework"]) == ["numpy", "torch", "noblas"]  # the pair first
    numpy_row, torch_row, noblas_row = (table.iloc[i] for i in range(3))
    assert torch_row["forward"] == "0.8 ms (40%)" and torch_row["rest"] == "0.2 ms (10%)"
    assert torch_row["phased / timed"] == "1.00"
    assert numpy_row["phased / timed"] == "1.33 (differs > 10%)"
    assert noblas_row["forward"] == "" and noblas_row["phased epoch"] == ""
    assert noblas_row["phases"] == "framework=noblas does not split its epoch"
    kernels = report_phases.kernels_table(records)
    assert list(kernels.columns[-2:]) == ["numpy cpu", "torch cpu"]
    assert kernels.iloc[0]["numpy cpu"] == "10 us · 12.8 GFLOP/s"
    path = report_phases.figure(records, tmp_path / "phases.png")
    assert path == tmp_path / "phases.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report_phases.figure([_record("noblas", NONE)], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_a_pass_that_fails_leaves_the_job_its_figures_and_says_why():
    class Broken(NumpyTrainer):
        def train_epoch_phased(self, perm, batch_size, clock):
            raise RuntimeError("no clock today")

    def make(seed):
        return Broken(SPEC, init_params(SPEC.layer_sizes, seed=seed), "float64", "cpu", 0.1)

    train, bench = _settings()
    figures = phases.measure(make, make(3), DS, train, bench, False,
                             lambda: epoch_orders(3, 40, True))
    assert figures.phases_unavailable == "the phases pass failed: RuntimeError: no clock today"
    assert figures.phases_s == {} and figures.layer_matmuls == []


def test_phased_epochs_take_the_places_of_the_timed_ones():
    """A 2-epoch job times second epochs only (the first is warm-up): its phased epochs are
    second epochs too, each from a fresh trainer, never the 30th of one trainer."""
    train, bench = _settings()
    train = SimpleNamespace(**{**vars(train), "epochs": 2})
    figures, built = _numpy_pass(train, bench)
    assert len(built) == figures.phases_epoch_s.n >= phases.MIN_EPOCHS
