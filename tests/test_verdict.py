"""The answer in words: the rule that names a faster framework, the pairs said, the order of
configurations, and where the sentences show (summary.md, report.html, the console)."""

from __future__ import annotations

import math
import re

import pytest
from test_identity import _sweep, _write

from nnbench.report.__main__ import main as report_main
from nnbench.results.labels import order_value
from nnbench.results.verdict import SAME, UNSURE, Verdict, pairs_of

ON = "moons 2x32x16x1, float32, full batch, cpu"


def _verdict(ratio: float, lo: float, hi: float) -> Verdict:
    return Verdict("numpy", "torch", ON, ratio=ratio, lo=lo, hi=hi, mark="†", a_median=1e-4,
                   b_median=1e-4 / ratio, a_rounds=5, b_rounds=5)


def test_a_framework_is_faster_only_where_the_whole_interval_lies_on_one_side_of_1():
    quick = _verdict(0.35, 0.33, 0.37)
    assert quick.faster == "numpy"
    assert quick.sentence() == f"numpy is 2.86x faster than torch [2.70, 3.03] on {ON}"
    slow = _verdict(2.9, 2.7, 3.1)
    assert slow.sentence() == f"torch is 2.90x faster than numpy [2.70, 3.10] on {ON}"
    same = _verdict(0.98, 0.9, 1.05)
    assert same.kind == SAME and same.faster is None
    assert same.sentence() == (f"no clear difference between numpy and torch on {ON}: their "
                               f"ratio's interval holds 1, numpy/torch time 0.980x "
                               f"[0.900, 1.05]")
    # an interval clear of 1 by less than the smallest effect called one: no answer either
    close = _verdict(0.99, 0.985, 0.995)
    assert close.kind == SAME and "within 2% of each other" in close.sentence()
    bare = _verdict(0.5, math.nan, math.nan)
    assert bare.kind == UNSURE and bare.faster is None
    assert bare.sentence().startswith("cannot tell numpy from torch on ")


def test_the_line_says_both_medians_and_what_the_interval_rests_on():
    line = _verdict(0.35, 0.33, 0.37).line()
    assert line.endswith("(numpy 0.1 ms, torch 0.286 ms per epoch; 95% CI over 5 vs 5 rounds of "
                         "fresh processes)"), line
    assert _verdict(0.35, 0.33, 0.37).as_dict()["faster"] == "numpy"


def test_three_frameworks_give_three_pairs_or_each_against_a_chosen_baseline():
    present = {"textbook", "torch", "numpy"}
    assert pairs_of(present) == [("numpy", "torch"), ("numpy", "textbook"),
                                 ("torch", "textbook")]
    assert pairs_of(present, baseline="torch") == [("numpy", "torch"), ("textbook", "torch")]
    assert pairs_of(present, pair=("textbook", "numpy")) == [("textbook", "numpy")]
    assert pairs_of({"numpy"}) == [] and pairs_of(present, baseline="jax") == []


def test_architectures_sort_by_their_sizes_not_as_text():
    archs = ["2x1024x1", "2x64x1", "2x256x1", "784x64x10"]
    assert sorted(archs, key=order_value) == ["2x64x1", "2x256x1", "2x1024x1", "784x64x10"]
    assert sorted([None, 128, 16], key=order_value) == [16, 128, None]  # full batch last
    assert sorted(["threads 10", "threads 2"], key=order_value) == ["threads 2", "threads 10"]


def _three(folder):
    recs = _sweep(folder, 3, 0.002, 0.001)
    textbook = [{**r, "framework": "textbook"} for r in _sweep(folder / "t", 3, 0.001, 0.001)
                if r["framework"] == "torch"]
    _write(folder, recs + textbook)


def test_a_report_opens_on_a_sentence_per_pair_and_prints_them(tmp_path, capsys):
    runs = tmp_path / "runs"
    _three(runs)
    assert report_main([str(runs), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("demo: ")]
    assert len(printed) == 3, printed
    faster = re.match(r"demo: torch is ([\d.]+)x faster than numpy \[", printed[0])
    assert faster and float(faster[1]) == pytest.approx(2.0, rel=0.03), printed
    summary = (tmp_path / "r" / "summary.md").read_text()
    top = summary.split("## The answer: which trains faster")[1].split("\n## ")[0]
    assert [ln[2:] for ln in top.splitlines() if ln.startswith("- ")] == \
        [p.removeprefix("demo: ") for p in printed]
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.index("The answer: which trains faster") < page.index("<h2>Figures</h2>")
    assert report_main([str(runs), "--out", str(tmp_path / "b"), "--no-progress",
                        "--baseline-framework", "textbook"]) == 0
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("demo: ")]
    assert len(printed) == 2 and all("textbook" in ln for ln in printed), printed


def test_many_configurations_give_a_tally_first_and_the_console_stops_there(tmp_path, capsys):
    runs = tmp_path / "runs"
    recs = []
    for threads in range(1, 11):
        recs += _sweep(runs / str(threads), 2, 0.002, 0.001, threads=threads)
    _write(runs, recs)
    assert report_main([str(runs), "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("demo: ")]
    assert printed == ["demo: numpy against torch over 10 configurations: "
                       + printed[0].split("configurations: ")[1],
                       "demo: every configuration's verdict: summary.md"], printed
    assert "torch faster in 10 (" in printed[0]
    summary = (tmp_path / "r" / "summary.md").read_text()
    # in numeric order: threads 2 before threads 10
    assert summary.index("threads 2, cpu") < summary.index("threads 10, cpu")


def test_a_tally_of_configurations_that_cannot_tell_says_why_once():
    from nnbench.report.render.answer import tally

    busy = [Verdict("numpy", "torch", f"moons 2x{w}x1, cpu", unsure="host busy (others used "
                    "1.7 of 2 cores while this job ran (2 threads)); rerun with fewer threads")
            for w in range(8, 108)]
    quiet = _verdict(0.35, 0.33, 0.37)
    (line,) = tally([*busy, quiet, _verdict(0.5, math.nan, math.nan)])
    assert line == ("numpy against torch over 102 configurations: numpy faster in 1 (2.86x to "
                    "2.86x), cannot tell in 101 (host busy: 100; no interval: 1)"), line
