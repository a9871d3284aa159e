"""The report against bad input and bad places to write: records that are wrong or cut short,
an --out that cannot take a report or holds an earlier one, a comparison with nothing on one
side."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main

FULL = {"results.csv", "results.json", "summary.md", "report.html", "comparison_summary.png",
        "scaling.png", "loss_curves.png", "confusion_matrices.png"}


def ok_record(framework: str, epoch_s: float, seed: int = 0, **extra) -> dict:
    times = list(epoch_s * (1 + 0.01 * np.random.default_rng(seed).standard_normal(20)))
    return {
        "status": "ok", "experiment_name": "demo", "framework": framework, "device": "cpu",
        "precision": "float32", "dataset": "moons", "arch": "2x32x16x1", "loss": "bce",
        "batch_size": None, "epochs": 20, "lr": 0.5, "init": "he_normal", "warmup_epochs": 0,
        "epoch_times_s": [times], "train_time_per_epoch_s": float(np.median(times)),
        "inference_latency_per_sample_s": epoch_s / 1000, "peak_rss_mb": 100.0,
        "test_accuracy": 0.9, "train_flops_per_epoch": 1e6, "matmul_peak_gflops": 100.0,
        "loss_history": list(np.geomspace(1, 0.1, 20)), "confusion_matrix": [[40, 10], [5, 45]],
        "classes": ["a", "b"], "environment": {"hostname": "hostA"}, **extra}


def good_tree(root: Path, numpy_s: float = 0.02) -> Path:
    write_result(root / "numpy", ok_record("numpy", numpy_s, seed=1))
    write_result(root / "torch", ok_record("torch", 0.01, seed=2))
    return root


# A record of each kind of damage: (the file's text, what the report must say about it).
whole = json.dumps(ok_record("numpy", 0.02))
BAD = {
    "wrong type": (json.dumps(ok_record("numpy", 0.02, lr="fast")), "lr: Input should be a "
                                                                    "valid number"),
    "wrong shape": (json.dumps(ok_record("numpy", 0.02, epoch_times_s=[0.1, 0.2])),
                    "epoch_times_s.0: Input should be a valid list"),
    "nested wrong type": (json.dumps(ok_record("numpy", 0.02, environment="hostA")),
                          "environment: Input should be a valid dictionary"),
    "not an object": (json.dumps([ok_record("numpy", 0.02)]),
                      "not a result record (a JSON list, not an object)"),
    "unknown status": (json.dumps(ok_record("numpy", 0.02, status="great")), "status: Input "
                                                                             "should be 'ok'"),
    "truncated": (whole[: len(whole) // 2], "JSONDecodeError"),
    "empty": ("", "JSONDecodeError: Expecting value: line 1 column 1"),
}


def test_bad_records_are_each_listed_with_field_and_reason_and_the_report_comes_out(tmp_path,
                                                                                   capsys):
    runs = good_tree(tmp_path / "runs")
    for name, (text, _) in BAD.items():
        folder = runs / name.replace(" ", "_")
        folder.mkdir()
        (folder / "result.json").write_text(text)
    out = tmp_path / "report"
    assert report_main([str(runs), "--out", str(out), "--no-progress"]) == 0
    assert {p.name for p in out.iterdir()} == FULL
    err = capsys.readouterr().err.splitlines()
    summary = (out / "summary.md").read_text()
    page = (out / "report.html").read_text()
    for name, (_, reason) in BAD.items():
        path = str(runs / name.replace(" ", "_") / "result.json")
        (line,) = [ln for ln in err if f" {path}: " in ln]
        assert line.startswith(("invalid: ", "unreadable: ")) and reason in line, line
        (row,) = [ln for ln in summary.splitlines() if path in ln]
        assert reason in row, row
        assert path in page
    assert "2 result records: 2 ok" in summary


# --- --out: written whole, or not at all ---------------------------------------------------


def test_a_report_into_an_earlier_ones_folder_replaces_it_whole(tmp_path):
    runs = good_tree(tmp_path / "runs")
    out = tmp_path / "report"
    assert report_main([str(runs), "--out", str(out), "--no-progress"]) == 0
    assert {p.name for p in out.iterdir()} == FULL
    assert report_main([str(runs), "--out", str(out), "--no-progress", "--small"]) == 0
    # no results.json or report.html of the earlier full report beside the new files
    assert {p.name for p in out.iterdir()} == FULL - {"results.json", "report.html"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".nnbench-tmp")] == []


def test_a_report_that_fails_halfway_leaves_the_earlier_one_as_it_was(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "report"
    assert report_main([str(good_tree(tmp_path / "before")), "--out", str(out),
                        "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from nnbench.report.render import html

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(html, "render", disk_full)  # results.csv and the figures are written
    capsys.readouterr()
    after = good_tree(tmp_path / "after", numpy_s=0.05)
    assert report_main([str(after), "--out", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == \
        f"nnbench.report: error: --out {out} not written: No space left on device"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".nnbench-tmp")] == []


def _cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The command's exit status and output: its ``main`` in this process (what ``python -m
    nnbench.report`` runs, without a second interpreter's start and imports, ~1 s), or with
    ``prefix`` (another user's permissions) in a process of its own."""
    if prefix:
        return run_cli(*args, "--no-progress", module="nnbench.report", prefix=prefix)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = report_main([*args, "--no-progress"])
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code
    return subprocess.CompletedProcess(["nnbench.report", *args], code, out.getvalue(),
                                       err.getvalue())


