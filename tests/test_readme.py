"""Every ``python -m nnbench`` command README.md and the manual (docs/*.md) show runs as written:
exit status 0 (or, for a job the docs show failing, 1 and its reason), no traceback, and no job
folder without its record.

Commands are taken from the bash blocks and inline code of README.md and of every page under
docs/, so a command added to any of them is run here; each must be listed in ``PLAN`` with what
is appended to keep it short, or with the reason it cannot run on a test host. A command shown on
several pages is run once. The appended overrides only shrink the work (fewer epochs, no
matmul-peak measurement, no memory probe, subsamples); the command's own words are kept.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
FASHION = Path("/usr/share/datasets/fashion-mnist")

# Appended to every command: two epochs, one of them warm-up, and no probes, passes, replays or
# top-ups that take seconds (the matmul peak, the memory probe, the phases, the accuracy per
# epoch, repeats up to min_samples).
SHRINK = ["train.epochs=2", "bench.warmup_epochs=1", "bench.mfu=false",
          "bench.memory_probe=false", "bench.phases=false", "bench.accuracy_per_epoch=false",
          "bench.min_samples=0"]
# Test sets of a few hundred samples where an experiment's networks are large: whole-test-set
# inference calls (64 at least, 2 s at most a figure) are most of such a job's time.
SMALL_TEST = ["dataset.n_test=200"]
# MNIST-style runs: no download (tests run offline; MNIST then falls back to Fashion-MNIST's
# files from Debian's package) and a subsample.
OFFLINE = ["dataset.download=false", "dataset.n_train=1000", "dataset.n_test=500"]


class Skip(str):
    """The reason a command of the docs is not run here."""


class Fails(list):
    """The overrides of a command whose job the docs show failing: it exits 1, its record says
    ``failed`` with ``reason``."""

    def __init__(self, reason: str, extra: tuple[str, ...] = ()):
        super().__init__(extra)
        self.reason = reason


PLAN: dict[str, list[str] | Skip] = {
    "python -m nnbench": [],
    "python -m nnbench framework=torch precision=float64": [],
    "python -m nnbench -m framework=numpy,torch precision=float32,float64": [],
    "python -m nnbench train=minibatch arch=mlp_2x32x16x2": [],
    "python -m nnbench --cfg job": [],
    "python -m nnbench -m framework=numpy,torch device=cpu,cuda": [],
    # on a host without a GPU these end skipped, as the docs say (exit 0)
    "python -m nnbench -m framework=torch device=cuda "
    "precision=float32,float16,bfloat16,mixed_float16,mixed_bfloat16": [],
    "python -m nnbench framework=torch device=cuda precision.tf32=true": [],
    "python -m nnbench framework=numpy device=cuda": [],
    "python -m nnbench -m framework=torch framework.compile=false,true": [],
    "python -m nnbench -m framework=numpy,torch bench.profile=true": [],
    "python -m nnbench -m framework=numpy,torch bench.threads=1": [],
    "python -m nnbench dataset=mnist dataset.fallback=fashion_mnist": OFFLINE,
    "python -m nnbench -m +experiment=case_study_moons": [],
    "python -m nnbench -m +experiment=case_study_moons bench.repeats=5 bench.vary_seed=true "
    "bench.target_accuracy=0.95": ["bench.accuracy_per_epoch=true"],  # what the target needs
    "python -m nnbench -m bench.rounds=5 framework=numpy,torch": [],
    # the default rounds (auto): the suite runs one (NNBENCH_ROUNDS=1, tests/conftest.py);
    # tests/test_default_rounds.py runs the default itself
    "python -m nnbench -m framework=numpy,torch": [],
    "python -m nnbench -m bench.budget_s=600 +experiment=compare_deep": SMALL_TEST,
    "python -m nnbench -m bench.rounds=5 +experiment=compare_deep": SMALL_TEST,
    "python -m nnbench -m +experiment=compare_784x64x10": SMALL_TEST,
    "python -m nnbench -m +experiment=compare_wide": SMALL_TEST,
    "python -m nnbench -m +experiment=compare_deep": SMALL_TEST,
    "python -m nnbench -m +experiment=mnist_report": OFFLINE,
    "python -m nnbench -m +experiment=scaling": ["dataset.n_train=500", *SMALL_TEST],
    # the narrowest width on the CPU: its three frameworks, not 48 jobs up to 26 GFLOP an epoch
    "python -m nnbench -m +experiment=width_sweep": ["device=cpu",
                                                     "arch.layer_sizes=[32,16,16,10]"],
    # conf/experiment/moons_width.yaml is the docs' own YAML block (docs/experiments.md), saved
    # by the test
    "python -m nnbench -m +experiment=moons_width": [],
    "python -m nnbench -m framework=numpy,torch hydra/launcher=joblib hydra.launcher.n_jobs=2 "
    "bench.allow_parallel=true": [],
    # docs/yours.md: a learner's network, right and broken, alone and beside numpy and torch
    "python -m nnbench framework=mine mine=tests/learners/seed000_functions.py "
    "precision=float64": [],
    "python -m nnbench framework=mine mine=tests/learners/broken/db_sum.py precision=float64":
        Fails("db3 is off by a factor of 1,600 = the batch size: the mean over samples is "
              "missing (divide the sum over the 1,600 samples by m)"),
    "python -m nnbench -m framework=numpy,torch,mine mine=tests/learners/seed000_functions.py "
    "precision=float64": [],
    "python -m nnbench framework=mine mine=tests/learners/seed002_columns.py dataset=synthetic "
    "arch.layer_sizes=[20,10,2] train.init=uniform precision=float64": [],
    "python -m nnbench framework=mine mine=tests/learners/seed001_class.py dataset=synthetic "
    "precision=float64": [],
    "python -m nnbench -m framework=numpy,torch,jax":
        Skip("needs the jax framework that section has the reader write; "
             "tests/test_third_framework.py sweeps a third framework defined in tests/"),
    "python -m nnbench -m framework=numpy,torch "
    "bench.python=null,$PWD/.venv-numpy-2.4.0/bin/python bench.rounds=5":
        Skip("needs the second environment make env-numpy builds (pip, the package index); "
             "tests/test_environments.py sweeps this interpreter and a second one made without "
             "pip"),
    "python -m nnbench -m +experiment=scaling hydra/launcher=slurm hydra.launcher.partition=gpu":
        Skip("needs a SLURM cluster; tests/test_slurm.py runs sweeps on a local one"),
    "python -m nnbench -m framework=numpy,torch hydra/launcher=slurm "
    "hydra.launcher.partition=debug hydra.launcher.gpus_per_node=0 "
    "hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=1":
        Skip("needs the local cluster of scripts/local_slurm.sh up (root, Debian's slurm "
             "packages); tests/test_slurm.py starts one and runs this sweep"),
    "python -m nnbench -m +experiment=scaling hydra/launcher=submitit_local "
    "bench.allow_parallel=true":
        Skip("starts all 16 scaling jobs at once, each a process with torch, minutes of "
             "contention on a small host; tests/test_launchers.py runs submitit_local on a "
             "4-job sweep"),
}


def readme_commands(text: str) -> list[str]:
    """The ``python -m nnbench`` commands in bash blocks and inline code, comments removed, a
    ``&&`` chain split into its commands (``pip install`` needs the network: not run)."""
    lines = [ln for block in re.findall(r"```bash\n(.*?)```", text, re.S)
             for ln in block.replace("\\\n", " ").splitlines()]  # continued lines joined
    lines += re.findall(r"`(python -m nnbench(?: [^`]*)?)`", text)
    found: list[str] = []
    for line in lines:
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words[:3] == ["python", "-m", "nnbench"]:
                command = " ".join(words)
                if command not in found:
                    found.append(command)
    return found


def manual() -> list[Path]:
    """README.md and every Markdown page of the manual, in a fixed order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def manual_commands() -> list[str]:
    """``readme_commands`` of every file of ``manual()``, each command once."""
    found: list[str] = []
    for path in manual():
        for command in readme_commands(path.read_text()):
            if command not in found:
                found.append(command)
    return found


