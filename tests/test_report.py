"""The report on synthetic run trees made in tmp_path: tables, ratios, reasons, bad files."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nnbench.record import write_result
from nnbench.report.__main__ import main as report_main
from nnbench.report.collect import collect
from nnbench.report.compare import compare


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
    assert re.search(r"\|\s+2\.00x\s+\|", rows["2x32x16x1 float32"])  # 0.02 / 0.01
    assert re.search(r"\|\s+4\.00x\s+\|", rows["2x32x16x1 float64"])
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


def test_compare_flags_only_changes_beyond_the_noise(tmp_path):
    base, cand = tmp_path / "base", tmp_path / "cand"
    for folder, numpy_s, torch_s in ((base, 0.020, 0.010), (cand, 0.030, 0.0101)):
        write_result(folder / "a", record("numpy", epoch_s=numpy_s, seed=1))
        write_result(folder / "b", record("torch", epoch_s=torch_s, seed=2))
    table = compare(collect([base], progress=False), collect([cand], progress=False))
    verdicts = dict(zip(table["framework"], table["verdict"], strict=True))
    assert verdicts == {"numpy": "slower", "torch": "no significant change"}
    assert table.loc[table.framework == "numpy", "candidate/baseline"].iloc[0] == "1.500x"


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


def test_report_renders_in_headless_chromium_with_no_missing_image(tmp_path):
    import os

    from nnbench.report.browser import chromium, render

    if chromium() is None:
        if os.environ.get("NNBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("NNBENCH_REQUIRE_BROWSER=1 but Chromium is not installed")
        pytest.skip("Chromium not installed (Debian: apt-get install chromium)")
    runs = tree(tmp_path)
    report_main([str(runs), "--out", str(tmp_path / "report"), "--no-progress"])
    shot = tmp_path / "shot.png"
    assert render(tmp_path / "report" / "report.html", shot) == (4, 4)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
