"""The cost model (time per epoch = steps * a + FLOPs / b) on sweeps of known a and b: what the
fit recovers, where two models cross, and what the report says about it; and the width sweep
that is run to find a crossing composes into valid jobs."""

from __future__ import annotations

import itertools
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_experiments import sweep_jobs
from test_report import record

from nnbench.job import resolve
from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.stats import cost_model as cm

WIDTHS = [16, 32, 64, 128, 256, 512, 1024, 2048]
N_TRAIN, BATCH = 1024, 128


def flops(width: int) -> int:
    """Matmul FLOPs of one epoch of [32, W, W, 10] (as ``measure.flops`` counts them)."""
    from nnbench.measure.flops import train_flops_per_epoch
    return train_flops_per_epoch([32, width, width, 10], N_TRAIN)


SIZES = [cm.Size.of(N_TRAIN, BATCH, flops(w), [32, w, w, 10]) for w in WIDTHS]


def times(a: float, b: float, rounds: int, noise: float, seed: int, c: float = 0.0,
          sizes: list[cm.Size] = SIZES) -> list[list[float]]:
    """Round medians of each size: the model's time, each round at its own level (lognormal)."""
    rng = np.random.default_rng(seed)
    return [[(s.steps * a + s.flops / b + c * s.elements) * math.exp(rng.normal(0, noise))
             for _ in range(rounds)] for s in sizes]


def test_known_a_and_b_are_recovered_with_an_interval_that_holds_them():
    fitted = cm.fit_rounds(SIZES, times(60e-6, 80e9, rounds=5, noise=0.03, seed=1))
    assert fitted.fit.terms == cm.TWO_TERMS
    assert fitted.fit.a == pytest.approx(60e-6, rel=0.1)
    assert fitted.fit.b == pytest.approx(80e9, rel=0.1)
    lo, hi = fitted.interval("a")
    assert lo <= fitted.fit.a <= hi and lo < 60e-6 * 1.1 and hi > 60e-6 * 0.9
    lo, hi = fitted.interval("b")
    assert lo <= fitted.fit.b <= hi and hi / lo < 1.3
    assert fitted.fit.r2_log > 0.99
    assert np.max(np.abs(fitted.fit.residuals)) < 0.1


def test_noiseless_times_are_fitted_exactly():
    fitted = cm.fit(SIZES, [m for [m] in times(25e-6, 200e9, rounds=1, noise=0, seed=0)])
    assert fitted.a == pytest.approx(25e-6, rel=1e-9)
    assert fitted.b == pytest.approx(200e9, rel=1e-9)
    assert np.allclose(fitted.residuals, 0, atol=1e-9) and fitted.r2_log == pytest.approx(1)


def test_one_round_gives_a_fit_and_no_interval():
    fitted = cm.fit_rounds(SIZES, times(60e-6, 80e9, rounds=1, noise=0.03, seed=2))
    assert fitted.rounds == 1 and fitted.replicates is None
    assert fitted.interval("a") is None and fitted.interval("b") is None
    assert fitted.fit.a == pytest.approx(60e-6, rel=0.25)


def test_an_elementwise_term_is_kept_only_where_the_data_need_it():
    with_c = cm.fit_rounds(SIZES, times(40e-6, 150e9, 3, 0.02, seed=3, c=2e-9))
    assert with_c.fit.terms == cm.THREE_TERMS and with_c.fit.p_third < 0.01
    assert with_c.fit.c == pytest.approx(2e-9, rel=0.2)
    assert with_c.fit.b == pytest.approx(150e9, rel=0.2)
    without = cm.fit_rounds(SIZES, times(40e-6, 150e9, 3, 0.02, seed=3))
    assert without.fit.terms == cm.TWO_TERMS and without.fit.c is None
    # one hidden layer: the elementwise work is a mix of the other two terms, so b absorbs it
    shallow = [cm.Size.of(N_TRAIN, BATCH, 2 * N_TRAIN * (3 * w * 10 + 2 * 32 * w), [32, w, 10])
               for w in WIDTHS]
    assert not cm.separable(shallow, cm.THREE_TERMS)
    kept = cm.fit_rounds(shallow, times(40e-6, 150e9, 3, 0.02, seed=3, c=2e-9, sizes=shallow))
    assert kept.fit.terms == cm.TWO_TERMS and kept.fit.r2_log > 0.99


def test_steps_that_grow_with_flops_cannot_be_told_from_a_rate():
    # a sweep of the training set's size alone: steps and FLOPs both grow with n_train
    sizes = [cm.Size.of(n, 128, 1000 * n) for n in (1024, 2048, 4096, 8192)]
    assert not cm.separable(sizes, cm.TWO_TERMS)
    assert cm.separable(SIZES, cm.TWO_TERMS)


