"""The report on synthetic run trees made in tmp_path: tables, ratios, reasons, bad files."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.analyse.compare import compare
from nnbench.results.collect import collect


def record(framework, device="cpu", status="ok", precision="float32", epoch_s=0.01,
           arch="2x32x16x1", flops=1e6, reason=None, seed=0, cm=None, **extra):
    rng = np.random.default_rng(seed)
    times = list(epoch_s * (1 + 0.01 * rng.standard_normal(30)))
    rec = {
        "status": status, "reason": reason, "experiment_name": "demo", "framework": framework,
        "device": device, "precision": precision, "dataset": "moons", "arch": arch,
        "loss": "bce", "batch_size": None, "epochs": 30, "lr": 0.5, "init": "he_normal",
        "environment": {"hostname": "hostA", "time_utc": "2026-01-01T00:00:00Z"},
    }
    if status == "ok":
        rec.update({
            "warmup_epochs": 0, "epoch_times_s": [times],
            "train_time_per_epoch_s": float(np.median(times)),
            "train_time_per_epoch_stats_s": {"q1": float(np.percentile(times, 25)),
                                             "q3": float(np.percentile(times, 75))},
            "inference_latency_per_sample_s": epoch_s / 1000,
            "peak_rss_mb": 100.0 if framework == "numpy" else 400.0,
            "test_accuracy": 0.9, "train_flops_per_epoch": flops,
            "matmul_peak_gflops": 100.0, "loss_history": list(np.geomspace(1, 0.1, 30)),
            "confusion_matrix": cm or [[40, 10], [5, 45]], "classes": ["a", "b"],
        })
    rec.update(extra)
    return rec


def tree(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    jobs = [
        record("numpy", epoch_s=0.02),
        record("torch", epoch_s=0.01),
        record("numpy", precision="float64", epoch_s=0.04),
        record("torch", precision="float64", epoch_s=0.01),
        record("torch", device="cuda", status="skipped", reason="CUDA is not available here"),
        record("numpy", arch="2x8x1", status="failed", reason="ValueError: broken on purpose"),
        record("torch", arch="2x8x1", cm=[[50, 0], [50, 0]]),
        record("numpy", arch="2x8x1x", status="diverged", reason="loss became nan at epoch 3"),
    ]
    for i, rec in enumerate(jobs):
        job = runs / "demo" / f"{i}"
        (job / ".hydra").mkdir(parents=True)
        write_result(job, rec)
    (runs / "demo" / "garbage").mkdir()
    (runs / "demo" / "garbage" / "result.json").write_text("{ this is not json")
    (runs / "demo" / "killed" / ".hydra").mkdir(parents=True)  # a job that never finished
    return runs


def test_results_csv_has_one_row_per_record_and_config_columns(tmp_path):
    runs = tree(tmp_path)
    assert report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"]) == 0
    df = pd.read_csv(tmp_path / "report" / "results.csv")
    assert len(df) == 8
    assert list(df.columns[:4]) == ["status", "reason", "experiment_name", "dataset"]
    assert sorted(df["status"]) == sorted(["ok"] * 5 + ["skipped", "failed", "diverged"])
    ok = df[(df.status == "ok") & (df.framework == "numpy") & (df.precision == "float32")]
    assert ok["train_time_per_epoch_s"].iloc[0] == pytest.approx(0.02, rel=0.05)
    assert json.loads((tmp_path / "report" / "results.json").read_text())[0]["status"]


def test_summary_puts_frameworks_side_by_side_with_their_ratio(tmp_path):
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    summary = (tmp_path / "report" / "summary.md").read_text()
    time_table = summary.split("### Training time per epoch")[1].split("###")[0]
    rows = {line.split("|")[2].strip() + " " + line.split("|")[3].strip(): line
            for line in time_table.splitlines() if line.startswith("| moons")}
    # 0.02 / 0.01, one process per side: an interval over its epochs, marked as such
    assert re.search(r"\|\s+2\.00x \[1\.9\d, 2\.0\d\]‡\s+\|", rows["2x32x16x1 float32"])
    assert re.search(r"\|\s+4\.00x \[3\.9\d, 4\.0\d\]‡\s+\|", rows["2x32x16x1 float64"])
    assert "‡ 95% CI, bootstrap over the samples of one process per side" in time_table
    assert "skipped" in rows["2x32x16x1 float32"]  # torch cuda cell says why it is empty
    assert "numpy/torch cpu" in time_table.splitlines()[2]


def test_skipped_failed_unreadable_and_incomplete_are_listed_with_reasons(tmp_path):
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    summary = (tmp_path / "report" / "summary.md").read_text()
    section = summary.split("## Runs that did not end ok")[1].split("\n## ")[0]
    assert "CUDA is not available here" in section
    assert "ValueError: broken on purpose" in section
    assert "loss became nan at epoch 3" in section
    assert re.search(r"unreadable.*garbage/result\.json", section)
    assert re.search(r"incomplete.*killed", section)


def test_never_predicted_class_stands_out(tmp_path):
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    summary = (tmp_path / "report" / "summary.md").read_text()
    block = summary.split("moons 2x8x1 float32 · torch cpu")[1].split("###")[0]
    line_b = next(line for line in block.splitlines() if line.startswith("| b "))
    assert "never predicted" in line_b and "n/a" in line_b
    page = (tmp_path / "report" / "report.html").read_text()
    assert '<span class="warn">never predicted</span>' in page


def test_html_is_self_contained_with_every_figure_inline(tmp_path):
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    page = (tmp_path / "report" / "report.html").read_text()
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(sources) == 4  # summary, scaling, loss curves, confusion matrices
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "hostA" in page  # the environment of the runs


def rounds_tree(root: Path, rounds: int, numpy_s: float = 0.02, torch_s: float = 0.01,
                seed: int = 0, slow_torch_round: int | None = None,
                batch_size: int | None = None) -> Path:
    """``rounds`` records per framework, as ``bench.rounds`` leaves them: each round a fresh
    process at its own level (lognormal, 3%) with steady epochs (1%) around it."""
    rng = np.random.default_rng(seed)
    for r in range(rounds):
        for framework, level in (("numpy", numpy_s), ("torch", torch_s)):
            level *= float(np.exp(rng.normal(0, 0.03)))
            slow = framework == "torch" and r == slow_torch_round
            rec = record(framework, epoch_s=level * (3 if slow else 1), seed=int(rng.integers(1e9)),
                         round=r, rounds=rounds, batch_size=batch_size, counters_per_epoch={
                             "minor_faults": 0.1, "major_faults": 0.0, "voluntary_switches": 0.0,
                             "involuntary_switches": 25.0 if slow else 0.2,
                             "cpu_s": level, "cpu_per_wall": 1.0})
            job = root / (f"{2 * r + (framework == 'torch')}-bench.round={r},framework={framework}"
                          f",batch={batch_size}")
            (job / ".hydra").mkdir(parents=True)
            write_result(job, rec)
    return root


def test_summary_pools_rounds_with_intervals_and_their_spread(tmp_path):
    runs = rounds_tree(tmp_path / "runs", rounds=3)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    summary = (tmp_path / "report" / "summary.md").read_text()
    for title in ("### Training time per epoch (s", "### Inference latency per sample",
                  "### Peak RSS"):
        table = summary.split(title)[1].split("###")[0]
        row = next(line for line in table.splitlines() if line.startswith("| moons"))
        cells = [c.strip() for c in row.split("|")]
        # every ratio with an interval over the rounds, and the footnote saying so
        ratio = re.fullmatch(r"([\d.]+)x \[([\d.]+), ([\d.]+)\]†", cells[-2])
        assert ratio, row
        low, mid, high = float(ratio[2]), float(ratio[1]), float(ratio[3])
        assert low <= mid <= high
        assert "† 95% CI, bootstrap over rounds" in table
        # each framework's cell: the median of round medians and the rounds' range
        assert re.search(r" \(3 rounds: [\d.e-]+–[\d.e-]+\)", cells[4]), cells[4]
    time_table = summary.split("### Training time per epoch (s")[1].split("###")[0]
    ratio = float(re.search(r"([\d.]+)x \[", time_table)[1])
    assert ratio == pytest.approx(2.0, rel=0.1)
    spread = summary.split("### Training time per epoch: between rounds and within a run")[1]
    rows = [line for line in spread.split("\n\n")[1].splitlines() if line.startswith("| moons")]
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.split("|")]
        assert cells[6] == "3" and "%" in cells[9] and "%" in cells[10]  # between, within
        assert cells[-2] == "yes"
    assert "Rounds that disagree" not in summary


def test_rounds_that_disagree_are_flagged_with_their_counters(tmp_path, capsys):
    runs = rounds_tree(tmp_path / "runs", rounds=3, slow_torch_round=1)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    verdict, flag = capsys.readouterr().out.splitlines()[1:]
    assert flag == "rounds disagree: moons 2x32x16x1 float32 torch cpu (see summary.md)"
    assert verdict.endswith("; torch: rounds disagree, see the report"), verdict
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "**rounds disagree**" in summary.split("### Inference latency")[0]
    section = summary.split("#### Rounds that disagree: moons 2x32x16x1 float32")[1]
    assert "torch cpu" in section.splitlines()[0]
    rows = [line for line in section.split("\n\n")[1].splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].split("|")]
    column = header.index("involuntary switches/epoch")
    switches = {int(r.split("|")[1]): float(r.split("|")[column]) for r in rows[2:]}
    assert switches == {0: 0.2, 1: 25.0, 2: 0.2}
    page = (tmp_path / "report" / "report.html").read_text()
    assert '<span class="warn">rounds disagree</span>' in page


def test_a_flagged_configuration_is_named_as_its_table_names_it(tmp_path):
    # a full batch beside batch 64 makes pandas hold batch_size as floats: 64.0, NaN
    rounds_tree(tmp_path / "runs" / "full", rounds=3)
    rounds_tree(tmp_path / "runs" / "b64", rounds=3, slow_torch_round=1, batch_size=64)
    report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--no-progress"])
    summary = (tmp_path / "report" / "summary.md").read_text()
    headings = [line for line in summary.splitlines() if "Rounds that disagree:" in line]
    assert headings == ["#### Rounds that disagree: moons 2x32x16x1 float32 batch 64 torch cpu"]


def _verdicts(base: Path, cand: Path) -> dict[str, str]:
    table = compare(collect([base], progress=False), collect([cand], progress=False))
    return dict(zip(table["framework"], table["verdict"], strict=True))


def test_compare_over_a_a_rounds_finds_no_change_or_cannot_tell(tmp_path):
    for seed in range(5):
        base = rounds_tree(tmp_path / f"a{seed}", rounds=5, seed=seed)
        cand = rounds_tree(tmp_path / f"b{seed}", rounds=5, seed=100 + seed)
        assert _verdicts(base, cand) == {"numpy": "no significant change",
                                         "torch": "no significant change"}
    one, other = rounds_tree(tmp_path / "one", rounds=1), rounds_tree(tmp_path / "o", rounds=1)
    assert all(v.startswith("cannot tell") for v in _verdicts(one, other).values())
    two, other = rounds_tree(tmp_path / "two", rounds=2), rounds_tree(tmp_path / "t", rounds=2)
    assert all(v.startswith("cannot tell") for v in _verdicts(two, other).values())


def test_compare_over_rounds_finds_a_2x_change(tmp_path):
    base = rounds_tree(tmp_path / "base", rounds=5, seed=1)
    cand = rounds_tree(tmp_path / "cand", rounds=5, numpy_s=0.04, torch_s=0.0101, seed=2)
    assert _verdicts(base, cand) == {"numpy": "slower", "torch": "no significant change"}
    assert _verdicts(cand, base)["numpy"] == "faster"
    table = compare(collect([base], progress=False), collect([cand], progress=False))
    cell = table.loc[table.framework == "numpy", "candidate/baseline (95% CI over rounds)"]
    ratio, low, high = (float(v) for v in re.findall(r"[\d.]+", cell.iloc[0]))
    assert ratio == pytest.approx(2.0, rel=0.1) and low > 1.5 and high < 2.5
    assert table["rounds"].tolist() == ["5/5", "5/5"]


def test_missing_folder_is_one_line_error(tmp_path, capsys):
    assert report_main([str(tmp_path / "nope"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such folder" in err


def test_a_thousand_results_are_all_read(tmp_path):
    runs = tmp_path / "many"
    rec = record("numpy")
    for i in range(1000):
        write_result(runs / f"{i}", rec)
    collection = collect([runs], progress=False)
    assert len(collection.records) == 1000 and not collection.unreadable


def _signals_here(path, keep_lists):  # a reader that says what a reading worker does on signals
    return signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), os.getpid()


def test_the_readers_of_many_records_do_not_run_the_commands_signal_handlers(monkeypatch):
    """The command's SIGTERM handler (a sweep's or a report's) ends it with a message; the
    processes that read many records in parallel are sent SIGTERM when the reading is done
    and must end quietly instead (a sweep of 64 jobs ended with a worker's traceback), and
    leave Ctrl-C to the command."""
    import nnbench.results.collect as collect_module

    def command_handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, command_handler)
    try:
        monkeypatch.setattr(collect_module, "_read", _signals_here)
        monkeypatch.setattr(collect_module, "can_fork", lambda: True)  # on one core too
        seen = list(collect_module._read_all([Path(str(i)) for i in range(80)], False))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert len(seen) == 80 and {pid for _, _, pid in seen} - {os.getpid()}  # other processes
    assert {(term, intr) for term, intr, _ in seen} == {(signal.SIG_DFL, signal.SIG_IGN)}


def test_report_renders_in_headless_chromium_with_no_missing_image(tmp_path):
    import os

    from nnbench.report.render.browser import chromium, render

    if chromium() is None:
        if os.environ.get("NNBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("NNBENCH_REQUIRE_BROWSER=1 but Chromium is not installed")
        pytest.skip("Chromium not installed (Debian: apt-get install chromium)")
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    shot = tmp_path / "shot.png"
    assert render(tmp_path / "report" / "report.html", shot) == (4, 4)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the IHDR chunk
    return width, height


def test_a_screenshot_of_the_report_is_the_whole_page_up_to_a_cap(tmp_path, monkeypatch):
    """The page says how tall it is laid out; the screenshot is that tall (it was cut at a
    fixed 4,000 px, half of a report of two configurations), or ``MAX_HEIGHT`` where taller."""
    from nnbench.report.render import browser

    if browser.chromium() is None:
        if os.environ.get("NNBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("NNBENCH_REQUIRE_BROWSER=1 but Chromium is not installed")
        pytest.skip("Chromium not installed (Debian: apt-get install chromium)")
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    page, shot = tmp_path / "report" / "report.html", tmp_path / "shot.png"
    loaded, total, tall = browser.measure(page)
    assert (loaded, total) == (4, 4) and 4000 < tall < browser.MAX_HEIGHT
    assert browser.render(page, shot) == (4, 4) and _png_size(shot) == (1280, tall)
    monkeypatch.setattr(browser, "MAX_HEIGHT", 2000)
    browser.render(page, shot, width=1000)
    assert _png_size(shot) == (1000, 2000)


def test_configurations_that_differ_only_in_epochs_are_told_apart_in_every_label(tmp_path):
    from nnbench.results.labels import LABELLED, label, varying

    recs = [record(fw, epochs=n, seed=i) for i, (fw, n) in
            enumerate([("numpy", 50), ("torch", 50), ("numpy", 100), ("torch", 100)])]
    for i, rec in enumerate(recs):
        write_result(tmp_path / "runs" / str(i), rec)
    report_main([str(tmp_path / "runs"), "--out", str(tmp_path / "report"), "--no-progress"])
    summary = (tmp_path / "report" / "summary.md").read_text()
    headings = [line for line in summary.splitlines() if line.startswith("### demo ·")]
    assert sorted(headings) == sorted(f"### demo · moons 2x32x16x1 float32 epochs {n} · {fw} cpu"
                                      for fw in ("numpy", "torch") for n in (50, 100))
    extra = varying(recs, LABELLED)
    assert extra == ["epochs"]
    assert label(recs[0], extra=extra).splitlines()[-1] == "epochs 50"
    assert varying(recs[:2], LABELLED) == []  # one configuration: labels stay as they were
    # a key that differs only where the labels differ anyway is not added
    other = [record("numpy", arch="784x10x10", loss="cross_entropy"), record("numpy")]
    assert varying(other, LABELLED) == []
