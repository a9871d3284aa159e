"""A command per mode of ``python -m nnbench.report`` (``compare``, ``history``), and the flags
that chose the mode before (``--baseline``/``--candidate``, ``--history``), which must keep
doing exactly what they did: both spellings print the same and write the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_gate_and_history import history_sets, result_set

from nnbench.report.__main__ import main as report_main


def said(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = report_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_and_the_baseline_flags_print_and_write_the_same(tmp_path, capsys):
    base = result_set(tmp_path / "a", {"numpy": 0.02, "torch": 0.01}, seed=1)
    slow = result_set(tmp_path / "b", {"numpy": 0.04, "torch": 0.01}, seed=2, torch="2.14.1")
    out = tmp_path / "cmp"
    common = ["--out", str(out), "--no-progress", "--fail-above", "0.1", "--equivalence", "0.05"]
    spellings = [["--baseline", str(base), "--candidate", str(slow), *common],
                 ["compare", "--baseline", str(base), "--candidate", str(slow), *common],
                 ["compare", str(base), str(slow), *common]]
    results = []
    for argv in spellings:
        results.append((*said(capsys, argv), (out / "compare.md").read_text()))
    assert results[0][0] == 3  # the gate: numpy twice as slow
    assert results[1] == results[0] and results[2] == results[0]


def test_history_and_the_history_flag_print_and_write_the_same(tmp_path, capsys):
    folders = [str(f) for f in history_sets(tmp_path / "runs", step_at=4)]
    out = tmp_path / "history"
    results = []
    for argv in (["--history", *folders], ["history", *folders]):
        results.append((*said(capsys, [*argv, "--out", str(out), "--no-progress"]),
                        (out / "summary.md").read_text()))
    assert results[0][0] == 0 and "at set 4" in results[0][1]
    assert results[1] == results[0]
    flag = said(capsys, ["--history", *folders, "--history-order", "given", "--format",
                         "markdown", "--out", str(out)])
    assert said(capsys, ["history", "--history-order", "given", *folders, "--format",
                         "markdown", "--out", str(out)]) == flag


@pytest.mark.parametrize(("argv", "message"), [
    (["history"], "history needs its result sets: python -m nnbench.report history DIR DIR ..."),
    (["history", "a", "--history", "b", "c"],
     "history takes its sets as folders (history A B ...), not --history"),
    (["history", "a", "b", "--baseline", "c", "--candidate", "d"],
     "history and a comparison go separately: one history or one comparison"),
    (["compare", "a"], "compare needs two sides: compare BASELINE CANDIDATE, --baseline DIR "
                       "--candidate DIR, or --baseline-env A --candidate-env B"),
    (["compare", "a", "b", "--history", "c", "d"],
     "compare and --history go separately: one history or one comparison"),
])
def test_a_command_without_what_it_needs_is_a_one_line_error(capsys, argv, message):
    assert said(capsys, argv) == (2, "", f"nnbench.report: error: {message}\n")


def test_a_missing_folder_is_named_as_with_the_flags(tmp_path, capsys):
    gone = str(tmp_path / "gone")
    assert said(capsys, ["compare", gone, str(tmp_path)]) == \
        said(capsys, ["--baseline", gone, "--candidate", str(tmp_path)]) == \
        (2, "", f"nnbench.report: error: no such folder: {Path(gone)}\n")