def test_two_known_models_cross_where_the_algebra_says():
    slow_start = cm.fit(SIZES, [m for [m] in times(300e-6, 150e9, 1, 0, seed=0)])
    quick_start = cm.fit(SIZES, [m for [m] in times(50e-6, 100e9, 1, 0, seed=0)])
    steps = N_TRAIN // BATCH
    analytic = steps * (300e-6 - 50e-6) / (1 / 100e9 - 1 / 150e9)
    [found] = cm.crossings(quick_start, slow_start, SIZES)
    assert found.flops == pytest.approx(analytic, rel=1e-6)
    assert found.below == 0 and found.steps == steps  # the quick starter wins the small sizes
    low, high = (SIZES[i].flops for i in found.between)
    assert low < analytic < high
    assert cm.meeting(quick_start, slow_start, steps) == pytest.approx(analytic, rel=1e-6)
    [mirrored] = cm.crossings(slow_start, quick_start, SIZES)
    assert mirrored.below == 1 and mirrored.flops == pytest.approx(analytic, rel=1e-6)


def test_lines_that_do_not_cross_in_range_say_so_and_where_they_would():
    better = cm.fit(SIZES, [m for [m] in times(50e-6, 200e9, 1, 0, seed=0)])
    worse = cm.fit(SIZES, [m for [m] in times(300e-6, 100e9, 1, 0, seed=0)])
    assert cm.crossings(better, worse, SIZES) == []
    assert cm.meeting(better, worse, 8) is None  # lower cost per step and higher rate: never
    # a rate 0.2% higher: they meet, but beyond the largest size measured
    later = cm.fit(SIZES, [m for [m] in times(300e-6, 50e9 * 1.002, 1, 0, seed=0)])
    near = cm.fit(SIZES, [m for [m] in times(50e-6, 50e9, 1, 0, seed=0)])
    assert cm.crossings(near, later, SIZES) == []
    assert cm.meeting(near, later, 8) == pytest.approx(8 * 250e-6 / (1 / 50e9 - 1 / 50.1e9))
    assert cm.meeting(near, later, 8) > SIZES[-1].flops


def test_the_crossing_interval_over_rounds_holds_the_crossing():
    quick = cm.fit_rounds(SIZES, times(50e-6, 100e9, 5, 0.03, seed=4), seed=0)
    slow = cm.fit_rounds(SIZES, times(300e-6, 150e9, 5, 0.03, seed=5), seed=1)
    [found] = cm.crossover(quick, slow, SIZES)
    lo, hi = found.interval
    assert lo <= found.flops <= hi
    assert lo < 8 * 250e-6 / (1 / 100e9 - 1 / 150e9) < hi
    assert found.share > 0.9


def sweep_tree(root: Path, rounds: int, models: dict[str, tuple[float, float]],
               seed: int = 0) -> Path:
    """A width sweep's records, as ``bench.rounds`` leaves them, from models {framework: (a, b)}
    of known a (s per step) and b (FLOP/s)."""
    rng = np.random.default_rng(seed)
    job = 0
    for r, width, (framework, (a, b)) in itertools.product(range(rounds), WIDTHS,
                                                           models.items()):
        size = cm.Size.of(N_TRAIN, BATCH, flops(width), [32, width, width, 10])
        level = (size.steps * a + size.flops / b) * math.exp(rng.normal(0, 0.03))
        rec = record(framework, epoch_s=level, arch=f"32x{width}x{width}x10",
                     flops=flops(width), seed=int(rng.integers(1e9)), round=r, rounds=rounds,
                     batch_size=BATCH, n_train=N_TRAIN, dataset="synthetic",
                     experiment_name="width_sweep")
        folder = root / f"{job}-bench.round={r},width={width},framework={framework}"
        (folder / ".hydra").mkdir(parents=True)
        write_result(folder, rec)
        job += 1
    return root