OUT_CASES = {
    "a file": ("{tmp}/a-file", "--out {tmp}/a-file is a file, not a folder"),
    "under a file": ("{tmp}/a-file/report",
                     "--out {tmp}/a-file/report cannot be written: {tmp}/a-file is a file, "
                     "not a folder"),
    "under /proc": ("/proc/nnbench-report", "--out /proc/nnbench-report cannot be written: "
                                            "/proc is on a proc file system"),
    "a folder of other things": ("{tmp}/runs", "--out {tmp}/runs holds files that are not a "
                                               "report's (e.g. numpy)"),
}


@pytest.mark.parametrize("case", OUT_CASES, ids=list(OUT_CASES))
def test_an_out_that_cannot_take_a_report_is_one_line_and_exit_2(tmp_path, case):
    runs = good_tree(tmp_path / "runs")
    (tmp_path / "a-file").write_text("keep me\n")
    out, expected = (s.format(tmp=tmp_path) for s in OUT_CASES[case])
    proc = _cli(str(runs), "--out", out)
    assert proc.returncode == 2 and not proc.stdout
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"nnbench.report: error: {expected}"), line
    assert (tmp_path / "a-file").read_text() == "keep me\n"
    assert sorted(p.name for p in runs.iterdir()) == ["numpy", "torch"]  # nothing deleted


def test_an_out_in_a_read_only_folder_is_one_line_and_exit_2(tmp_path):
    runs = good_tree(tmp_path / "runs")
    locked = tmp_path / "locked"
    locked.mkdir()
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        prefix = (setpriv, "--inh-caps=-all",
                  "--bounding-set=-dac_override,-dac_read_search,-fowner")
    locked.chmod(0o555)
    try:
        proc = _cli(str(runs), "--out", str(locked / "report"), prefix=prefix)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 2 and not proc.stdout
    assert proc.stderr == (f"nnbench.report: error: --out {locked / 'report'} cannot be "
                           f"written: {locked} is not writable (permission denied for this "
                           f"user)\n")
    assert list(locked.iterdir()) == []


# --- comparisons -----------------------------------------------------------------------------


@pytest.mark.parametrize("empty_side", ["--baseline", "--candidate"])
def test_a_comparison_with_no_ok_record_on_one_side_exits_non_zero_naming_it(tmp_path,
                                                                            empty_side):
    full = good_tree(tmp_path / "full")
    empty = tmp_path / "empty"
    write_result(empty / "a", {"status": "failed", "reason": "broken", "framework": "numpy"})
    sides = {"--baseline": full, "--candidate": full, empty_side: empty}
    out = tmp_path / "compare"
    proc = _cli("--baseline", str(sides["--baseline"]), "--candidate", str(sides["--candidate"]),
                "--out", str(out))
    assert proc.returncode == 2 and not proc.stdout
    assert proc.stderr == (f"nnbench.report: error: nothing to compare: {empty_side} {empty} "
                           f"has no ok record (1 failed)\n")
    assert not out.exists()