SAVE_AS = "Save this as `conf/experiment/moons_width.yaml`"


def moons_width_yaml(text: str | None = None) -> str:
    """The YAML block the docs ask to save as conf/experiment/moons_width.yaml (by default,
    from whichever page of the manual asks)."""
    if text is None:
        [text] = [p.read_text() for p in manual() if SAVE_AS in p.read_text()]
    after = text[text.index(SAVE_AS):]
    return re.search(r"```yaml\n(.*?)```", after, re.S).group(1)


def test_every_readme_command_is_planned():
    commands = manual_commands()
    assert len(commands) >= 15
    missing = [c for c in commands if c not in PLAN]
    stale = [c for c in PLAN if c not in commands]
    assert set(commands) == set(PLAN), (f"new commands in the docs, add them to PLAN: {missing}; "
                                         f"in PLAN but in no page: {stale}")


def test_readme_commands_are_read_too():
    """The README's own commands are among those run: it is read like every page of docs/."""
    readme = readme_commands(README.read_text())
    assert readme and set(readme) <= set(manual_commands())
    assert len(manual()) > 1, "docs/*.md not found"


def test_readme_stays_short():
    """README.md is the introduction; the manual is docs/."""
    assert len(README.read_text().splitlines()) <= 150


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One data folder for the module: Fashion-MNIST is decoded once, not into the repo."""
    return tmp_path_factory.mktemp("data")


RUN = [c for c, plan in PLAN.items() if not isinstance(plan, Skip)]


@pytest.mark.slow
@pytest.mark.parametrize("command", RUN,
                         ids=[c.removeprefix("python -m nnbench").strip() or "-" for c in RUN])
def test_readme_command_runs_as_written(command, tmp_path, data_dir):
    extra = PLAN[command]
    if extra is OFFLINE and not FASHION.is_dir():
        pytest.skip(f"offline, MNIST falls back to Fashion-MNIST's files in {FASHION} "
                    f"(apt-get install dataset-fashion-mnist)")
    conf = tmp_path / "conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "experiment" / "moons_width.yaml").write_text(moons_width_yaml())
    runs = tmp_path / "runs"
    args = shlex.split(command)[3:]
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    cmd = [sys.executable, "-m", "nnbench", *flags, *overrides, *SHRINK, *extra,
           f"runs_dir={runs}"]
    if "moons_width" in command:
        cmd.append(f"hydra.searchpath=[file://{conf}]")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NNBENCH_DATA_DIR": str(data_dir)})
    output = proc.stdout + proc.stderr
    fails = isinstance(extra, Fails)
    assert proc.returncode == (1 if fails else 0), output[-3000:]
    assert "Traceback" not in output and "nnbench: error" not in output, output[-3000:]
    if "--cfg" in flags:
        assert "train:" in proc.stdout and not runs.exists()
        return
    jobs = [p.parent for p in runs.rglob(".hydra")]
    assert jobs, output[-3000:]
    for job in jobs:
        assert (job / "result.json").is_file(), f"{job} has no result.json"
        record = json.loads((job / "result.json").read_text())
        if fails:  # as the docs show it: failed, saying why
            assert (record["status"], record["reason"]) == ("failed", extra.reason)
        else:
            assert record["status"] in ("ok", "skipped"), record.get("reason")
