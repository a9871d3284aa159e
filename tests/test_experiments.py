"""The experiments in conf/experiment: every job they sweep composes and validates, and the
seed-000 case study runs end to end (shrunk) with its gradient comparison."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from helpers import CONF, run_cli
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from nnbench.job import resolve

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def sweep_jobs(name: str, tmp_path: Path) -> list:
    """Every job's config, expanding the experiment's own hydra.sweeper.params."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        base = compose("config", overrides=[f"+experiment={name}", f"runs_dir={tmp_path}"],
                       return_hydra_config=True)
        params = OmegaConf.to_container(base.hydra.sweeper.params)
        parser = OverridesParser.create()  # as Hydra reads them: a swept value may be a list
        axes = [[f"{key}={v}" for v in parser.parse_overrides([f"{key}={values}"])[0]
                 .sweep_string_iterator()] for key, values in params.items()]
        return [compose("config", overrides=[f"+experiment={name}", f"runs_dir={tmp_path}",
                                             *combo])
                for combo in itertools.product(*axes)]


def test_the_seed_experiments_and_the_width_sweep_are_all_there():
    assert EXPERIMENTS == ["case_study_moons", "compare_784x64x10", "compare_deep",
                           "compare_wide", "mnist_report", "scaling", "width_sweep"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_job_of_every_experiment_is_valid(name, tmp_path):
    jobs = sweep_jobs(name, tmp_path)
    assert len(jobs) >= 2
    for cfg in jobs:
        resolve(cfg)
        assert cfg.experiment_name == name


def test_experiments_carry_the_seeds_settings(tmp_path):
    moons = sweep_jobs("case_study_moons", tmp_path)
    assert {(c.framework.name, c.precision.name) for c in moons} == {
        ("numpy", "float32"), ("numpy", "float64"), ("torch", "float32"), ("torch", "float64")}
    c = moons[0]
    assert (c.train.lr, c.train.epochs, c.train.batch_size, c.train.init) == \
        (0.5, 2000, None, "he_normal")
    assert c.bench.gradient_check_seed == 99 and list(c.arch.layer_sizes) == [2, 32, 16, 1]
    wide = sweep_jobs("compare_wide", tmp_path)[0]
    assert (wide.dataset.n_train, wide.train.epochs, wide.train.batch_size, wide.train.lr,
            wide.train.seed, wide.train.loss) == (500, 10, 128, 0.05, 123, "mse")
    report = sweep_jobs("mnist_report", tmp_path)
    assert {c.train.batch_size for c in report} == {None, 64}
    assert report[0].train.init == "uniform" and report[0].dataset.fallback == "fashion_mnist"
    scaling = sweep_jobs("scaling", tmp_path)
    assert len(scaling) == 16
    pairs = {(tuple(c.arch.layer_sizes), c.dataset.n_train) for c in scaling}
    assert pairs == {((2, 32, 16, 1), 2000), ((784, 256, 128, 10), 1000),
                     ((784, 512, 256, 128, 10), 5000), ((1024, 1024, 1024, 1024, 10), 10000)}


@pytest.mark.slow
def test_case_study_runs_and_prints_the_gradient_comparison(tmp_path):
    proc = run_cli("-m", "+experiment=case_study_moons", "train.epochs=50", "bench.mfu=false",
                   f"runs_dir={tmp_path}", timeout=600)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(p.read_text()) for p in tmp_path.rglob("result.json")]
    assert len(records) == 4 and {r["status"] for r in records} == {"ok"}
    assert all(r["experiment_name"] == "case_study_moons" for r in records)
    for r in records:
        diffs = r["gradient_check"]["max_rel_diff"]
        assert r["gradient_check"]["seed"] == 99 and set(diffs) >= {"W1", "W2", "W3"}
        assert max(diffs.values()) < (1e-12 if r["precision"] == "float64" else 1e-5)
    assert proc.stdout.count("gradient vs autograd") == 4
    assert (tmp_path / "case_study_moons").is_dir()