def test_a_comparison_writes_its_own_folder(tmp_path):
    base, cand = good_tree(tmp_path / "base"), good_tree(tmp_path / "cand", numpy_s=0.03)
    out = tmp_path / "compare"
    assert report_main(["--baseline", str(base), "--candidate", str(cand), "--out", str(out),
                        "--no-progress"]) == 0
    assert [p.name for p in out.iterdir()] == ["compare.md"]
    # one record (one round) a side: the verdict rests on rounds, and there are too few
    assert "cannot tell: 1 vs 1 rounds" in (out / "compare.md").read_text()


def test_two_sides_with_no_configuration_in_common_exit_non_zero_saying_what_differs(tmp_path):
    base = tmp_path / "base"
    write_result(base / "numpy", ok_record("numpy", 0.02, epochs=200))
    cand = tmp_path / "cand"
    write_result(cand / "numpy", ok_record("numpy", 0.02, epochs=100))
    out = tmp_path / "compare"
    proc = _cli("--baseline", str(base), "--candidate", str(cand), "--out", str(out))
    assert proc.returncode == 2 and not proc.stdout
    assert proc.stderr == ("nnbench.report: error: nothing to compare: no configuration ran ok "
                           "on both sides (epochs: baseline 200; candidate 100)\n")
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["--alpha", "0"], "--alpha 0 is not a p-value level; allowed: between 0 and 1, e.g. 0.01"),
    (["--alpha", "2"], "--alpha 2 is not a p-value level; allowed: between 0 and 1, e.g. 0.01"),
    (["--min-change", "-1"], "--min-change -1 is not a fraction of a change; allowed: 0 (any "
                             "change) up to below 1, e.g. 0.1 for 10%"),
])
def test_statistical_settings_out_of_range_are_refused_in_one_line(tmp_path, args, expected):
    base = good_tree(tmp_path / "base")
    out = tmp_path / "compare"
    proc = _cli("--baseline", str(base), "--candidate", str(base), "--out", str(out), *args)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"nnbench.report: error: {expected}\n"
    assert not out.exists()


def test_a_pair_naming_a_framework_without_records_is_said(tmp_path):
    runs = good_tree(tmp_path / "runs")
    proc = _cli(str(runs), "--out", str(tmp_path / "report"), "--pair", "numpy,jax")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("nnbench.report: warning: --pair numpy,jax: no ok record of jax, so "
                           "no ratio; ran ok: numpy, torch\n")


def test_a_folder_without_any_run_is_refused_and_an_earlier_report_stays(tmp_path):
    out = tmp_path / "report"
    assert report_main([str(good_tree(tmp_path / "runs")), "--out", str(out),
                        "--no-progress"]) == 0
    before = sorted(p.name for p in out.iterdir())
    (tmp_path / "nothing").mkdir()
    proc = _cli(str(tmp_path / "nothing"), "--out", str(out))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (f"nnbench.report: error: nothing to report: no result.json and no "
                           f"job folder under {tmp_path / 'nothing'}\n")
    assert sorted(p.name for p in out.iterdir()) == before


def test_the_console_comparison_says_shared_keys_once_and_compare_md_keeps_every_column(tmp_path):
    base, cand = good_tree(tmp_path / "base"), good_tree(tmp_path / "cand", numpy_s=0.03)
    out = tmp_path / "compare"
    proc = _cli("--baseline", str(base), "--candidate", str(cand), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("every row: dataset moons, arch 2x32x16x1, precision float32, loss bce, "
                        "batch_size full, epochs 20, lr 0.5, init he_normal, device cpu")
    assert lines[1].split("|")[1].strip() == "framework" and "note" not in lines[1]
    assert lines[-1] == f"-> {out / 'compare.md'} (every column)"
    assert (out / "compare.md").read_text().splitlines()[0].split("|")[1].strip() == "dataset"