def test_the_report_prints_a_and_b_and_the_crossing_and_draws_them(tmp_path, capsys):
    runs = sweep_tree(tmp_path / "runs", 3, {"numpy": (50e-6, 100e9), "torch": (300e-6, 150e9)})
    assert report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    summary = (tmp_path / "report" / "summary.md").read_text()
    table = summary.split("### Cost model: time per epoch")[1].split("###")[0]
    numbers = {}
    for framework in ("numpy", "torch"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {framework} cpu"))
        a, b = re.findall(r"([\d.]+) \[([\d.]+), ([\d.]+)\]†", row)[:2]
        numbers[framework] = [float(v) for v in (*a, *b)]
        assert float(a[1]) <= float(a[0]) <= float(a[2]) and float(b[1]) <= float(b[0])
    assert numbers["numpy"][0] == pytest.approx(50, rel=0.15)  # µs per step
    assert numbers["torch"][0] == pytest.approx(300, rel=0.15)
    assert numbers["numpy"][3] == pytest.approx(100, rel=0.15)  # GFLOP/s
    assert numbers["torch"][3] == pytest.approx(150, rel=0.15)
    crossing = summary.split("### Cost model: where the faster line changes")[1]
    where = re.search(r"at ([\d.]+) ([kMGT])FLOP per epoch .*numpy cpu float32 faster below, "
                      r"torch cpu float32 above", crossing)
    assert where, crossing
    found = float(where[1]) * {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[where[2]]
    assert found == pytest.approx(8 * 250e-6 / (1 / 100e9 - 1 / 150e9), rel=0.2)
    # and the measured medians, the check on the fit, change order around it
    assert "measured medians change order between 32x256x256x10 and 32x512x512x10" in crossing
    assert re.search(r"cost model width_sweep: numpy cpu float32: a [\d.]+ \[", printed)
    assert "cost model width_sweep: numpy cpu float32 vs torch cpu float32: at " in printed
    assert (tmp_path / "report" / "cost_model.png").stat().st_size > 10_000
    assert 'alt="cost_model"' in (tmp_path / "report" / "report.html").read_text()


def test_the_report_says_when_the_lines_do_not_cross_and_when_there_is_one_round(tmp_path,
                                                                                 capsys):
    runs = sweep_tree(tmp_path / "runs", 1, {"numpy": (50e-6, 200e9), "torch": (300e-6, 100e9)})
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    printed = capsys.readouterr().out
    assert ("numpy cpu float32 vs torch cpu float32: none in range: fitted, numpy cpu float32 "
            "is faster at every measured size") in printed
    assert "never meet" in printed
    summary = (tmp_path / "report" / "summary.md").read_text()
    table = summary.split("### Cost model: time per epoch")[1].split("###")[0]
    assert table.count("one round: no interval") == 2 and "†" not in table.split("\n\n")[1]


def test_the_width_sweep_composes_into_valid_jobs_of_one_batch_and_eight_widths(tmp_path):
    jobs = sweep_jobs("width_sweep", tmp_path)
    assert len(jobs) == 8 * 3 * 2
    widths = set()
    for cfg in jobs:
        job = resolve(cfg)
        sizes = list(job.spec.layer_sizes)
        assert sizes[0] == cfg.dataset.n_features == 32 and sizes[-1] == 10
        assert sizes[1] == sizes[2]
        widths.add(sizes[1])
        assert cfg.experiment_name == "width_sweep" and cfg.train.batch_size == BATCH
        assert cfg.dataset.n_train == N_TRAIN
    assert sorted(widths) == WIDTHS
    assert {(c.framework.name, c.device.name if "name" in c.device else str(c.device))
            for c in jobs} >= {("numpy", "cpu"), ("torch", "cpu"), ("textbook", "cpu")}


def test_sizes_of_one_flop_count_get_no_rate_and_the_report_says_why(tmp_path, capsys):
    # a batch-size sweep at one width: steps move, FLOPs do not, so b would be a constant
    root = tmp_path / "runs"
    for job, (batch, framework) in enumerate(itertools.product([16, 32, 64, 128],
                                                               ["numpy", "torch"])):
        rec = record(framework, epoch_s=1e-3 * (1 + job), arch="32x64x64x10", flops=flops(64),
                     seed=job, batch_size=batch, n_train=N_TRAIN, dataset="synthetic",
                     experiment_name="width_sweep")
        (root / str(job) / ".hydra").mkdir(parents=True)
        write_result(root / str(job), rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report_main([str(root), "--out", str(tmp_path / "report"), "--no-progress"])
    printed = capsys.readouterr().out
    why = ("no fit: every size has the same FLOPs per epoch (37.5 MFLOP): a rate cannot be told "
           "from a fixed cost per epoch; sweep sizes of different FLOPs (widths)")
    assert f"cost model width_sweep: numpy cpu float32: {why}" in printed
    assert f"cost model width_sweep: torch cpu float32: {why}" in printed
    assert "R²" not in printed and "37.5 MFLOP to 37.5 MFLOP" not in printed


def test_an_interval_of_b_with_infinite_refits_is_no_nan():
    fitted = cm.RoundsFit(cm.fit(SIZES[:3], [1.0, 2.0, 3.0]), SIZES[:3], 3,
                          replicates=np.array([[1e-4, 0.0]] * 5 + [[1e-4, 1e-11]] * 95))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        lo, hi = fitted.interval("b")
    assert lo == pytest.approx(1e11) and hi == math.inf
