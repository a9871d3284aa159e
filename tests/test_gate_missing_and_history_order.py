"""The gate against a candidate that did not run what the baseline ran, gate options without a
comparison, and the order of a history's sets: record trees made in tmp_path."""

from __future__ import annotations

from pathlib import Path

from test_gate_and_history import compare_cli, record, result_set

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.compare import EXIT_NOT_OK


def failed_set(root: Path, framework: str, n: int = 5, status: str = "failed",
               reason: str = "RuntimeError: the kernel crashed") -> None:
    """``n`` rounds of ``framework`` under ``root`` that ended ``status``, with ``reason``."""
    for r in range(n):
        rec = record(framework, 0.01, r, n, "2026-01-02T00:00:00Z")
        for field in ("epoch_times_s", "train_time_per_epoch_s", "test_accuracy"):
            rec.pop(field)
        job = root / f"{framework}-{r}"
        job.mkdir(parents=True)
        write_result(job, {**rec, "status": status, "reason": reason})


def test_a_candidate_whose_torch_jobs_all_failed_fails_the_gate_naming_them(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.02, "torch": 0.01}, seed=1)
    cand = result_set(tmp_path / "b", {"numpy": 0.02}, seed=2)
    failed_set(cand, "torch")
    assert compare_cli(tmp_path, base, cand, "--fail-above", "0.10",
                       "--fail-on-unsure") == EXIT_NOT_OK == 5
    err = capsys.readouterr().err
    assert ("nnbench.report: gate: not ok in the candidate (5 failed: RuntimeError: the kernel "
            "crashed; ok in 5 baseline rounds): moons 2x32x16x1 float32 torch cpu\n") in err
    assert "numpy" not in err  # the configuration that ran ok is no failure


def test_a_configuration_the_candidate_has_no_record_of_fails_the_gate(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.02, "torch": 0.01}, seed=1)
    cand = result_set(tmp_path / "b", {"numpy": 0.02}, seed=2)
    failed_set(cand, "textbook", status="skipped", reason="not asked for")  # another config
    assert compare_cli(tmp_path, base, cand, "--fail-above", "0.10", "--format",
                       "markdown") == EXIT_NOT_OK
    out = capsys.readouterr().out
    assert ("**1 configuration ok in the baseline did not run ok in the candidate**\n\n"
            "- not ok in the candidate (no record of it; ok in 5 baseline rounds): moons "
            "2x32x16x1 float32 torch cpu\n") in out


def test_without_a_gate_a_lost_configuration_is_said_and_exits_0(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.02, "torch": 0.01}, seed=1)
    cand = result_set(tmp_path / "b", {"numpy": 0.02}, seed=2)
    failed_set(cand, "torch", n=2, status="skipped", reason="no GPU")
    assert compare_cli(tmp_path, base, cand) == 0
    assert ("nnbench.report: warning: not ok in the candidate (2 skipped: no GPU; ok in 5 "
            "baseline rounds): moons 2x32x16x1 float32 torch cpu\n") in capsys.readouterr().err


def test_gate_options_without_a_comparison_are_refused_in_one_line(tmp_path, capsys):
    runs = result_set(tmp_path / "a", {"numpy": 0.02}, seed=1)
    for flag in (["--fail-above", "0.1"], ["--fail-on-unsure"]):
        assert report_main([str(runs), "--out", str(tmp_path / "r"), "--no-progress",
                            *flag]) == 2
        assert capsys.readouterr().err == (
            f"nnbench.report: error: {flag[0]} gates a comparison, and there is none to gate; "
            f"give it with --baseline DIR --candidate DIR (or --baseline-env A "
            f"--candidate-env B)\n")
    assert not (tmp_path / "r").exists()  # refused before any report was written
