"""The gate against a candidate that did not run what the baseline ran, gate options without a
comparison, and the order of a history's sets: record trees made in tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

from test_gate_and_history import compare_cli, record, result_set

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.analyse.compare import EXIT_NOT_OK


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
    assert (tmp_path / "cmp" / "compare.md").read_text().endswith(
        "\n\n- not ok in the candidate (5 failed: RuntimeError: the kernel crashed; ok in 5 "
        "baseline rounds): moons 2x32x16x1 float32 torch cpu\n")


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


# --- the order of a history's sets -------------------------------------------------------------

def timed_sets(root: Path, times: list[list[str | None]]) -> list[Path]:
    """One set per entry of ``times`` (each record's time_utc, None: none), numpy twice as
    slow from the fourth set on, and torch as it was."""
    folders = []
    for i, stamps in enumerate(times):
        folder = root / f"set{i + 1}"
        for r, stamp in enumerate(stamps):
            for framework, level in (("numpy", 0.02 * (2 if i >= 3 else 1)), ("torch", 0.01)):
                rec = record(framework, level, r, len(stamps), stamp or "", seed=10 * i + r)
                if stamp is None:
                    del rec["environment"]["time_utc"]
                job = folder / f"{framework}-{r}"
                job.mkdir(parents=True)
                write_result(job, rec)
        folders.append(folder)
    return folders


def days(first: int, n: int = 6) -> list[list[str | None]]:
    return [[f"2026-01-{first + i:02d}T0{r}:00:00Z" for r in range(3)] for i in range(n)]


def history_cli(tmp_path: Path, folders: list[Path], *extra: str) -> int:
    return report_main(["--history", *map(str, folders), "--out", str(tmp_path / "h"),
                        "--no-progress", *extra])


def test_sets_without_times_are_refused_naming_them_unless_the_order_is_given(tmp_path,
                                                                               capsys):
    folders = timed_sets(tmp_path, [[None] * 3] * 6)
    shuffled = [folders[i] for i in (5, 2, 0, 4, 1, 3)]  # typed in no particular order
    assert history_cli(tmp_path, shuffled) == 2
    err = capsys.readouterr().err
    assert err == ("nnbench.report: error: --history cannot tell the order of the sets from "
                   "their records' times (records that say no time: "
                   + ", ".join(f"{f} (6 of 6 records without a time)" for f in shuffled)
                   + "); give the folders oldest first with --history-order given\n")
    assert not (tmp_path / "h").exists()
    assert history_cli(tmp_path, folders, "--history-order", "given") == 0
    said = capsys.readouterr().out
    assert "numpy cpu s/epoch at set 4 (" in said and "set 6" not in said
    summary = (tmp_path / "h" / "summary.md").read_text()
    assert summary.startswith("# History of 6 result sets in the order given\n")
    assert re.search(r"at set 4 \(\): (1\.9\d|2\.0\d)\dx", summary), summary


def test_sets_whose_times_overlap_are_refused_naming_both(tmp_path, capsys):
    times = days(1)
    times[2] = ["2026-01-03T00:00:00Z", "2026-01-03T01:00:00Z", "2026-01-04T01:00:00Z"]
    folders = timed_sets(tmp_path, times)  # set 3's last round ran after set 4 began
    assert history_cli(tmp_path, folders[::-1]) == 2
    assert capsys.readouterr().err == (
        f"nnbench.report: error: --history cannot tell the order of the sets from their "
        f"records' times (sets whose records' times overlap: {folders[2]} (2026-01-03T00:00:00Z "
        f"to 2026-01-04T01:00:00Z) and {folders[3]} (2026-01-04T00:00:00Z to "
        f"2026-01-04T02:00:00Z)); give the folders oldest first with --history-order given\n")


def test_sets_in_any_order_on_the_command_line_are_ordered_by_their_times(tmp_path, capsys):
    folders = timed_sets(tmp_path, days(1))
    assert history_cli(tmp_path, [folders[i] for i in (3, 0, 5, 1, 4, 2)]) == 0
    said = capsys.readouterr().out
    assert f"numpy cpu s/epoch at set 4 ({folders[3]})" in said
    rows = [line.split("|")[1].strip() for line in
            (tmp_path / "h" / "summary.md").read_text().splitlines() if line.startswith("| ")
            and "set" in line.split("|")[1] and line.split("|")[1].strip()[0].isdigit()]
    assert rows[:6] == [f"{i} set{i}" for i in range(1, 7)]


def test_history_order_without_history_is_refused(tmp_path, capsys):
    runs = result_set(tmp_path / "a", {"numpy": 0.02}, seed=1)
    assert report_main([str(runs), "--out", str(tmp_path / "r"), "--no-progress",
                        "--history-order", "given"]) == 2
    assert capsys.readouterr().err == (
        "nnbench.report: error: --history-order orders the sets of a --history; give it with "
        "--history DIR DIR ...\n")
