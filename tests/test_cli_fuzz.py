"""The real command line under random overrides: whatever is typed, ``python -m nnbench`` prints
no traceback, exits 0, 1 or 2, and leaves no job folder without its record.

Each example is one run in a subprocess (a few epochs of two-moons in the job's own process,
about two seconds), so the example count is modest (30; NNBENCH_FUZZ_EXAMPLES sets another,
NNBENCH_FUZZ_LOG=FILE logs each command and outcome); ``--hypothesis-show-statistics`` (in the
pytest options) prints the count. Left out of the keys, with the reason:

- ``train.epochs``, ``bench.repeats``, ``dataset.n_samples`` and layer sizes take any positive
  number, and a large one is a long job or a large allocation, not a fault;
- ``bench.mfu``, ``bench.memory_probe`` and ``bench.isolate`` add seconds per example;
- ``runs_dir`` and ``experiment_name`` are where the run writes: they stay in the test's folder;
- ``dataset=mnist`` and ``dataset=fashion_mnist`` read or download 60,000 images.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from helpers import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

BASE = ["train.epochs=2", "bench.mfu=false", "bench.memory_probe=false", "bench.isolate=false"]

KEYS = [
    "train.lr", "train.batch_size", "train.seed", "train.loss", "train.init", "train.shuffle",
    "bench.threads", "bench.warmup_epochs", "bench.target_accuracy", "bench.vary_seed",
    "bench.inference_batch_size", "bench.gradient_check_seed", "bench.resume",
    "bench.allow_parallel", "dataset.noise", "dataset.test_size", "dataset.random_state",
    "dataset.split_random_state", "arch.activations", "arch.name", "precision.tf32",
    "precision.name", "device.name", "framework.name", "framework.compile",
    # keys no schema has
    "train.lrr", "foo", "bench.fast", "dataset.nois", "dataset.n_train", "framework.jit",
    "device.index", "train", "bench",
]
GROUPS = {
    "framework": ["numpy", "torch", "textbook", "jax"],
    "dataset": ["moons", "synthetic", "cifar"],
    "precision": ["float32", "float64", "float16", "bfloat16", "mixed_float16", "float8"],
    "device": ["cpu", "cuda", "tpu"],
    "arch": ["mlp_2x32x16x1", "mlp_2x32x16x2", "mlp_784x128x10", "nope"],
    "train": ["full_batch", "minibatch", "default_moons", "nope"],
    "bench": ["default", "fast"],
    "experiment": ["case_study_moons", "nope"],
}
ODD = ["inf", "-inf", "nan", "-0", "0", "-1", "1e309", "-1e309", "1e-320", "99999999999999999999",
       "4294967296", "", "null", "true", "False", "[]", "[1,2]", "{a: 1}", "é", "日本語", "🙂",
       "${nope}", "${nope.x}", "${train.lr}", "${oc.env:HOME}", "${oc.env:NNBENCH_NOPE}",
       "'quoted'", "a b", "0x10", "1_000", "relu", "bce", "numpy", "cuda", "float64", "1,2"]

# values a job can take, so that some examples run (and may diverge, skip or fail)
PLAUSIBLE = ["0.1", "0.5", "1", "2", "8", "64", "1000", "100000", "1e6", "true", "false",
             "he_normal", "uniform", "torch_default", "mse", "cross_entropy",
             "[relu,relu,sigmoid]", "[relu,relu,softmax]", "numpy", "torch", "cpu", "float64"]

values = st.one_of(
    st.sampled_from(ODD),
    st.sampled_from(PLAUSIBLE),
    st.integers(-3, 3).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=6).map(
        lambda s: f"'{s}'" if s and not s.isalnum() else s),
)
value_overrides = st.builds(lambda prefix, key, value: f"{prefix}{key}={value}",
                            st.sampled_from(["", "", "+", "++", "~"]), st.sampled_from(KEYS),
                            values)
group_overrides = st.sampled_from(sorted(GROUPS)).flatmap(
    lambda g: st.builds(lambda prefix, option: f"{prefix}{g}={option}",
                        st.sampled_from(["", "+"] if g == "experiment" else ["", "", "+"]),
                        st.sampled_from(GROUPS[g])))
overrides = st.lists(st.one_of(value_overrides, group_overrides), min_size=1, max_size=3)


def job_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob(".hydra"))


@pytest.mark.slow
@settings(deadline=None, max_examples=int(os.environ.get("NNBENCH_FUZZ_EXAMPLES", "30")))
@given(overrides, st.booleans())
def test_random_overrides_never_crash_the_command_line(typed, multirun):
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder) / "runs"
        proc = run_cli(*(["-m"] if multirun else []), *BASE, *typed, f"runs_dir={runs}")
        cmd = proc.args  # python -m nnbench ...
        output = proc.stdout + proc.stderr
        if os.environ.get("NNBENCH_FUZZ_LOG"):  # every example's command and outcome
            with open(os.environ["NNBENCH_FUZZ_LOG"], "a") as log:
                log.write(f"{proc.returncode} {' '.join(cmd[3:-1])}\n  {output[-300:]!r}\n")
        shown = f"{' '.join(cmd[3:])}\n{output[-3000:]}"
        assert "Traceback" not in output, shown
        assert proc.returncode in (0, 1, 2), shown
        jobs = job_folders(runs)
        for job in jobs:
            assert (job / "result.json").is_file() or (job / "resumed.json").is_file(), shown
        if proc.returncode == 2:  # refused before any job: one line, nothing left behind
            lines = [ln for ln in output.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("nnbench: error: "), shown
            assert not runs.exists(), shown
        if proc.returncode == 1:  # some job failed, and its record says so
            statuses = [json.loads((j / "result.json").read_text())["status"] for j in jobs
                        if (j / "result.json").is_file()]
            assert "failed" in statuses, shown
