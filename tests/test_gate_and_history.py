"""Results over time: equivalence (TOST), step detection, what changed, the CI gate of
``--baseline/--candidate`` and ``--history``: statistics on synthetic samples with a known
difference, the command on record trees made in tmp_path, and the gate once on real records."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.analyse.changes import changes
from nnbench.report.analyse.compare import EXIT_SLOWER, EXIT_UNSURE
from nnbench.stats.equivalence import equivalence
from nnbench.stats.steps import find_steps


def rounds(n: int, level: float, noise: float, seed: int) -> list[float]:
    """``n`` round medians around ``level``, lognormal with sigma ``noise``."""
    return list(level * np.exp(np.random.default_rng(seed).normal(0, noise, n)))


# --- equivalence -------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(10))
def test_equal_speeds_with_small_noise_are_shown_equivalent(seed):
    result = equivalence(rounds(5, 0.1, 0.01, seed), rounds(5, 0.1, 0.01, 100 + seed), 0.05)
    assert result["verdict"] == "equivalent within ±5%", result
    assert 0.95 <= result["lo"] <= result["ratio"] <= result["hi"] <= 1.05 and result["p"] < 0.05


@pytest.mark.parametrize("seed", range(10))
def test_equivalence_is_refused_when_the_interval_is_too_wide(seed):
    result = equivalence(rounds(5, 0.1, 0.10, seed), rounds(5, 0.1, 0.10, 100 + seed), 0.05)
    assert not result["equivalent"]
    assert result["verdict"] == (f"not shown equivalent (interval [{result['lo']:.3f}, "
                                 f"{result['hi']:.3f}] is not within ±5%)")
    assert result["hi"] - result["lo"] > 0.10  # wider than the whole margin


@pytest.mark.parametrize("seed", range(10))
def test_equivalence_is_refused_for_a_true_ratio_of_1_10_with_margin_5_percent(seed):
    result = equivalence(rounds(5, 0.1, 0.01, seed), rounds(5, 0.11, 0.01, 100 + seed), 0.05)
    assert not result["equivalent"] and result["ratio"] == pytest.approx(1.10, rel=0.03)
    assert result["p"] > 0.5  # the upper one-sided test is nowhere near


def test_equivalence_cannot_tell_from_two_rounds_and_rejects_a_bad_margin():
    assert equivalence([1.0, 1.01], [1.0, 1.0], 0.05)["verdict"] == (
        "cannot tell: 2 vs 2 rounds (need at least 3 per side)")
    with pytest.raises(ValueError):
        equivalence([1.0] * 5, [1.0] * 5, 1.5)


# --- steps -------------------------------------------------------------------------------------

def history_series(sets: int, step_at: int | None, factor: float, seed: int,
                   per_set: int = 3, noise: float = 0.03) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    return [list(0.1 * (factor if step_at is not None and i >= step_at else 1)
                 * np.exp(rng.normal(0, noise, per_set))) for i in range(sets)]


@pytest.mark.parametrize("seed", range(10))
def test_a_known_step_is_found_at_its_index_with_its_size(seed):
    found = find_steps(history_series(6, 3, 2.0, seed))
    assert [s["index"] for s in found] == [3]
    assert found[0]["ratio"] == pytest.approx(2.0, rel=0.1)
    assert found[0]["lo"] < found[0]["ratio"] < found[0]["hi"] and found[0]["p"] < 0.01


def test_no_step_is_found_on_a_flat_noisy_series():
    # 3% noise per round, 3 rounds per set: a false step about once in 150 histories of 6 sets
    false = [seed for seed in range(100) if find_steps(history_series(6, None, 1.0, seed))]
    assert len(false) <= 2, false
    for seed in range(5):
        assert find_steps(history_series(6, None, 1.0, seed)) == []
        assert find_steps(history_series(20, None, 1.0, seed, per_set=5)) == []


def test_two_steps_are_each_found_and_measured_between_their_neighbours():
    series = [list(np.array(v) * (1.5 if i >= 7 else 1))
              for i, v in enumerate(history_series(10, 3, 2.0, 0))]
    found = find_steps(series)
    assert [s["index"] for s in found] == [3, 7]
    assert [round(s["ratio"], 1) for s in found] == [2.0, 1.5]


def test_a_step_below_the_threshold_or_from_single_values_is_not_called():
    assert find_steps(history_series(6, 3, 1.03, 0, noise=0.002)) == []  # 3% < 5%
    assert find_steps([0.1, 0.1, 0.1, 0.2, 0.2, 0.2]) == []  # 3 vs 3 values: p >= 0.1


# --- what changed ------------------------------------------------------------------------------

def env_record(torch: str = "2.13.1", threads: int = 2, host: str = "a") -> dict:
    return {"code_version": "c1", "threads": threads,
            "environment": {"torch": torch, "numpy": "2.4.6", "hostname": host},
            "config": {"bench": {"threads": threads, "round": 0}, "experiment_name": "x"}}


def test_what_changed_names_each_difference_old_to_new():
    assert changes([env_record()], [env_record()]) == []
    assert changes([env_record()], [env_record(torch="2.14.1", threads=1, host="b")]) == [
        "torch 2.13.1 → 2.14.1", "threads 2 → 1", "host a → b", "bench.threads 2 → 1"]


# --- the gate and the history on record trees --------------------------------------------------

def record(framework: str, epoch_s: float, round_: int, rounds_: int, time_utc: str,
           torch: str = "2.13.1", seed: int = 0) -> dict:
    times = list(epoch_s * (1 + 0.01 * np.random.default_rng(seed).standard_normal(20)))
    return {
        "status": "ok", "experiment_name": "demo", "framework": framework, "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
        "batch_size": None, "epochs": 20, "lr": 0.5, "init": "he_normal", "round": round_,
        "rounds": rounds_, "warmup_epochs": 0, "epoch_times_s": [times],
        "train_time_per_epoch_s": float(np.median(times)), "test_accuracy": 0.9,
        "environment": {"hostname": "hostA", "time_utc": time_utc, "torch": torch,
                        "numpy": "2.4.6"},
    }


def result_set(root: Path, levels: dict[str, float], n: int = 5, seed: int = 0,
               time_utc: str = "2026-01-01T00:00:00Z", torch: str = "2.13.1") -> Path:
    rng = np.random.default_rng(seed)
    for r in range(n):
        for framework, level in levels.items():
            job = root / f"{framework}-{r}"
            job.mkdir(parents=True)
            write_result(job, record(framework, level * float(np.exp(rng.normal(0, 0.02))), r,
                                     n, time_utc, torch, int(rng.integers(1e9))))
    return root


def compare_cli(tmp_path: Path, base: Path, cand: Path, *extra: str) -> int:
    return report_main(["--baseline", str(base), "--candidate", str(cand), "--out",
                        str(tmp_path / "cmp"), "--no-progress", *extra])


def test_the_gate_passes_a_a_and_fails_a_2x_slowdown_naming_what_changed(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.02, "torch": 0.01}, seed=1)
    same = result_set(tmp_path / "b", {"numpy": 0.02, "torch": 0.01}, seed=2)
    slow = result_set(tmp_path / "c", {"numpy": 0.04, "torch": 0.01}, seed=3, torch="2.14.1")
    assert compare_cli(tmp_path, base, same, "--fail-above", "0.1") == 0
    capsys.readouterr()
    assert compare_cli(tmp_path, base, slow, "--fail-above", "0.1") == EXIT_SLOWER == 3
    err = capsys.readouterr().err
    assert re.search(r"gate: slower by (9\d|10\d)% \[\d+, \d+\] \(more than 10%\): "
                     r"moons 2x32x16x1 float32 numpy cpu; ", err), err
    assert "torch 2.13.1 → 2.14.1" in err
    assert compare_cli(tmp_path, base, slow, "--fail-above", "1.5") == 0  # above the threshold
    assert compare_cli(tmp_path, base, slow) == 0  # no gate unless asked


def test_cannot_tell_passes_unless_asked_otherwise(tmp_path):
    base = result_set(tmp_path / "a", {"numpy": 0.02}, n=2, seed=1)
    cand = result_set(tmp_path / "b", {"numpy": 0.04}, n=2, seed=2)
    assert compare_cli(tmp_path, base, cand, "--fail-above", "0.1") == 0
    assert compare_cli(tmp_path, base, cand, "--fail-above", "0.1",
                       "--fail-on-unsure") == EXIT_UNSURE == 4


def test_markdown_for_a_pull_request_and_equivalence_verdicts(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.01, "torch": 0.01}, seed=1)
    same = result_set(tmp_path / "b", {"numpy": 0.01, "torch": 0.01}, seed=2)
    assert compare_cli(tmp_path, base, same, "--fail-above", "0.1", "--format", "markdown",
                       "--equivalence", "0.05") == 0
    out = capsys.readouterr().out
    assert out.startswith("### nnbench: candidate against baseline\n\nNo configuration "
                          "significantly slower by more than 10%.\n\n| configuration ")
    assert out.count("equivalent within ±5%") == 2
    compare_md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "numpy against torch within the set" in compare_md
    within = compare_md.split("within the set")[1:]
    assert [part.count("| equivalent within ±5%") for part in within] == [1, 1]


def test_option_values_out_of_range_are_one_line_errors(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.01})
    for bad in (["--equivalence", "2"], ["--fail-above", "-1"], ["--step-min-change", "0"]):
        assert compare_cli(tmp_path, base, base, *bad) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"nnbench.report: error: {bad[0]} ")


def history_sets(root: Path, step_at: int | None) -> list[Path]:
    folders = []
    for i in range(6):
        slow = step_at is not None and i + 1 >= step_at
        folders.append(result_set(root / f"set{i + 1}", {"numpy": 0.02 * (2 if slow else 1),
                                                         "torch": 0.01}, n=3, seed=i,
                                  time_utc=f"2026-01-0{i + 1}T00:00:00Z",
                                  torch="2.14.1" if slow else "2.13.1"))
    return folders[::-1]  # given newest first: the history orders them by time


def test_history_finds_the_step_at_set_4_with_its_size_and_what_changed(tmp_path, capsys):
    folders = history_sets(tmp_path / "runs", step_at=4)
    out = tmp_path / "history"
    assert report_main(["--history", *map(str, folders), "--out", str(out),
                        "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "numpy cpu s/epoch at set 4" in said and "torch 2.13.1 → 2.14.1" in said
    summary = (out / "summary.md").read_text()
    steps = [line for line in summary.splitlines() if line.startswith("- **step**")]
    assert len(steps) == 2, steps  # time per epoch of numpy, and the numpy/torch ratio
    sizes = [re.search(r" at set 4 \(2026-01-04T00:00:00Z\): ([\d.]+)x \[", s) for s in steps]
    assert all(m and float(m[1]) == pytest.approx(2.0, rel=0.1) for m in sizes), steps
    rows = [line for line in summary.splitlines() if line.startswith("| 4 set4")]
    assert "**2.14.1**" in rows[0]  # the version marked where it changes
    assert (out / "history.png").read_bytes()[:4] == b"\x89PNG"


def test_the_history_page_inlines_the_history_png_and_holds_each_table_and_step(tmp_path):
    folders = history_sets(tmp_path / "runs", step_at=4)
    out = tmp_path / "history"
    assert report_main(["--history", *map(str, folders), "--out", str(out),
                        "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)">', page)
    assert [alt for alt, _ in images] == ["history"]
    assert base64.b64decode(images[0][1]) == (out / "history.png").read_bytes()
    summary = (out / "summary.md").read_text()
    titles = re.findall(r"^## (.+)$", summary, flags=re.MULTILINE)
    assert titles and all(f"<h2>{html.escape(t)}</h2>" in page for t in titles)
    # a row per set in each table: the markdown's "| " lines less each table's header line
    assert page.count("<tr>") == summary.count("\n| ") - summary.count("\n|:")
    assert page.count("<li><strong>step</strong> in ") == summary.count("- **step** in ") == 2
    assert "<td><strong>2.14.1</strong></td>" in page  # the version marked where it changes


def test_history_of_identical_sets_has_no_step(tmp_path):
    out = tmp_path / "history"
    folders = history_sets(tmp_path / "runs", step_at=None)
    assert report_main(["--history", *map(str, folders), "--out", str(out),
                        "--no-progress"]) == 0
    assert "- no step found" in (out / "summary.md").read_text()
    assert "**step**" not in (out / "summary.md").read_text()


# --- the gate on real records ------------------------------------------------------------------

def _copy(records: list[dict], folder: Path, scale: float = 1.0) -> Path:
    for rec in records:
        rec = dict(rec, train_time_per_epoch_s=rec["train_time_per_epoch_s"] * scale,
                   epoch_times_s=[[t * scale for t in ts] for ts in rec["epoch_times_s"]])
        job = folder / f"{rec['framework']}-{rec['round']}"
        job.mkdir(parents=True)
        (job / "result.json").write_text(json.dumps(rec))
    return folder


@pytest.mark.slow
def test_the_gate_on_real_records_a_a_and_a_2x_slowdown(tmp_path):
    """Ten rounds of the real CLI. A/A: even against odd rounds (exit 0). 2x: the five rounds
    closest to each other against copies of them with every time doubled (exit 3)."""
    proc = run_cli("-m", "framework=numpy", "bench.rounds=10", "train.epochs=20",
                   "bench.mfu=false", "bench.memory_probe=false", f"runs_dir={tmp_path}/runs",
                   "hydra.sweep.subdir=${hydra.job.num}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = [json.loads(p.read_text()) for p in (tmp_path / "runs").rglob("result.json")]
    assert len(recs) == 10
    even = _copy([r for r in recs if r["round"] % 2 == 0], tmp_path / "even")
    odd = _copy([r for r in recs if r["round"] % 2 == 1], tmp_path / "odd")
    gate = ("--fail-above", "0.1", "--no-progress")
    a_a = run_cli("--baseline", str(even), "--candidate", str(odd), "--out",
                  str(tmp_path / "aa"), *gate, module="nnbench.report")
    assert a_a.returncode == 0, a_a.stdout + a_a.stderr
    recs.sort(key=lambda r: r["train_time_per_epoch_s"])
    spans = [recs[i + 4]["train_time_per_epoch_s"] / recs[i]["train_time_per_epoch_s"]
             for i in range(6)]
    tight = recs[int(np.argmin(spans)):][:5]
    if min(spans) >= 2:
        pytest.skip(f"this host's rounds spread {min(spans):.1f}x: a 2x change cannot separate")
    base, slow = _copy(tight, tmp_path / "base"), _copy(tight, tmp_path / "slow", scale=2.0)
    twice = run_cli("--baseline", str(base), "--candidate", str(slow), "--out",
                    str(tmp_path / "2x"), *gate, module="nnbench.report")
    assert twice.returncode == EXIT_SLOWER, twice.stdout + twice.stderr
    assert "gate: slower by 100% [" in twice.stderr
