"""A body of results keeps its identity: resume and the report's pooling never cross a code
change, a sweep does not run one job twice as one round, and no configuration is dropped from a
figure without a word.

The code edits are real: a copy of the package in a git repository of its own under tmp_path,
edited between a run and its resume, run through the real command line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, TESTS, run_cli

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main

# a job of a second or two: the identity is under test, not the figures
TINY = ("dataset=moons", "dataset.n_samples=200", "train.epochs=3", "bench.mfu=false",
        "bench.min_samples=0", "bench.memory_probe=false", "bench.isolate=false")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *args],
                   check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """nnbench's package, configs and plugins as they are in this tree, committed in a fresh
    repository (a clone would lack the tree's uncommitted edits)."""
    repo = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("nnbench", "conf", "hydra_plugins"):
        shutil.copytree(REPO / part, repo / part, ignore=ignore)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "as the tree is")
    return repo


def _edit(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def _run(repo: Path, runs: Path, *args: str, env: dict | None = None
         ) -> subprocess.CompletedProcess:
    done = run_cli(*TINY, f"runs_dir={runs}", *args, cwd=repo, env=env)  # repo's nnbench first
    assert done.returncode == 0, done.stderr
    return done


def _records(runs: Path) -> list[dict]:
    """The records under ``runs``, oldest first."""
    files = sorted(runs.rglob("result.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in files]


@pytest.mark.slow
def test_a_resume_after_an_edit_of_the_trainer_runs_the_job_again(checkout):
    """The reported probe: the tree is already edited when the first run is made (so both runs
    used to be the same ``<commit>-dirty``); the trainer is edited again before the resume."""
    trainer = checkout / "nnbench" / "frameworks" / "numpy" / "trainer.py"
    runs = checkout.parent / "runs"
    _edit(trainer, "# first edit")
    _run(checkout, runs, "framework=numpy")
    _edit(trainer, "# second edit: the code that runs is not the code that ran")
    resumed = _run(checkout, runs, "framework=numpy", "bench.resume=true")
    assert len(_records(runs)) == 2, f"kept a result of code that no longer exists:\n" \
        f"{resumed.stdout}"
    first, second = _records(runs)
    assert second["code_version"] != first["code_version"]
    assert second["job_key"] != first["job_key"]
    assert first["code_version"].startswith(second["code_version"][:40] + "-dirty-")
    # nothing edited since: the same job is resumed, not run a third time
    _run(checkout, runs, "framework=numpy", "bench.resume=true")
    assert len(_records(runs)) == 2
    assert len(list(runs.rglob("resumed.json"))) == 1


@pytest.mark.slow
def test_a_framework_outside_the_checkout_is_part_of_the_code_version(checkout, tmp_path):
    """A third-party trainer (tests/frameworks/noblas.py, copied outside the repository): an
    edit of its module runs its jobs again."""
    plugins = tmp_path / "plugins"
    shutil.copytree(TESTS / "frameworks", plugins / "frameworks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    search = f"hydra.searchpath=[file://{TESTS / 'conf'}]"
    runs = tmp_path / "runs"
    _run(checkout, runs, "framework=noblas", search, env=env)
    _edit(plugins / "frameworks" / "noblas.py", "# an edit outside the checkout")
    _run(checkout, runs, "framework=noblas", search, "bench.resume=true", env=env)
    assert len(_records(runs)) == 2, "kept a result of the trainer before its edit"
    first, second = _records(runs)
    assert re.fullmatch(r"[0-9a-f]{40}\+noblas\.py:[0-9a-f]{12}", first["code_version"])
    assert second["code_version"] != first["code_version"]


# ---- the report: rounds pool only within one code version and one environment ----

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def record(framework: str, epoch_s: float, seed: int, code: str = COMMIT,
           numpy_version: str = "2.1.0", **extra) -> dict:
    rng = np.random.default_rng(seed)
    times = list(epoch_s * (1 + 0.01 * rng.standard_normal(30)))
    rec = {
        "status": "ok", "experiment_name": "demo", "framework": framework, "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
        "batch_size": None, "epochs": 30, "lr": 0.5, "init": "he_normal",
        "code_version": code, "warmup_epochs": 0, "epoch_times_s": [times],
        "train_time_per_epoch_s": float(np.median(times)),
        "inference_latency_per_sample_s": epoch_s / 1000, "peak_rss_mb": 100.0,
        "test_accuracy": 0.9, "loss_history": list(np.geomspace(1, 0.1, 30)),
        "environment": {"hostname": "hostA", "time_utc": "2026-01-01T00:00:00Z",
                        "numpy": numpy_version, "torch": "2.5.1"},
    }
    rec.update(extra)
    return rec


def rounds(runs: Path, name: str, rounds_: int, numpy_s: float, torch_s: float, **extra) -> None:
    """``rounds_`` rounds of numpy and torch in one sweep folder, as ``bench.rounds`` leaves."""
    for r in range(rounds_):
        for framework, level in (("numpy", numpy_s), ("torch", torch_s)):
            rec = record(framework, level, seed=zlib.crc32(f"{name}{r}{framework}".encode()),
                         round=r, rounds=rounds_, **extra)
            job = runs / name / f"{r}-{framework}"
            (job / ".hydra").mkdir(parents=True)
            write_result(job, rec)


def _time_rows(summary: str) -> list[list[str]]:
    table = summary.split("### Training time per epoch (s")[1].split("###")[0]
    return [[c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines()
            if line.startswith("| moons")]


def _report(runs: Path, out: Path) -> str:
    assert report_main([str(runs), "--out", str(out), "--no-progress"]) == 0
    return (out / "summary.md").read_text()


def test_records_of_two_code_versions_are_not_pooled_as_rounds_of_one(tmp_path):
    """Three rounds at one commit, three after an edit that doubled numpy's time: two rows
    of three rounds each, told apart by their code version; never one row of six."""
    edited = f"{COMMIT}-dirty-a1b2c3d4e5f6"
    rounds(tmp_path / "runs", "before", 3, numpy_s=0.02, torch_s=0.01)
    rounds(tmp_path / "runs", "after", 3, numpy_s=0.04, torch_s=0.01, code=edited)
    summary = _report(tmp_path / "runs", tmp_path / "report")
    rows = _time_rows(summary)
    assert len(rows) == 2, summary
    assert all("(3 rounds" in cell for row in rows for cell in row if "rounds" in cell)
    assert "6 rounds" not in summary
    assert sorted(row[3] for row in rows) == ["0123456", "0123456-dirty-a1b2c3d4"]
    ratios = sorted(float(re.match(r"([\d.]+)x", row[-1])[1]) for row in rows)
    assert ratios == [pytest.approx(2.0, rel=0.1), pytest.approx(4.0, rel=0.1)]
    section = summary.split("### Records of several code or library versions")[1]
    assert "0123456-dirty-a1b2c3d4" in section.split("###")[0]


def test_records_of_two_numpy_versions_are_not_pooled_either(tmp_path):
    rounds(tmp_path / "runs", "old", 2, numpy_s=0.02, torch_s=0.01, numpy_version="1.26.4")
    rounds(tmp_path / "runs", "new", 2, numpy_s=0.01, torch_s=0.01, numpy_version="2.1.0")
    rows = _time_rows(_report(tmp_path / "runs", tmp_path / "report"))
    assert sorted(row[3] for row in rows) == ["1.26.4", "2.1.0"]


def test_frameworks_whose_code_versions_differ_by_design_share_a_row(tmp_path):
    """A trainer defined outside the package has its own code version; as long as no
    framework's rounds span two, the configuration stays one row with its ratio."""
    rounds(tmp_path / "runs", "sweep", 2, numpy_s=0.02, torch_s=0.01)
    for rec_file in (tmp_path / "runs").rglob("result.json"):
        rec = json.loads(rec_file.read_text())
        if rec["framework"] == "torch":
            rec["code_version"] = f"{COMMIT}+mytorch.py:00aa11bb22cc"
            rec_file.write_text(json.dumps(rec))
    summary = _report(tmp_path / "runs", tmp_path / "report")
    rows = _time_rows(summary)
    assert len(rows) == 1 and re.match(r"[\d.]+x \[", rows[0][-1]), summary
    assert "Records of several code or library versions" not in summary


def test_a_sweep_that_lists_a_value_twice_is_refused_before_it_starts(tmp_path):
    """framework=numpy,numpy would run one job twice under round 0 and pool it as 2 rounds."""
    done = run_cli("-m", "framework=numpy,numpy", *TINY, f"runs_dir={tmp_path / 'runs'}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "nnbench: error: framework=numpy,numpy lists numpy twice: its jobs would run twice as "
        "one round and pool as two; list each value once (bench.rounds=N runs every job N "
        "times, each its own round)"]
    assert not (tmp_path / "runs").exists()


# ---- figures: every configuration drawn, or named as left out ----

def test_every_configuration_is_in_a_figure_or_named_as_left_out(tmp_path, monkeypatch):
    """40 configurations (lr 0.001 to 0.040): each is a tick label of a comparison page and
    the title of a loss-curve panel, or named under "Configurations not drawn" in summary.md
    and report.html; each page says which of the whole it holds."""
    from matplotlib.figure import Figure

    shown: dict[str, list[str]] = {}
    real_savefig = Figure.savefig

    def savefig(fig, path, *args, **kwargs):
        texts = [fig._suptitle.get_text() if fig._suptitle else ""]
        texts += [t.get_text() for t in fig.texts]  # a page's key of numbered ticks
        for ax in fig.get_axes():
            texts += [t.get_text() for t in ax.get_xticklabels()] + [ax.get_title()]
        shown[Path(path).name] = texts
        return real_savefig(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    runs = tmp_path / "runs"
    lrs = [f"{(i + 1) / 1000:g}" for i in range(40)]
    for i, lr in enumerate(lrs):
        for framework in ("numpy", "torch"):
            job = runs / f"{i}-{framework}"
            (job / ".hydra").mkdir(parents=True)
            write_result(job, record(framework, 0.01 * (1 + i % 5), seed=i, lr=float(lr)))
    summary = _report(runs, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    named = summary.split("## Configurations not drawn in the figures")[1]

    def lr_of(text: str) -> set[str]:
        return set(re.findall(r"lr (0\.\d+)", text.replace("\n", " ")))

    for figure in ("comparison_summary", "loss_curves"):
        pages = [name for name in shown if name.startswith(figure)]
        assert len(pages) > 1
        drawn = set().union(*(lr_of(" | ".join(shown[name])) for name in pages))
        left = lr_of("\n".join(line for line in named.splitlines()
                               if line.startswith(f"| {figure}.png")))
        assert drawn | left == set(lrs), figure
        assert not drawn & left
        for name in pages:  # each page says what it holds of the whole, and where the rest is
            assert "of 40" in shown[name][0]
            if left:
                assert "not drawn" in shown[name][0]
        assert all(f"lr {lr} " in page or f"lr {lr}<" in page for lr in left)
